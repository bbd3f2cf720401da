"""The Dagster home inside the workspace folder, set up from the checked-in dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from feature_store.workspace import PROJECT_ROOT, Workspace


def prepare_dagster_home(workspace: Workspace | None = None) -> Path:
    """Create the workspace's Dagster home with the project's dagster.yaml and point DAGSTER_HOME at it,
    so run history lives beside the stores and MLflow of the same workspace."""
    dagster_home = (workspace or Workspace.default()).dagster_home
    dagster_home.mkdir(parents=True, exist_ok=True)
    target, source = dagster_home / "dagster.yaml", PROJECT_ROOT / "dagster.yaml"
    if not target.is_file() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


if __name__ == "__main__":
    print(prepare_dagster_home())
