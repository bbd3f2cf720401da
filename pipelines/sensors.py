"""Sensors: start an ingest run when records appear in (or change under) the source folders."""

import dagster as dg

from feature_store.sources.registry import folder_state

from .jobs import ingest_job
from .resources import IngestSettings


@dg.sensor(job=ingest_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Runs the ingest job when record files under the source folders change.")
def new_records_sensor(context: dg.SensorEvaluationContext, ingest: IngestSettings):
    missing = [str(f) for f in ingest.folders() if not f.is_dir()]
    if missing:
        return dg.SkipReason(f"source folders {missing} do not exist; fix ECGNET_DATA")
    state = folder_state(ingest.folders())
    if state == context.cursor:
        return dg.SkipReason("no new or changed records")
    context.log.info(f"record files changed under {ingest.sources}: starting ingest")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=state)], cursor=state)
