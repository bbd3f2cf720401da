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
    so run history lives beside the stores and MLflow of the same workspace. The embedded profile's
    SQLite storage is created here too (`create_storage`), before anything opens it concurrently."""
    dagster_home = (workspace or Workspace.default()).dagster_home
    dagster_home.mkdir(parents=True, exist_ok=True)
    target, source = dagster_home / "dagster.yaml", instance_config()
    if not target.is_file() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    if source == EMBEDDED_INSTANCE:  # PostgreSQL's storage is the server profile's to create, with the server up
        create_storage(dagster_home)
    return dagster_home


def create_storage(dagster_home: Path) -> None:
    """Open the Dagster instance at `dagster_home` once, alone, so that its SQLite databases are created and
    stamped before `dagster dev` (webserver, daemon, code server) or run workers open it at the same moment.
    Concurrent first opens of a fresh SQLite home race on creating tables and stamping alembic's version
    (Dagster issue 27390): four processes opening fresh homes at once failed in 6 homes of 10, some for good
    ("alembic_version has more than one head" on every later open); after one open first, 0 of 10."""
    import dagster as dg  # here: `make ui` needs dagster only for this

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.get_runs(limit=1)


if __name__ == "__main__":
    print(prepare_dagster_home())
