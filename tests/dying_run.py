"""A run started outside the demo (as the UI, a sensor or a schedule would: Dagster's multiprocess
executor, no owner tags at creation) whose step waits to be killed; `tests/test_pipeline.py` runs this
module in a subprocess and kills it. Usage: python -m tests.dying_run <workspace>."""

import sys
import time

import dagster as dg

from pipelines.resources import EcgnetStore


@dg.asset
def waits_to_be_killed(store: EcgnetStore) -> None:
    time.sleep(600)


def job() -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=[waits_to_be_killed],
        jobs=[dg.define_asset_job("dying", selection=[waits_to_be_killed])],
        resources={"store": EcgnetStore(home=sys.argv[1] if len(sys.argv) > 1 else ".")},
        executor=dg.multiprocess_executor,
    )
    return defs.resolve_job_def("dying")


if __name__ == "__main__":
    with dg.DagsterInstance.get() as instance:
        dg.execute_job(dg.reconstructable(job), instance=instance, raise_on_error=False)
