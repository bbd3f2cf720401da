"""`make ui`: the Dagster UI (`dagster dev`) and the MLflow UI (`mlflow server`) over one workspace.

Each server leads its own process group, and this launcher stops both trees on SIGTERM, SIGINT or SIGHUP,
when either server exits, and when its parent (make) goes away. A shell recipe can't do this reliably:
`dagster dev` started from a script ignores SIGINT/SIGTERM for ~45 s unless it leads its own process group,
and a make that is killed (or one that does not pass a SIGTERM on to its recipe) leaves the servers behind.

    python -m pipelines.ui [--dagster-port 3000] [--mlflow-port 5000] [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from feature_store.workspace import PROJECT_ROOT, Workspace, anchored_env, names_server, tracking_uri
from pipelines.environment import refused_environment
from pipelines.workspace import MLFLOW_BACKEND_ENV, StorageUnavailable, prepare_dagster_home

STOP_GRACE_S = 10.0
POLL_S = 0.5
BIN = Path(sys.executable).parent
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass
class StopRequest:
    """Set from signal handlers; the main loop acts on it, since a handler must not block on children."""

    signum: int | None = None
    count: int = 0
    reason: str = ""

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self.signum is None:
            self.signum, self.reason = signum, signal.Signals(signum).name


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.ui", description=__doc__.splitlines()[0])
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--host", default="127.0.0.1")
    return parser.parse_args(argv)


def ports_taken(args: argparse.Namespace) -> str | None:
    """Why the UIs cannot start, when something already listens on a port they need; None when both are
    free. Checked before anything starts: `dagster dev` keeps its daemon and code server running when its
    webserver cannot bind, so the address printed would lead to whatever holds the port."""
    wanted = {"Dagster": args.dagster_port, "MLflow": args.mlflow_port}
    taken = [f"{name} port {port}" for name, port in wanted.items() if listening(args.host, port)]
    if not taken:
        return None
    return (
        f"{' and '.join(taken)} on {args.host} already in use (another `make ui` or `make server`, or another "
        "service); fix: stop it, or choose free ports: make ui DAGSTER_PORT=3001 MLFLOW_PORT=5001 "
        "(python -m pipelines.ui --dagster-port 3001 --mlflow-port 5001)"
    )


def listening(host: str, port: int) -> bool:
    """Whether a socket already holds `port` on `host` (a server's own SO_REUSEADDR bind would fail)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as err:
            return err.errno == errno.EADDRINUSE
    return False


def backend_store_uri(workspace: Workspace) -> str:
    """The store the MLflow server serves: ECGNET_MLFLOW_BACKEND (the server profile's PostgreSQL), else
    MLFLOW_TRACKING_URI; an http(s) one names a server, not a store, so the workspace's own SQLite store
    is served then."""
    uri = os.environ.get(MLFLOW_BACKEND_ENV) or tracking_uri(workspace)
    return workspace.mlflow_uri if names_server(uri) else uri


def mlflow_command(workspace: Workspace, host: str, port: int) -> list[str]:
    return [
        str(BIN / "mlflow"), "server", "--workers", "1",
        "--backend-store-uri", backend_store_uri(workspace),
        "--artifacts-destination", str(workspace.mlflow_artifacts),
        "--host", host, "--port", str(port),
    ]  # fmt: skip


# MLflow's server imports Starlette's deprecated WSGI middleware and says so at every start: a note to
# MLflow's developers that our users can do nothing about. Only that warning, from that module, is hidden.
MLFLOW_WSGI_NOTICE = "ignore::UserWarning:mlflow.server.fastapi_app"


def mlflow_env(env: dict[str, str]) -> dict[str, str]:
    said = [w for w in (env.get("PYTHONWARNINGS", ""), MLFLOW_WSGI_NOTICE) if w]
    return env | {"PYTHONWARNINGS": ",".join(said)}


# `dagster dev` warns at every start that it is superseded by `dg dev`, which needs dagster-dg-cli and a
# dg project layout this project does not use; its runs and servers are the same. The filter is for that
# one warning in the launching process only: Dagster's servers and runs keep every warning.
QUIET_DAGSTER_DEV = (
    "import sys, warnings; from dagster import SupersessionWarning; "
    "warnings.filterwarnings('ignore', category=SupersessionWarning); "
    "from dagster._cli import main; sys.argv[0] = 'dagster'; sys.exit(main())"
)


def dagster_command(host: str, port: int) -> list[str]:
    # the code is found from the checkout, whatever folder `dagster dev` runs in
    command = ["dev", "-m", "pipelines.definitions", "-d", str(PROJECT_ROOT), "-h", host, "-p", str(port)]
    return [str(BIN / "python"), "-c", QUIET_DAGSTER_DEV, *command]


def start(name: str, command: list[str], env: dict[str, str], cwd: Path = PROJECT_ROOT) -> subprocess.Popen[bytes]:
    """Start a server as the leader of a new session, so its whole process tree can be signalled as one
    group and a terminal's Ctrl-C reaches only this launcher, which then stops the groups in order."""
    process = subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True)
    print(f"[ui] started {name} (pid {process.pid})", flush=True)
    return process


