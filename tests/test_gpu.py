"""CuPy gives the same numbers as NumPy for every family (array part), on real records; and
training runs on CUDA with mixed precision.

Polars-free on purpose: the lent GPU machines have CuPy and torch but not polars, so this file
(with wfdb) is what runs there: `python3 -m pytest -m gpu tests/test_gpu.py`. It skips without a GPU.
"""

import numpy as np
import pytest

from benchmarks.beat_arrays import beat_task_data, beat_views, read_beats
from feature_store.backend import cupy_backend, numpy_backend
from feature_store.config import IngestConfig
from feature_store.sources.annotated import AnnotatedBeatSource
from feature_store.sources.base import RecordRef
from feature_store.sources.challenge import ChallengeSource
from feature_store.tasks import TASKS
from feature_store.views.compute import array_features, lead_stats
from feature_store.views.families import FAMILIES
from tests.records import CINC, MITDB, copy_record

pytestmark = pytest.mark.gpu
CASES = [(task, family) for task in ("beats", "records") for family in FAMILIES]


@pytest.fixture(scope="module")
def gpu():
    try:
        return cupy_backend()
    except RuntimeError as err:
        pytest.skip(f"no usable GPU: {err}")


def _beat_windows(record: str, cfg: IngestConfig) -> np.ndarray:
    beats = AnnotatedBeatSource().load(RecordRef("annotated", MITDB / record, MITDB), cfg).beats
    assert beats is not None  # MIT-BIH records are beat-annotated
    return beats.windows


@pytest.fixture(scope="module")
def arrays(gpu):
    cfg = IngestConfig()
    beats = np.concatenate([_beat_windows(r, cfg) for r in ("208", "232")])
    records = np.stack(
        [
            ChallengeSource().load(RecordRef("challenge", CINC / f"HR0600{i}", CINC), cfg).record.signal
            for i in range(10)
        ]
    )
    return {"beats": (beats, 360.0, cfg.beat_span()), "records": (records, 100.0, None)}


@pytest.mark.parametrize("task,family", CASES)
def test_cupy_matches_numpy(arrays, gpu, task, family):
    signal, fs, crop = arrays[task]
    params = TASKS[task].view_params[family]
    stats = lead_stats(signal, fs=fs, pre=params.preprocess, backend=numpy_backend())
    gpu_stats = lead_stats(signal, fs=fs, pre=params.preprocess, backend=gpu)
    np.testing.assert_allclose(gpu_stats["mean"], stats["mean"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gpu_stats["std"], stats["std"], rtol=1e-4)
    run = dict(fs=fs, params=params, stats=stats, crop=crop)
    on_cpu = array_features(FAMILIES[family], signal, backend=numpy_backend(), **run)
    on_gpu = array_features(FAMILIES[family], signal, backend=gpu, **run)
    assert on_cpu.keys() == on_gpu.keys()
    for column, expected in on_cpu.items():
        np.testing.assert_allclose(on_gpu[column], expected, rtol=1e-4, atol=1e-4, err_msg=column)


# -- training on CUDA (AMP, device moves): the path the CPU suite cannot reach -------------------


@pytest.fixture(scope="module")
def cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA GPU")
    return torch.device("cuda")


@pytest.fixture(scope="module")
def beat_task(cuda, tmp_path_factory):
    """Real beats of 209 and 220 (DS1) and 232 (DS2), with the three views computed as ingest would."""
    src = tmp_path_factory.mktemp("beats")
    for record in ("209", "220", "232"):
        copy_record(MITDB / record, src)
    beats = read_beats(src)
    return beat_task_data(beats, beat_views(beats, numpy_backend())[0])


@pytest.mark.parametrize("variant", ["time", "intermediate_gated"])
def test_training_runs_on_cuda_with_amp(cuda, beat_task, variant):
    import torch

    from ecgnet.config import ModelConfig, TrainConfig
    from ecgnet.fusion import build
    from ecgnet.train import predict_probs, seed_everything, staged, tensors, train
    from ecgnet.variants import VARIANTS

    x, y = staged(tensors(beat_task.train), torch.from_numpy(beat_task.train.y), cuda)
    assert y.is_cuda and all(v.is_cuda for inp in x.values() for v in inp.values())  # a few MB: staged
    seed_everything(0)
    model = build(
        VARIANTS[variant],
        beat_task,
        ModelConfig(embed_dim=16, channels=4, scalar_dim=8, heads=2, layers=1, fusion_hidden=16),
    )
    result = train(model, beat_task, TrainConfig(epochs=3, batch_size=256, device="cuda", amp=True))
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 3 and np.isfinite(losses).all() and losses[-1] < losses[0]
    assert next(result.model.parameters()).device.type == "cpu"  # handed back ready to export
    on_cpu = predict_probs(result.model, beat_task.test, False)
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # compare full float32 convolutions with the CPU's
    try:
        on_gpu = predict_probs(result.model.to(cuda), beat_task.test, False, device=cuda)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-4)
