"""CuPy gives the same numbers as NumPy for every family (array part), on real records; and
training runs on CUDA with mixed precision.

Polars-free on purpose: the lent GPU machines have CuPy and torch but not polars, so this file
(with wfdb) is what runs there: `python3 -m pytest -m gpu tests/test_gpu.py`. It skips without a GPU.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from ecgnet.data import Split, TaskData, modality_inputs
from feature_store.backend import cupy_backend, numpy_backend
from feature_store.config import IngestConfig
from feature_store.sources.annotated import AnnotatedBeatSource
from feature_store.sources.base import RecordRef
from feature_store.sources.challenge import ChallengeSource
from feature_store.tasks import BEATS, TASKS
from feature_store.transforms.rhythm import beat_rr_features
from feature_store.views.compute import array_features, lead_stats
from feature_store.views.families import FAMILIES
from tests.records import CINC, MITDB

pytestmark = pytest.mark.gpu
CASES = [(task, family) for task in ("beats", "records") for family in FAMILIES]


@pytest.fixture(scope="module")
def gpu():
    try:
        return cupy_backend()
    except RuntimeError as err:
        pytest.skip(f"no usable GPU: {err}")


@pytest.fixture(scope="module")
def arrays(gpu):
    cfg = IngestConfig()
    beats = np.concatenate(
        [
            AnnotatedBeatSource().load(RecordRef("annotated", MITDB / r, MITDB), cfg).beats.windows
            for r in ("208", "232")
        ]
    )
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


def beat_split(records: tuple[str, ...], rows: int, stats: dict | None = None) -> tuple[Split, dict]:
    """A Split of `rows` real beats from `records`, with the three views computed as ingest would."""
    cfg = IngestConfig()
    loaded = [AnnotatedBeatSource().load(RecordRef("annotated", MITDB / r, MITDB), cfg).beats for r in records]
    keep = np.sort(np.random.default_rng(0).choice(sum(len(b.r_peak) for b in loaded), rows, replace=False))
    take = lambda arrays: np.concatenate(arrays)[keep]  # noqa: E731
    record_id = take([np.full(len(b.r_peak), r) for r, b in zip(records, loaded)])
    windows, labels = take([b.windows for b in loaded]), take([b.label for b in loaded])
    fs, crop = 360.0, cfg.beat_span()
    stats = stats or lead_stats(
        windows, fs=fs, pre=TASKS["beats"].view_params["time"].preprocess, backend=numpy_backend()
    )
    views = {
        f"beats_{family}": array_features(
            FAMILIES[family],
            windows,
            fs=fs,
            crop=crop,
            stats=stats,
            params=TASKS["beats"].view_params[family],
            backend=numpy_backend(),
        )
        for family in FAMILIES
    }
    views["beats_time"]["rhythm"] = beat_rr_features(
        record_id,
        take([b.r_peak for b in loaded]),
        take([b.rr_prev_s for b in loaded]),
        take([b.rr_next_s for b in loaded]),
    )
    ids = np.arange(rows)
    x = modality_inputs(SimpleNamespace(ids=ids, features=views), "beats")
    y = np.array([BEATS.classes.index(label) for label in labels])
    return Split(x, y, ids, record_id), stats


@pytest.fixture(scope="module")
def cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA GPU")
    return torch.device("cuda")


@pytest.fixture(scope="module")
def beat_task(cuda):
    train_split, stats = beat_split(("209",), 600)  # DS1
    val_split, _ = beat_split(("220",), 300, stats)  # DS1, another patient
    test_split, _ = beat_split(("232",), 300, stats)  # DS2
    return TaskData(BEATS, train_split, val_split, test_split, {})


@pytest.mark.parametrize("variant", ["time", "intermediate_gated"])
def test_training_runs_on_cuda_with_amp(cuda, beat_task, variant):
    import torch

    from ecgnet.fusion import VARIANTS, build
    from ecgnet.models import ModelConfig
    from ecgnet.train import TrainConfig, predict_probs, seed_everything, staged, tensors, train

    x, y = staged(tensors(beat_task.train), torch.from_numpy(beat_task.train.y), cuda)
    assert y.is_cuda and all(v.is_cuda for inp in x.values() for v in inp.values())  # a few MB: staged
    seed_everything(0)
    model = build(
        VARIANTS[variant],
        beat_task,
        ModelConfig(embed_dim=16, channels=4, scalar_dim=8, heads=2, layers=1, fusion_hidden=16),
    )
    result = train(model, beat_task, TrainConfig(epochs=3, batch_size=64, device="cuda", amp=True))
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
