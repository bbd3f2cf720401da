"""Shards as Dagster partitions: ingest and feature assets are partitioned by shard, so a backfill runs
shards as parallel runs and a new record touches only its shard; train statistics and training are
not partitioned and read every shard. A run over every shard at once is a partition-range run (what
`make demo`, the new-records sensor and the retraining schedule start)."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from feature_store.shards import Shard, shard_count, shard_keys

SHARD_KEYS = shard_keys()
shards_def = dg.StaticPartitionsDefinition(SHARD_KEYS)
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def every_shard_tags() -> dict[str, str]:
    """Run tags of one run over every shard."""
    return {RANGE_START: SHARD_KEYS[0], RANGE_END: SHARD_KEYS[-1]}


def step_shards(context: dg.OpExecutionContext | dg.AssetExecutionContext) -> list[Shard]:
    """The shards the step's run covers (one partition, or a range)."""
    count = shard_count()
    return [Shard.parse(key, count) for key in context.partition_keys]


def checked_shards(context: dg.OpExecutionContext) -> list[Shard]:
    """The shards a check's run covers: its partitions, or every shard where it has none: Dagster gives a
    run of checks alone (a job or an API launch that selects only them) no partition, whatever its tags. The
    UI's Execute button does not launch one for a partitioned asset ("not yet supported" in Dagster 1.13)."""
    try:
        return step_shards(context)
    except dg.DagsterInvariantViolationError:
        return [Shard.parse(key, shard_count()) for key in SHARD_KEYS]


def run_shard(tags: Mapping[str, str]) -> str | None:
    """The one shard a run writes, from its tags; None for a run over several shards or none."""
    key = tags.get("dagster/partition")
    if key is None and tags.get(RANGE_START) is not None and tags.get(RANGE_START) == tags.get(RANGE_END):
        key = tags[RANGE_START]
    return key if key in SHARD_KEYS else None
