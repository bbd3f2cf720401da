"""Runs whose process died (killed, out of memory, a closed laptop) stay STARTED in Dagster's run
storage forever: the default run launcher cannot check a run worker's health, and an in-process run has
no worker to check. The demo tags its runs with its host and pid; the next demo closes the runs of
this host whose process is gone, as failed, with a message saying so."""

from __future__ import annotations

import os
import socket

import dagster as dg

PID_TAG, HOST_TAG = "ecgnet/pid", "ecgnet/host"


def owner_tags() -> dict[str, str]:
    """Tags that name the process running a run, for `close_dead_runs`."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


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
