"""A partitioned backfill on the server profile, with real servers started by the test: Dagster's
instance on PostgreSQL with its run queue (four runs at once), `dagster-daemon` running the backfill's
shards as parallel runs, one shard's run killed (SIGKILL) while it writes a view, the store left
consistent, the failed shard run again to completion, and the feature rows equal to an embedded run's."""

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from feature_store.raw_store import RawStore
from feature_store.tasks import BEATS
from feature_store.views.families import FAMILIES
from feature_store.views.storage import tensor_of
from feature_store.views.store import FeatureStore
from feature_store.workspace import Workspace
from pipelines.backfill import daemon, submit, wait
from pipelines.partitions import SHARD_KEYS, every_shard_tags
from pipelines.postgres import LocalPostgres
from pipelines.resources import EcgnetStore, FeatureSettings, IngestSettings, resources
from pipelines.workspace import SERVER_INSTANCE, prepare_dagster_home
from tests.records import MITDB, copy_record

pytestmark = pytest.mark.heavy

RECORDS = ("100", "208", "209", "220", "223", "232")  # shard 02 of 4 holds 100 and 209
VICTIM = "02"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """PostgreSQL, and the Dagster daemon on it loading tests/backfill_location.py; a folder the
    server's user may enter (pytest's own temporary folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="ecgnet-backfill-", dir="/tmp"))
    folder.chmod(0o755)
    cluster = LocalPostgres(folder / "postgres").start()
    src = tmp_path_factory.mktemp("backfill_src")
    for name in RECORDS:
        copy_record(MITDB / name, src)
    workspace = Workspace(folder / "home")
    env = {
        "ECGNET_HOME": str(workspace.home),
        "ECGNET_DATA": str(src),
        "ECGNET_DAGSTER_PG_URL": cluster.url("dagster"),
        "ECGNET_SHARDS": str(len(SHARD_KEYS)),
        "ECGNET_CHUNK_MB": "1",  # a part per record: a shard's view takes long enough to be killed mid-write
        "DAGSTER_HOME": str(workspace.dagster_home),
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        dagster_home = prepare_dagster_home(workspace)
        try:
            # the daemon loops every 3 s, not Dagster's 30 (tests/fast_daemon.py): the stages follow sooner
            fast = [sys.executable, "-m", "tests.fast_daemon"]
            with (
                daemon(dagster_home, module="tests.backfill_location", program=fast),
                dg.DagsterInstance.get() as instance,
            ):
                yield {"instance": instance, "workspace": workspace, "src": src}
        finally:
            cluster.stop()
            shutil.rmtree(folder, ignore_errors=True)


def _kill_mid_write(features_root: Path, shard: str, timeout_s: float = 240) -> tuple[int, Path]:
    """SIGKILL the run writing a view of `shard` the moment its temporary folder appears; its pid and
    that folder (the view version's folder before it is renamed into place)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for tmp in features_root.glob(f"beats_*/{shard}/.*.tmp"):
            pid = int(tmp.name.rsplit(".", 2)[-2])
            os.kill(pid, signal.SIGKILL)
            return pid, tmp
        time.sleep(0.02)
    raise AssertionError(f"no view of shard {shard} was written within {timeout_s:.0f} s")


def _overlap(records) -> int:
    """The most runs in flight at one moment."""
    edges = sorted([(r.start_time, 1) for r in records] + [(r.end_time, -1) for r in records])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _rows(features: FeatureStore, family: str, shards: dict) -> tuple:
    entry = features.union(BEATS, family, shards)
    frame = features.scan(entry.name, entry.version).sort("entity_id").collect()
    return frame["entity_id"].to_list(), {c: tensor_of(frame[c].to_arrow(), s) for c, s in entry.columns.items()}


def test_a_parallel_backfill_survives_a_killed_shard_and_matches_the_embedded_run(server, tmp_path):
    instance, home = server["instance"], server["workspace"].home
    assert (server["workspace"].dagster_home / "dagster.yaml").read_bytes() == SERVER_INSTANCE.read_bytes()
    from tests.backfill_location import assets as location_assets
    from tests.backfill_location import defs

    backfill = submit(instance, defs)
    pid, half_written = _kill_mid_write(home / "store" / "features", VICTIM)
    assert wait(instance, backfill, timeout_s=300) == BulkActionStatus.COMPLETED_FAILED
    runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill}))
    failed = [r.dagster_run for r in runs if r.dagster_run.status == dg.DagsterRunStatus.FAILURE]
    assert [(r.tags.get("dagster/partition"), r.tags.get("ecgnet/pid")) for r in failed] == [(VICTIM, str(pid))]
    shard_runs = [r for r in runs if r.dagster_run.tags.get("dagster/partition")]
    assert len(shard_runs) == 2 * len(SHARD_KEYS)  # ingest, then views, of every shard
    assert _overlap([r for r in runs if r.start_time and r.end_time]) >= 2  # shards ran side by side

    # the store is consistent: the other shards' views are whole, the killed one is absent, not half there
    features, raw = FeatureStore(home / "store"), RawStore(home / "store")
    shards = raw.shard_snapshots(("annotated",))
    assert sorted(r for snaps in shards.values() for r in snaps[0].record_ids) == sorted(RECORDS)
    for key, snaps in shards.items():
        stored = [features.shard_entry(BEATS, family, snaps) is not None for family in FAMILIES]
        assert all(stored) if key != VICTIM else not all(stored)
    assert half_written.is_dir() and not (half_written.parent / half_written.name.split(".")[1]).exists()
    with pytest.raises(ValueError, match=rf"shards \['{VICTIM}'\] have no stored view"):
        for family in FAMILIES:
            features.union(BEATS, family, shards)

    # running the failed shard again completes it: a run of that partition (as the UI's "Materialize
    # failed" launches), on the same PostgreSQL instance
    views = [dg.AssetKey(f"beat_{family}_features") for family in FAMILIES]
    again = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=VICTIM, asset_selection=views
    )
    assert again.success and instance.get_run_by_id(again.run_id).tags["dagster/partition"] == VICTIM
    assert not list((home / "store" / "features").glob(f"beats_*/{VICTIM}/.*.tmp"))  # the orphan is gone

    # and the rows are those of one embedded run over the same records
    embedded = tmp_path / "embedded"
    # the very list defs.assets holds, typed as built: Definitions.assets is typed for every kind of asset it takes
    assets = [
        a
        for a in location_assets
        if a.group_names_by_key and set(a.group_names_by_key.values()) <= {"ingest", "features"}
    ]
    result = dg.materialize(
        assets,
        resources=resources(
            EcgnetStore(home=str(embedded)),
            ingest=IngestSettings(sources=[str(server["src"])]),
            features=FeatureSettings(backend="numpy"),
        ),
        tags=every_shard_tags(),
    )
    assert result.success
    mine = FeatureStore(embedded / "store")
    theirs = RawStore(embedded / "store").shard_snapshots(("annotated",))
    for family in FAMILIES:
        ids, columns = _rows(features, family, shards)
        ids_embedded, columns_embedded = _rows(mine, family, theirs)
        assert ids == ids_embedded and len(ids) > 10000
        for name, values in columns.items():
            np.testing.assert_array_equal(values, columns_embedded[name], err_msg=f"{family}.{name}")
