"""The Dagster home inside the workspace folder, set up from the checked-in dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from feature_store.workspace import PROJECT_ROOT, default_home


def prepare_dagster_home(home: Path | None = None) -> Path:
    """Create `<home>/dagster` with the project's dagster.yaml and point DAGSTER_HOME at it."""
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or (home or default_home()) / "dagster")
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    source = PROJECT_ROOT / "dagster.yaml"
    if not target.is_file() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


if __name__ == "__main__":
    print(prepare_dagster_home())