def signal_group(process: subprocess.Popen[bytes], signum: int) -> bool:
    """Signal the process group the child leads; False once no process of that group is left."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:  # the group id was reused by someone else's process: ours are gone
        return False
    return True


def group_members(pgid: int) -> list[int] | None:
    """Live (non-zombie) processes of a process group, from /proc; None where there is no /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited while we looked
            continue
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def group_alive(process: subprocess.Popen[bytes]) -> bool:
    # zombies are skipped: an orphaned server process may wait a while to be reaped by init
    process.poll()
    members = group_members(process.pid)
    return bool(members) if members is not None else signal_group(process, 0)


def stop_all(processes: dict[str, subprocess.Popen[bytes]], stop: StopRequest) -> None:
    """SIGTERM each server, then what is left of its group once it has exited; SIGKILL the groups still
    there after STOP_GRACE_S, or at once on a second stop signal."""
    # the leader first: `dagster dev` shuts its webserver, daemon and code servers down in order, and a
    # code server signalled behind its back is restarted by it, mid-shutdown
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    orphans_signalled: set[str] = set()
    signals_seen, deadline = stop.count, time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and stop.count == signals_seen:
        for name, process in processes.items():
            if process.poll() is not None and name not in orphans_signalled:
                # what the leader leaves to exit on its own: uvicorn under `mlflow server`, the code
                # server of `dagster dev` and a run it is executing (it waits for that run to end)
                signal_group(process, signal.SIGTERM)
                orphans_signalled.add(name)
        if not any(group_alive(p) for p in processes.values()):
            return
        time.sleep(0.1)
    kill_groups(processes)


def kill_groups(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for name, process in processes.items():
        if group_alive(process):
            print(f"[ui] {name} did not stop in time: killing it", flush=True)
            signal_group(process, signal.SIGKILL)
    for process in processes.values():
        process.wait()


def watch(processes: dict[str, subprocess.Popen[bytes]], stop: StopRequest) -> int:
    """Wait for a stop signal, a server exiting, or make going away; the exit code to return."""
    parent = os.getppid()
    while stop.signum is None:
        for name, process in processes.items():
            code = process.poll()
            if code is not None:
                print(f"[ui] {name} exited on its own with code {code}: stopping the other", flush=True)
                stop.reason = f"{name} exited"
                # a shell's convention for a child killed by a signal, rather than sys.exit(-9) -> 247
                return 128 - code if code < 0 else code or 1
        if os.getppid() != parent:
            # make was killed, or did not pass its SIGTERM on: nobody is left to stop us, so stop now
            stop.reason = "parent process exited"
            return 0
        time.sleep(POLL_S)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if taken := ports_taken(args):
        print(f"error: {taken}", file=sys.stderr)
        return 2
    if refused_environment():  # the servers' runs would fail on them, or the code location load
        return 2
    workspace = Workspace.default()
    try:
        prepare_dagster_home(workspace)
    except StorageUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    workspace.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
    stop = StopRequest()
    # installed before the servers start: a handled signal resets to the default in the child, where a
    # SIGINT ignored by a background shell would be inherited and make `dagster dev` ignore SIGTERM too
    for signum in STOP_SIGNALS:
        signal.signal(signum, stop.handle)
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", MLFLOW_DISABLE_TELEMETRY="true")
    # Dagster runs in its home (DAGSTER_HOME), the folder where `dagster dev` looks for the dagster.yaml it
    # uses, so it no longer warns that the checkout's dagster.yaml is ignored; relative knobs still name
    # the folders they named here
    env = anchored_env(env, stores=(MLFLOW_BACKEND_ENV,))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        processes["mlflow"] = start("mlflow", mlflow_command(workspace, args.host, args.mlflow_port), mlflow_env(env))
        processes["dagster"] = start(
            "dagster", dagster_command(args.host, args.dagster_port), env, cwd=workspace.dagster_home
        )
        print(f"[ui] Dagster: http://{args.host}:{args.dagster_port}   MLflow: http://{args.host}:{args.mlflow_port}")
        print(f"[ui] workspace {workspace.home}; Ctrl-C stops both", flush=True)
        code = watch(processes, stop)
    finally:
        print(f"[ui] stopping ({stop.reason or 'shutdown'})", flush=True)
        stop_all(processes, stop)
    print("[ui] stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
