"""CuPy gives the same numbers as NumPy for every family (device part), on real records.

Polars-free on purpose: the lent GPU machines have CuPy but not polars, so this file (with wfdb)
is what runs there: `python3 -m pytest -m gpu tests/test_gpu.py`. It skips without a GPU.
"""

import numpy as np
import pytest

from feature_store.backend import cupy_backend, numpy_backend
from feature_store.config import IngestConfig
from feature_store.sources.annotated import AnnotatedBeatSource
from feature_store.sources.base import RecordRef
from feature_store.sources.challenge import ChallengeSource
from feature_store.views.compute import device_features, lead_stats
from feature_store.views.families import DEFAULT_PARAMS, FAMILIES
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
    beats = np.concatenate([AnnotatedBeatSource().load(RecordRef("annotated", MITDB / r, MITDB), cfg).beats.windows
                            for r in ("208", "232")])
    records = np.stack([ChallengeSource().load(RecordRef("challenge", CINC / f"HR0600{i}", CINC), cfg).record.signal
                        for i in range(10)])
    return {"beats": (beats, 360.0, cfg.beat_span()), "records": (records, 100.0, None)}


@pytest.mark.parametrize("task,family", CASES)
def test_cupy_matches_numpy(arrays, gpu, task, family):
    signal, fs, crop = arrays[task]
    params = DEFAULT_PARAMS[(task, family)]
    stats = lead_stats(signal, fs=fs, pre=params.preprocess, backend=numpy_backend())
    gpu_stats = lead_stats(signal, fs=fs, pre=params.preprocess, backend=gpu)
    np.testing.assert_allclose(gpu_stats["mean"], stats["mean"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gpu_stats["std"], stats["std"], rtol=1e-4)
    run = dict(fs=fs, params=params, stats=stats, crop=crop)
    on_cpu = device_features(FAMILIES[family], signal, backend=numpy_backend(), **run)
    on_gpu = device_features(FAMILIES[family], signal, backend=gpu, **run)
    assert on_cpu.keys() == on_gpu.keys()
    for column, expected in on_cpu.items():
        np.testing.assert_allclose(on_gpu[column], expected, rtol=1e-4, atol=1e-4, err_msg=column)
