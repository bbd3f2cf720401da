"""Where things live: the workspace folder (ECGNET_HOME) and the source folders (ECGNET_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = PROJECT_ROOT / "data" / "sample"


def default_home() -> Path:
    """ECGNET_HOME, else `.ecgnet/` in the checkout: Dagster home, stores and MLflow live there."""
    return Path(os.environ.get("ECGNET_HOME") or PROJECT_ROOT / ".ecgnet").resolve()


def default_sources() -> list[str]:
    """ECGNET_DATA (':'-separated folders), else the bundled real sample records."""
    value = os.environ.get("ECGNET_DATA") or str(SAMPLE_DATA)
    return [str(Path(p).resolve()) for p in value.split(os.pathsep) if p.strip()]


def store_root(home: Path) -> Path:
    return home / "store"
