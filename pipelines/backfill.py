"""`python -m pipelines.backfill`: ingest and feature views over the shards as one Dagster backfill,
submitted to the instance and run by its daemon (`make ui` and `make server` run one): every shard's
ingest, then each task's train statistics, then every shard's views, shards as parallel runs up to the
run queue's limit (one at a time on the embedded default, four on the server profile's PostgreSQL).
The same backfill the UI launches from "Materialize all" on the partitioned assets.

    python -m pipelines.backfill                       # every shard, ingest and features
    python -m pipelines.backfill --shards 02 --groups features   # one shard's views again
"""

from __future__ import annotations

import argparse
import time

import dagster as dg
from dagster._core.execution.backfill import PartitionBackfill  # what the UI's backfill dialog submits
from dagster._core.utils import make_new_backfill_id

from .partitions import SHARD_KEYS
from .workspace import prepare_dagster_home

GROUPS = ("ingest", "features")


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
    """Add a backfill of `groups` over `shards` (default: every shard) to `instance`; its id."""
    unknown = sorted(set(shards or ()) - set(SHARD_KEYS))
    if unknown:
        raise ValueError(f"shards {unknown} do not exist; fix: choose from {SHARD_KEYS} (ECGNET_SHARDS)")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", help=f"comma-separated shard keys (default: all of {SHARD_KEYS})")
    parser.add_argument("--groups", default=",".join(GROUPS), help="asset groups (default: ingest,features)")
    parser.add_argument("--ui", default="http://127.0.0.1:3000", help="the Dagster UI, for the link printed")
    args = parser.parse_args(argv)
    prepare_dagster_home()
    from .definitions import defs  # after DAGSTER_HOME is set, so resources see the workspace

    shards = [s.strip() for s in args.shards.split(",")] if args.shards else None
    groups = tuple(g.strip() for g in args.groups.split(",") if g.strip())
    with dg.DagsterInstance.get() as instance:
        backfill_id = submit(instance, defs, shards=shards, groups=groups)
    print(
        f"backfill {backfill_id} submitted: {', '.join(groups)} of shards {', '.join(shards or SHARD_KEYS)}; the "
        f"daemon of `make ui` or `make server` runs it; follow it at {args.ui}/runs/b/{backfill_id}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
