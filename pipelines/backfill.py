"""`python -m pipelines.backfill`: ingest and feature views over the shards as one Dagster backfill,
submitted to the instance and run by its daemon (`make ui` and `make server` run one): every shard's
ingest, then each task's train statistics, then every shard's views, shards as parallel runs up to the
run queue's limit (one at a time on the embedded default, four on the server profile's PostgreSQL).
The same backfill the UI launches from "Materialize all" on the partitioned assets.

    python -m pipelines.backfill                       # every shard, ingest and features
    python -m pipelines.backfill --shards 02 --groups features   # one shard's views again
    python -m pipelines.backfill --daemon              # no UI running: start a daemon, wait, stop it
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill  # what the UI submits
from dagster._core.utils import make_new_backfill_id

from feature_store.workspace import PROJECT_ROOT
from feature_store.writer import proc_stat

from .environment import refused_environment
from .stale_runs import close_dead_runs
from .workspace import StorageUnavailable, prepare_dagster_home

GROUPS = ("ingest", "features")
DONE = (BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.FAILED)
LOCATION = "pipelines.definitions"


def selection(defs: dg.Definitions, groups: tuple[str, ...] = GROUPS) -> list[dg.AssetKey]:
    return sorted(dg.AssetSelection.groups(*groups).resolve(defs.resolve_asset_graph()))


def submit(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    *,
    shards: list[str] | None = None,
    groups: tuple[str, ...] = GROUPS,
    title: str = "ecgnet shards",
) -> str:
    """Add a backfill of `groups` over `shards` (default: every shard) to `instance`; its id. ValueError for
    a shard or group the definitions do not have (a backfill of nothing would be submitted, and succeed)."""
    from .partitions import SHARD_KEYS  # read from the environment on import: after main checked it

    unknown = sorted(set(shards or ()) - set(SHARD_KEYS))
    if unknown:
        raise ValueError(f"shards {unknown} do not exist; fix: choose from {SHARD_KEYS} (ECGNET_SHARDS)")
    known = sorted({n.group_name for n in defs.resolve_asset_graph().asset_nodes if n.group_name})
    if not groups or set(groups) - set(known):
        what = f"asset groups {sorted(set(groups) - set(known))} do not exist" if groups else "no asset group given"
        raise ValueError(f"{what}; fix: choose from {known}, comma-separated (default {','.join(GROUPS)})")
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=defs.resolve_asset_graph(),
        partition_names=shards,
        asset_selection=selection(defs, groups),
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=shards is None,
        title=title,
        description=f"{', '.join(groups)} of shards {', '.join(shards or SHARD_KEYS)}",
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def wait(instance: dg.DagsterInstance, backfill_id: str, timeout_s: float = 24 * 3600.0) -> BulkActionStatus:
    """Block until the backfill is done (its status), closing runs whose process died as failed on the
    way (as the sensor does under `make ui`), so a killed shard fails the backfill instead of hanging it."""
    deadline = time.monotonic() + timeout_s
    while True:
        close_dead_runs(instance)
        backfill = instance.get_backfill(backfill_id)
        if backfill is None:  # an id from another instance, or a backfill deleted while waited on
            raise ValueError(
                f"backfill {backfill_id} is not in the Dagster instance at {instance.root_directory}; fix: wait on "
                "an id that `submit` returned for this instance (the same DAGSTER_HOME)"
            )
        status = backfill.status
        if status in DONE:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} is still {status.value} after {timeout_s:.0f} s")
        time.sleep(1.0)


@contextmanager
def daemon(
    dagster_home: Path, *, module: str = LOCATION, log: Path | None = None, program: list[str] | None = None
) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` over the code location `module` for the instance in `dagster_home` (the run
    queue and the backfills are the daemon's); stopped with the runs it launched at the end. `program`:
    what to run instead of the `dagster-daemon` script, with the same arguments."""
    locations = dagster_home / "workspace.yaml"
    locations.write_text(
        f"load_from:\n  - python_module:\n      module_name: {module}\n      working_directory: {PROJECT_ROOT}\n"
    )
    program = program or [str(Path(sys.executable).with_name("dagster-daemon"))]
    command = [*program, "run", "-w", str(locations)]
    with open(log or dagster_home / "daemon.log", "a") as out:
        process = subprocess.Popen(
            command,
            env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
            cwd=PROJECT_ROOT,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            # code servers and run workers leave the daemon's process group: found by parentage first
            spawned = descendants(process.pid)
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            for pid in spawned:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (Linux /proc; [] elsewhere)."""
    children: dict[int, list[int]] = {}
    for folder in Path("/proc").glob("[0-9]*"):
        fields = proc_stat(int(folder.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(folder.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shards", help="comma-separated shard keys (default: all of them, ECGNET_SHARDS of 00, 01, ...)"
    )
    parser.add_argument("--groups", default=",".join(GROUPS), help="asset groups (default: ingest,features)")
    parser.add_argument("--ui", default="http://127.0.0.1:3000", help="the Dagster UI, for the link printed")
    parser.add_argument("--daemon", action="store_true", help="run a Dagster daemon until the backfill is done")
    args = parser.parse_args(argv)
    if refused_environment():  # nothing was submitted
        return 2
    from .partitions import SHARD_KEYS

    try:
        dagster_home = prepare_dagster_home()
    except StorageUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from .definitions import defs  # after DAGSTER_HOME is set, so resources see the workspace

    shards = list(dict.fromkeys(s.strip() for s in args.shards.split(",") if s.strip())) if args.shards else None
    groups = tuple(dict.fromkeys(g.strip() for g in args.groups.split(",") if g.strip()))
    with dg.DagsterInstance.get() as instance:
        try:
            backfill_id = submit(instance, defs, shards=shards, groups=groups)
        except ValueError as err:  # nothing was submitted
            print(f"error: {err}", file=sys.stderr)
            return 2
        what = f"{', '.join(groups)} of shards {', '.join(shards or SHARD_KEYS)}"
        if not args.daemon:
            print(
                f"backfill {backfill_id} submitted: {what}; the daemon of `make ui` or `make server` runs it; "
                f"follow it at {args.ui}/runs/b/{backfill_id}"
            )
            return 0
        start = time.monotonic()
        print(f"backfill {backfill_id}: {what}; daemon log {dagster_home / 'daemon.log'}", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill still stops the daemon and its runs
        with daemon(dagster_home):
            status = wait(instance, backfill_id)
        print(f"backfill {backfill_id}: {status.value} in {time.monotonic() - start:.0f} s")
        return 0 if status == BulkActionStatus.COMPLETED_SUCCESS else 1


if __name__ == "__main__":
    raise SystemExit(main())
