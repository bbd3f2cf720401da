import os
from pathlib import Path

import pytest

from feature_store.config import IngestConfig
from feature_store.raw_store import RawStore

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture
def cfg() -> IngestConfig:
    return IngestConfig()


@pytest.fixture
def store(tmp_path: Path) -> RawStore:
    return RawStore(tmp_path / "home" / "store")
