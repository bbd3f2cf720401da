"""The Dagster home inside the workspace folder, set up from the checked-in dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from feature_store.workspace import PROJECT_ROOT, Workspace

EMBEDDED_INSTANCE = PROJECT_ROOT / "dagster.yaml"
SERVER_INSTANCE = PROJECT_ROOT / "deploy" / "dagster-postgres.yaml"
SERVER_URL_ENV = "ECGNET_DAGSTER_PG_URL"  # set: the server profile (Dagster's storage on PostgreSQL)
MLFLOW_BACKEND_ENV = "ECGNET_MLFLOW_BACKEND"  # the store `mlflow server` serves, when not the workspace's


def instance_config() -> Path:
    """The server profile's dagster.yaml when ECGNET_DAGSTER_PG_URL names a PostgreSQL database, else
    the embedded default (SQLite in the workspace, one run at a time)."""
    return SERVER_INSTANCE if os.environ.get(SERVER_URL_ENV) else EMBEDDED_INSTANCE


def prepare_dagster_home(workspace: Workspace | None = None) -> Path:
    """Create the workspace's Dagster home with the profile's dagster.yaml and point DAGSTER_HOME at it,
    so run history lives beside the stores and MLflow of the same workspace."""
    dagster_home = (workspace or Workspace.default()).dagster_home
    dagster_home.mkdir(parents=True, exist_ok=True)
    target, source = dagster_home / "dagster.yaml", instance_config()
    if not target.is_file() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


if __name__ == "__main__":
    print(prepare_dagster_home())
