import os
from pathlib import Path

import pytest

from feature_store.config import IngestConfig

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files marked `heavy` first, each file's tests kept together and in their order (a stable sort).
    `make test` deals whole files to two workers in this order (pytest-xdist's loadfile with
    --no-loadscope-reorder, which would otherwise order files by their count of tests): a file of one long
    test dealt last runs alone while the other worker idles."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


@pytest.fixture
def cfg() -> IngestConfig:
    return IngestConfig()


@pytest.fixture
def store(tmp_path: Path):
    from feature_store.raw_store import RawStore  # imported here: the GPU checks run without polars

    return RawStore(tmp_path / "home" / "store")


@pytest.fixture(scope="session")
def beat_world(tmp_path_factory):
    """Real beats of MIT-BIH 209 and 220 (DS1) and 232 (DS2) through ingest and the three views."""
    from feature_store.backend import numpy_backend
    from feature_store.ingest import ingest_kind
    from feature_store.raw_store import RawSnapshot, RawStore
    from feature_store.sources.registry import discover
    from feature_store.tasks import BEATS
    from feature_store.views.store import FeatureStore
    from tests.records import MITDB, copy_record

    src = tmp_path_factory.mktemp("beat_src")
    for name in ("209", "220", "232"):
        copy_record(MITDB / name, src)
    home = tmp_path_factory.mktemp("beat_home")
    store, cfg = RawStore(home / "store"), IngestConfig()
    report = ingest_kind("annotated", discover([src], cfg)["annotated"], store, cfg)
    snap = RawSnapshot("annotated", str(store.root), report.snapshot, report.record_ids)
    features = FeatureStore(store.root)
    for family in ("time", "spectral", "spectrogram"):
        features.materialize(BEATS, family, [snap], backend=numpy_backend())
    return {"home": home, "src": src, "features": features, "snapshot": snap}


@pytest.fixture(scope="session")
def beat_task_sample(beat_world):
    """f(rows): beat_world's task data, DS1 (209, 220) split half and half by patient into train and
    val, DS2 (232) as test, `rows` beats of each (and of the training copies) drawn with a fixed seed."""
    from dataclasses import replace

    import numpy as np

    from ecgnet.data import load_task_data
    from feature_store.tasks import BEATS

    def sample(rows: int):
        half = replace(BEATS, splits=replace(BEATS.splits, val_fraction=0.5))
        full = load_task_data(beat_world["features"], half, seed=0)
        rng = np.random.default_rng(0)
        for name in ("train", "val", "test", "extra"):  # extra: the training copies (ecgnet.stress)
            split = getattr(full, name)
            setattr(full, name, split.take(np.sort(rng.choice(len(split), rows, replace=False))))
        return full

    return sample
