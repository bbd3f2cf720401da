"""Where things live: the path knobs mean the same places to a process started in another folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feature_store.workspace import anchored_env


def test_relative_knobs_are_made_absolute_and_other_uris_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = anchored_env(
        {
            "ECGNET_HOME": "ws",
            "ECGNET_FEATURES": "views",
            "ECGNET_DATA": f"data/a{os.pathsep}{tmp_path / 'b'}{os.pathsep}",
            "MLFLOW_TRACKING_URI": "sqlite:///ws/mlflow.db",
            "BACKEND": "postgresql://u@localhost:5432/mlflow",
            "OTHER": "kept/as/it/is",
        },
        stores=("BACKEND",),
    )
    assert env["ECGNET_HOME"] == str(tmp_path / "ws") and env["ECGNET_FEATURES"] == str(tmp_path / "views")
    assert env["ECGNET_DATA"].split(os.pathsep) == [str(tmp_path / "data" / "a"), str(tmp_path / "b")]
    assert env["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path / 'ws' / 'mlflow.db'}"
    assert env["BACKEND"] == "postgresql://u@localhost:5432/mlflow" and env["OTHER"] == "kept/as/it/is"


@pytest.mark.parametrize(
    "uri",
    ["s3://ecgnet/features", "http://127.0.0.1:5000", f"sqlite:///{os.sep}abs/mlflow.db", "sqlite:///:memory:"],
)
def test_uris_that_do_not_depend_on_the_folder_are_kept(uri: str) -> None:
    assert anchored_env({"ECGNET_FEATURES": uri, "MLFLOW_TRACKING_URI": uri}) == {
        "ECGNET_FEATURES": uri,
        "MLFLOW_TRACKING_URI": uri,
    }


def test_a_fresh_dagster_home_is_created_once_so_processes_opening_it_together_all_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make ui` starts Dagster's webserver, daemon and code server at once on the workspace's home; their
    first opens of fresh SQLite storage race (Dagster issue 27390) and can leave a home that never opens
    again. `prepare_dagster_home` creates the storage first, alone."""
    import sqlite3

    from feature_store.workspace import Workspace
    from pipelines.workspace import prepare_dagster_home
    from tests.runs import opened_together

    monkeypatch.delenv("ECGNET_DAGSTER_PG_URL", raising=False)  # the embedded profile
    monkeypatch.setenv("DAGSTER_HOME", "")  # restored after the test: prepare_dagster_home sets it
    home = prepare_dagster_home(Workspace(tmp_path / "ws"))
    databases = sorted(p.relative_to(home).as_posix() for p in home.rglob("*.db"))
    assert {"history/runs.db", "schedules/schedules.db"} <= set(databases)
    for db in ("history/runs.db", "schedules/schedules.db"):
        with sqlite3.connect(home / db) as con:  # stamped once: one alembic head
            assert len(con.execute("SELECT version_num FROM alembic_version").fetchall()) == 1
    opened = opened_together(home, dict(os.environ, DAGSTER_HOME=str(home)))
    assert [code for code, _ in opened] == [0] * 4, [said for _, said in opened]


def test_the_server_profile_without_its_database_says_so_and_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ECGNET_DAGSTER_PG_URL names a database nobody serves (`make server` is not running): one error that
    names the URL, without its password, and both fixes, before anything else opens the home."""
    from feature_store.workspace import Workspace
    from pipelines.postgres import free_port
    from pipelines.workspace import StorageUnavailable, prepare_dagster_home

    url = f"postgresql+psycopg2://ecgnet:secret@127.0.0.1:{free_port()}/dagster"
    monkeypatch.setenv("ECGNET_DAGSTER_PG_URL", url)
    monkeypatch.setenv("DAGSTER_HOME", "")
    with pytest.raises(StorageUnavailable) as raised:
        prepare_dagster_home(Workspace(tmp_path / "ws"))
    said = str(raised.value)
    assert url.replace("secret", "***") in said and "secret" not in said
    assert "make server" in said and "unset ECGNET_DAGSTER_PG_URL" in said and "dagster.yaml" in said
