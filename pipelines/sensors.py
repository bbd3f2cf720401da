"""Sensors: ingest and refresh the feature views when records appear in (or change under) the source folders;
score the records dropped into a task's inbox folder with its champion."""

import json

import dagster as dg
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

from feature_store.sources.registry import folder_state
from feature_store.tasks import TaskSpec

from .jobs import refresh_job, score_job
from .naming import TaskAssets
from .partitions import every_shard_tags
from .resources import EcgnetStore, IngestSettings, MlflowTracking, ScoringSettings
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


def build_inbox_sensor(specs: list[TaskSpec]) -> dg.SensorDefinition:
    """The sensor that scores what lands in each task's inbox folder (`specs`: the definitions' tasks), and
    scores it again when the task's champion changes: the registered model and version holding MLflow's
    alias, read from the registry each tick, so a champion moved by hand in MLflow's UI counts as one a
    retrain moved."""

    @dg.sensor(
        name="inbox_sensor",
        job=score_job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the scoring asset of each task whose inbox folder (<inbox>/<task>/) gained or changed "
        "record files, or whose champion changed: its champion scores them into the workspace's "
        "predictions/<task>/.",
    )
    def _inbox_sensor(
        context: dg.SensorEvaluationContext, store: EcgnetStore, scoring: ScoringSettings, mlflow: MlflowTracking
    ) -> dg.SensorResult:
        workspace = store.workspace()
        before = json.loads(context.cursor) if context.cursor else {}
        now, why, empty = {}, {}, folder_state([])
        for spec in specs:
            files = folder_state([scoring.folder(workspace, spec)])
            seen = before.get(spec.name, {})
            crowned = seen.get("champion") if files == empty else _champion(context, mlflow, spec, seen)
            now[spec.name] = {"files": files, "champion": crowned}
            if files != seen.get("files", empty):
                why[spec.name] = "new or changed records"
            elif now[spec.name]["champion"] != seen.get("champion") and files != empty:
                why[spec.name] = "a new champion"  # the inbox's records, scored by the model that reads them now
        cursor = json.dumps(now, sort_keys=True)
        if not why:
            return dg.SensorResult(
                skip_reason=f"no new or changed records under {scoring.root(workspace)}, no new champion", cursor=cursor
            )
        context.log.info("scoring " + "; ".join(f"{task}: {reason}" for task, reason in why.items()))
        keys = [dg.AssetKey(TaskAssets(spec).predictions) for spec in specs if spec.name in why]
        return dg.SensorResult(run_requests=[dg.RunRequest(run_key=cursor, asset_selection=keys)], cursor=cursor)

    return _inbox_sensor


def _champion(context: dg.SensorEvaluationContext, mlflow: MlflowTracking, spec: TaskSpec, seen: dict) -> str | None:
    """The task's champion as the scoring manifest names it (`<registered model> v<version>`; None: none yet),
    or, where the registry cannot be read this tick, the one seen before (said in the sensor's log)."""
    from mlflow.exceptions import MlflowException

    try:
        crowned = mlflow.tracker().current_champion(spec.name)
    except (MlflowException, OSError) as err:
        context.log.warning(f"the {spec.name} champion could not be read from MLflow ({err}); read again next tick")
        return seen.get("champion")
    return crowned.identity if crowned else None
