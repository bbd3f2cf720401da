"""Jobs: `ingest`, `features`, `refresh` (both, what the new-records sensor starts), `retrain`, `ecgnet`
(the main job: all three stages) and `score` (the champions score their inboxes: what the inbox sensor
starts); the weekly retraining schedule (stopped by default: turn it on in the UI)."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from .partitions import every_shard_tags

# A run's steps go one after another in its run worker, as in `make demo`: parallelism comes from runs
# of different shards (a backfill), each a single process, not from a process spawned per step (on 2
# cores four shard runs of 18 spawned steps each spent minutes importing). A model asset uses every
# core (or the GPU) by itself; the tag says so to executors that run steps side by side.
TRAINER_TAG = {"ecgnet/trainer": "torch"}
executor = dg.in_process_executor

ingest_job = dg.define_asset_job(
    "ingest", selection=dg.AssetSelection.groups("ingest"), description="Ingest the source folders into the raw store."
)
features_job = dg.define_asset_job(
    "features", selection=dg.AssetSelection.groups("features"), description="Compute (or reuse) every feature view."
)
refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.groups("ingest", "features"),
    description="Ingest new or changed records and bring the feature views up to date (views whose "
    "inputs did not change are reused); models are retrained by `retrain` or its schedule.",
)
retrain_job = dg.define_asset_job(
    "retrain",
    selection=dg.AssetSelection.groups("ingest", "features", "training"),
    description="Ingest new records (incremental), refresh feature views (reused when unchanged) and "
    "retrain every variant in a new MLflow comparison.",
)
ecgnet_job = dg.define_asset_job(
    "ecgnet",
    selection=dg.AssetSelection.groups("ingest", "features", "training"),
    description="The whole pipeline: ingest, features, training (scoring new records is `score`'s).",
)
score_job = dg.define_asset_job(
    "score",
    selection=dg.AssetSelection.groups("scoring"),
    description="Each task's champion scores the new or changed records in its inbox folder (<inbox>/<task>/); "
    "the inbox sensor starts it.",
)


RETRAIN_CRON = "0 3 * * 1"
# what the weekly schedule promises of a task's comparison and champion: at most a week old, with a day's
# grace for the run itself; past it the UI shows the asset failing its freshness policy (the schedule is
# stopped, its runs fail, or the gate refused every candidate since)
RETRAINED_WITHIN = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=8), warn_window=timedelta(days=7, hours=6))


@dg.schedule(
    name="weekly_retrain",
    job=retrain_job,
    cron_schedule=RETRAIN_CRON,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every Monday at 03:00: retrain and compare all variants.",
)
def weekly_retrain() -> dg.RunRequest:
    # one run over every shard: unchanged shards are skipped record by record, their views reused
    return dg.RunRequest(tags=every_shard_tags())
