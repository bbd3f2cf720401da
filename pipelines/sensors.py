"""Sensors: ingest and refresh the feature views when records appear in (or change under) the source folders."""

import dagster as dg
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

from feature_store.sources.registry import folder_state

from .jobs import refresh_job
from .partitions import every_shard_tags
from .resources import EcgnetStore, IngestSettings
from .stale_runs import close_dead_runs


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the refresh job (ingest, then feature views) when record files under the "
    "source folders change, so new records are ready for inference and the next retrain.",
)
def new_records_sensor(
    context: dg.SensorEvaluationContext, ingest: IngestSettings, store: EcgnetStore
) -> dg.SkipReason | dg.SensorResult:
    for run_id in close_dead_runs(context.instance):  # while `make ui` runs, no dead run stays STARTED
        context.log.warning(f"run {run_id} was left STARTED by a process that is gone; marked failed")
    missing = [str(f) for f in ingest.folders() if not f.is_dir()]
    if missing:
        return dg.SkipReason(f"source folders {missing} do not exist; fix ECGNET_DATA")
    state = folder_state(ingest.folders())
    if state == context.cursor:
        return dg.SkipReason("no new or changed records")
    if context.cursor is None and _ingested_by_demo(store) == state:  # the first tick after `make demo`
        return dg.SensorResult(skip_reason="records unchanged since `make demo` ingested them", cursor=state)
    running = context.instance.get_backfills(filters=BulkActionsFilter(statuses=[BulkActionStatus.REQUESTED]))
    if running:  # its shard runs ingest these records; the cursor stays, so a change it missed runs after
        return dg.SkipReason(f"backfill {running[0].backfill_id} is running; it ingests the record files")
    context.log.info(f"record files changed under {ingest.sources}: starting ingest and feature refresh")
    # one run over every shard: a shard whose records did not change reads nothing and reuses its views
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=state, tags=every_shard_tags())], cursor=state)


def _ingested_by_demo(store: EcgnetStore) -> str | None:
    """The source folders' fingerprint `make demo` left after ingesting all of them (None: it did not)."""
    recorded = store.workspace().sources_state
    return recorded.read_text().strip() if recorded.is_file() else None
