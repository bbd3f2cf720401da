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
