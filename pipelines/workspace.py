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
    so run history lives beside the stores and MLflow of the same workspace. Its storage (SQLite, or the
    server profile's PostgreSQL database) is created here too (`create_storage`), before anything opens it
    concurrently."""
    dagster_home = (workspace or Workspace.default()).dagster_home
    dagster_home.mkdir(parents=True, exist_ok=True)
    target, source = dagster_home / "dagster.yaml", instance_config()
    if not target.is_file() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    create_storage(dagster_home)
    return dagster_home


class StorageUnavailable(RuntimeError):
    """The server profile's Dagster storage did not open: its PostgreSQL database is not reachable."""


def create_storage(dagster_home: Path) -> None:
    """Open the Dagster instance at `dagster_home` once, alone, so that its storage's tables are created and
    stamped before `dagster dev` (webserver, daemon, code server) or run workers open it at the same moment.
    Concurrent first opens of fresh storage race on creating tables and stamping alembic's version (Dagster
    issue 27390). On SQLite, four processes opening fresh homes at once failed in 6 homes of 10, some for
    good ("alembic_version has more than one head" on every later open); on PostgreSQL a process failed its
    first open in 3 homes of 60 ("relation instance_info already exists"); after one open first, none."""
    import dagster as dg  # here: `make ui` needs dagster only for this

    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            instance.get_runs(limit=1)
    except Exception as err:
        from sqlalchemy.exc import OperationalError  # the database refused or was not there

        url = os.environ.get(SERVER_URL_ENV)
        if not url or not any(isinstance(e, OperationalError) for e in (err, err.__cause__)):
            raise  # another failure (a migration to run, a bad dagster.yaml) says its own fix
        cause = str(err.__cause__ or err).strip().splitlines()[0]
        raise StorageUnavailable(
            f"{dagster_home / 'dagster.yaml'}: Dagster's storage on PostgreSQL did not open ({SERVER_URL_ENV}="
            f"{_without_password(url)}: {cause}); fix: start the server profile first (`make server` prints "
            f"the variables to export), or unset {SERVER_URL_ENV} for the embedded SQLite storage"
        ) from err


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL at all: said as such, nothing of it echoed
        return "(not a database URL)"


if __name__ == "__main__":
    print(prepare_dagster_home())
