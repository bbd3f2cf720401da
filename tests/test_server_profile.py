"""The server profile on real servers started by the test: Dagster's instance on PostgreSQL, MLflow as
`mlflow server` on PostgreSQL with proxied artifacts and the feature views on an S3-compatible object
store (SeaweedFS); the whole beats pipeline run through all three and read back from the databases,
the server and the bucket, and the champion served to `predict` through them."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import dagster as dg
import fsspec
import mlflow
import psycopg2
import pytest

from ecgnet.__main__ import main as ecgnet_main
from feature_store.tasks import BEATS
from feature_store.views.storage import view_damage
from feature_store.views.store import FeatureStore
from feature_store.workspace import Workspace
from pipelines.object_store import LocalObjectStore
from pipelines.postgres import LocalPostgres, free_port
from pipelines.server import server_env
from pipelines.ui import mlflow_command
from pipelines.workspace import SERVER_INSTANCE, prepare_dagster_home
from tests.records import MITDB
from tests.runs import materialize_all, opened_together

pytestmark = pytest.mark.heavy

# the storage is what this profile tests, not the model zoo: the singles and one late variant
SERVED = replace(BEATS, variants=("time", "frequency", "spectrogram", "late_average"))


@pytest.fixture(scope="module")
def servers():
    """PostgreSQL, then `mlflow server` on it, in a folder the server's user may enter (pytest's own
    temporary folders are private to root, and PostgreSQL will not run as root)."""
    folder = Path(tempfile.mkdtemp(prefix="ecgnet-server-", dir="/tmp"))
    folder.chmod(0o755)
    workspace = Workspace(folder / "home")
    cluster = LocalPostgres.of(workspace).start()
    objects = LocalObjectStore.of(workspace).start()
    port = free_port()
    variables = server_env(cluster, "127.0.0.1", port, objects)
    env = {**os.environ, **variables, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with pytest.MonkeyPatch.context() as mp:  # the command names the store from the environment, as make does
        for key, value in variables.items():
            mp.setenv(key, value)
        command = mlflow_command(workspace, "127.0.0.1", port)
    assert command[command.index("--backend-store-uri") + 1] == cluster.url("mlflow")
    mlflow_server = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", mlflow_server)
        yield {"cluster": cluster, "workspace": workspace, "env": variables, "objects": objects}
    finally:
        os.killpg(mlflow_server.pid, signal.SIGTERM)
        mlflow_server.wait(timeout=30)
        objects.stop()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"mlflow server exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s")


def _rows(cluster: LocalPostgres, database: str, sql: str) -> int:
    with psycopg2.connect(cluster.dsn(database)) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


@pytest.fixture(scope="module")
def served_run(servers, beat_world):
    workspace, env = servers["workspace"], servers["env"]
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setenv("ECGNET_HOME", str(workspace.home))
        # fsspec read its configuration from the environment when imported; a shell would set it first
        mp.setitem(fsspec.config.conf, "s3", {"endpoint_url": env["FSSPEC_S3_ENDPOINT_URL"]})
        dagster_home = prepare_dagster_home(workspace)
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            result = materialize_all(
                workspace.home, [beat_world["src"]], [SERVED], instance=instance, gate_minimum={"beats": 0.0}
            )
            latest = instance.get_latest_materialization_event(dg.AssetKey("beat_fusion_comparison"))
        yield result, latest, mp


def test_the_pipeline_runs_on_dagster_postgres_storage(servers, served_run):
    result, latest, _ = served_run
    assert (servers["workspace"].dagster_home / "dagster.yaml").read_bytes() == SERVER_INSTANCE.read_bytes()
    assert result.success and latest is not None and latest.run_id == result.run_id
    cluster = servers["cluster"]
    assert _rows(cluster, "dagster", f"SELECT count(*) FROM runs WHERE run_id = '{result.run_id}'") == 1
    assert (
        _rows(cluster, "dagster", "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
        >= 10
    )


def test_the_comparison_is_logged_through_the_mlflow_server_and_read_back(servers, served_run):
    # MLFLOW_TRACKING_URI (set by `served_run`, as a user's shell would) names the server
    assert mlflow.get_tracking_uri() == servers["env"]["MLFLOW_TRACKING_URI"]
    runs = mlflow.search_runs(experiment_names=["ecgnet-beats"])
    parent = runs[runs["tags.ecgnet.role"] == "comparison"]
    assert len(parent) == 1 and parent["status"].iloc[0] == "FINISHED"
    children = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"].iloc[0]]
    assert sorted(children["tags.mlflow.runName"]) == sorted(SERVED.variants)
    assert children["metrics.test_macro_f1"].notna().all()
    experiment = mlflow.get_experiment_by_name("ecgnet-beats")
    # proxied artifacts: the server stores them; clients never see its folder
    assert experiment is not None and experiment.artifact_location.startswith("mlflow-artifacts:")
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(parent["run_id"].iloc[0])}
    assert {"comparison.csv", "comparison.png"} <= logged
    # the description's picture is fetched as the UI fetches it: through the server, from its proxied store
    note = parent["tags.mlflow.note.content"].iloc[0]
    picture = f"get-artifact?path=comparison.png&run_uuid={parent['run_id'].iloc[0]}"
    assert picture in note
    with urllib.request.urlopen(f"{servers['env']['MLFLOW_TRACKING_URI']}/{picture}", timeout=30) as response:
        assert response.read(8) == b"\x89PNG\r\n\x1a\n"
    # the runs are rows of the server's PostgreSQL database, the artifacts files of its folder
    assert _rows(servers["cluster"], "mlflow", "SELECT count(*) FROM runs") == len(runs)
    assert list(servers["workspace"].mlflow_artifacts.rglob("comparison.csv"))


def test_the_feature_views_are_objects_of_the_bucket(servers, served_run):
    workspace, views = servers["workspace"], servers["env"]["ECGNET_FEATURES"]
    assert views.startswith("s3://") and not (workspace.store / "features").exists()  # raw store only on disk
    features = FeatureStore(workspace.store, views)
    entries = features.catalog.entries()
    unions = {e.name for e in entries if e.parts}
    assert unions == {"beats_time", "beats_spectral", "beats_spectrogram"}
    assert all(p.startswith(f"{views}/") for e in entries for p in ([e.path] + list(e.parts.values())))
    assert all(view_damage(e) is None for e in entries if e.parts)
    # the training the server profile ran read these versions: the comparison names them
    run = mlflow.search_runs(experiment_names=["ecgnet-beats"], filter_string="tags.`ecgnet.role` = 'comparison'")
    logged = {k.removeprefix("params.view."): v for k, v in run.iloc[0].items() if k.startswith("params.view.")}
    assert logged and {e.name: e.version for e in entries if e.parts}.items() >= logged.items()


def test_predict_loads_the_champion_through_the_server(servers, served_run, capsys):
    *_, mp = served_run
    home = servers["workspace"].home
    assert ecgnet_main(["predict", str(MITDB / "232"), "--home", str(home), "--rows", "0"]) == 0
    assert "beat(s) scored by models:/ecgnet-beats" in capsys.readouterr().out


def test_a_fresh_postgres_home_is_created_once_so_processes_opening_it_together_all_can(servers):
    """`make server` starts Dagster's webserver, daemon and code server at once on a fresh database; their
    first opens race on creating its tables (Dagster issue 27390: a process failed in 3 homes of 60).
    `prepare_dagster_home` creates the storage first, alone, on this profile too."""
    cluster = servers["cluster"]
    conn = psycopg2.connect(cluster.dsn("postgres"))
    conn.autocommit = True  # CREATE DATABASE runs outside a transaction
    with conn.cursor() as cur:
        cur.execute('CREATE DATABASE "fresh_home"')
    conn.close()
    workspace = Workspace(Path(tempfile.mkdtemp(prefix="ecgnet-fresh-", dir="/tmp")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECGNET_DAGSTER_PG_URL", cluster.url("fresh_home"))
        mp.setenv("DAGSTER_HOME", "")  # restored after: prepare_dagster_home sets it
        home = prepare_dagster_home(workspace)
        assert _rows(cluster, "fresh_home", "SELECT count(*) FROM alembic_version") == 1  # stamped, one head
        assert _rows(cluster, "fresh_home", "SELECT count(*) FROM runs") == 0
        opened = opened_together(home, dict(os.environ))
    assert [code for code, _ in opened] == [0] * 4, [said for _, said in opened]
    shutil.rmtree(workspace.home, ignore_errors=True)
