"""Runs whose process died (killed, out of memory, a closed laptop) stay STARTED in Dagster's run
storage forever: the default run launcher cannot check a run worker's health (Dagster's run monitoring
needs a launcher that can), and an in-process run has no worker to check. So each run names its
process in two tags, host and pid: the demo when it creates the run; a run launched from the UI, a
sensor or a schedule from its first step (`stamp_run`: the step runs in a child of the run worker).
The next demo, and the new-records sensor every minute while `make ui` runs, close the runs of this
host whose process is gone, as failed, with a message saying so."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
from types import FrameType

import dagster as dg

from feature_store.writer import alive

PID_TAG, HOST_TAG = "ecgnet/pid", "ecgnet/host"
STEP_CHILD_ENTRY = os.path.join("dagster", "_core", "executor", "child_process_executor.py")


def owner_tags(pid: int | None = None) -> dict[str, str]:
    """Tags that name the process running a run (default: this one), for `close_dead_runs`."""
    return {PID_TAG: str(pid or os.getpid()), HOST_TAG: socket.gethostname()}


def run_process() -> int:
    """The process running this run: the multiprocess executor runs each step in a child (spawned) of
    the run worker, so its parent; otherwise this one (an in-process run, or the in-process executor's
    run worker, whose own parent is the code server that spawned it and outlives it)."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None and parent.pid and _in_step_child() else os.getpid()


def _in_step_child() -> bool:
    """Whether this code runs under the multiprocess executor's child-process entry point."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.endswith(STEP_CHILD_ENTRY):
            return True
        frame = frame.f_back
    return False


def stamp_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """Tag a run with its process once (the demo tagged its own when it created them)."""
    if PID_TAG not in run.tags:
        instance.add_run_tags(run.run_id, owner_tags(run_process()))


def close_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark the STARTING/STARTED runs of this host whose process is gone as failed; their run ids."""
    started = dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED], tags={HOST_TAG: socket.gethostname()}
    )
    closed = []
    for run in instance.get_runs(filters=started):
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid and not alive(pid):
            instance.report_run_failed(
                run, f"process {pid} that ran it is gone (killed?); closed as failed by the next ecgnet run"
            )
            closed.append(run.run_id)
    return closed
