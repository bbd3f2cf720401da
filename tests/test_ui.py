"""`python -m pipelines.ui` (`make ui`): both servers come up, and one SIGTERM to the launcher stops both."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from feature_store.workspace import PROJECT_ROOT

BIN = Path(sys.executable).parent
START_DEADLINE_S = 90.0
STOP_DEADLINE_S = 20.0

pytestmark = [
    pytest.mark.heavy,
    pytest.mark.skipif(
        not ((BIN / "dagster").exists() and (BIN / "mlflow").exists()),
        reason="dagster or mlflow executable missing next to the Python running the tests",
    ),
]


def free_ports(count: int) -> list[int]:
    # all sockets held open together, so the ports differ
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def session_members(sessions: set[int]) -> list[str]:
    """Live (non-zombie) processes in the given sessions, as 'pid state' strings, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, _pgrp, sid = stat[stat.rindex(")") + 2 :].split()[:4]
        if int(sid) in sessions and state not in ("Z", "X"):
            found.append(f"{entry.name} {state}")
    return found


def child_pids(log: Path) -> dict[str, int]:
    return {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log.read_text())}


def wait_until_up(launcher: subprocess.Popen[bytes], log: Path, urls: list[str]) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while not all(answers(url) for url in urls):
        assert launcher.poll() is None, f"launcher exited early ({launcher.returncode}):\n{log.read_text()}"
        assert time.monotonic() < deadline, f"servers not up in {START_DEADLINE_S} s:\n{log.read_text()}"
        time.sleep(1)


def kill_sessions(leaders: list[int]) -> None:
    """SIGKILL what is left of each session; only sessions with live members, since a leader's pid may
    already have been reused."""
    for leader in leaders:
        if session_members({leader}):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(leader, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="checks leftover processes through /proc")
def test_sigterm_stops_both_servers(tmp_path: Path) -> None:
    dagster_port, mlflow_port = free_ports(2)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(ECGNET_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), PYTHONUNBUFFERED="1")
    log = tmp_path / "ui.log"
    command = [sys.executable, "-m", "pipelines.ui", "--dagster-port", str(dagster_port)]
    command += ["--mlflow-port", str(mlflow_port)]
    with log.open("wb") as out:
        # its own session, so the cleanup below can kill the launcher without touching pytest
        launcher = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    children: dict[str, int] = {}
    try:
        wait_until_up(
            launcher,
            log,
            [f"http://127.0.0.1:{dagster_port}/server_info", f"http://127.0.0.1:{mlflow_port}/health"],
        )
        children = child_pids(log)
        assert set(children) == {"mlflow", "dagster"}, log.read_text()
        # Dagster runs in its own home, beside the dagster.yaml it reads, and says nothing misleading about
        # the checkout's copy; neither `dagster dev`'s "use dg dev" notice nor MLflow's WSGI one is shown
        assert Path(f"/proc/{children['dagster']}/cwd").resolve() == (home / "dagster").resolve()
        said = log.read_text()
        assert "Found a dagster instance configuration value" not in said and "superseded" not in said
        assert "StarletteDeprecationWarning" not in said
        assert session_members(set(children.values())), "the servers should lead their own sessions"

        started = time.monotonic()
        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(timeout=STOP_DEADLINE_S)
        print(f"launcher stopped {time.monotonic() - started:.1f} s after SIGTERM")

        assert code == 0, log.read_text()
        assert not accepts(dagster_port) and not accepts(mlflow_port)
        assert session_members(set(children.values())) == [], log.read_text()
    finally:
        kill_sessions([launcher.pid, *children.values()])
        launcher.wait(timeout=10)


def test_a_port_already_taken_is_said_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dagster dev` keeps running without its webserver when the port is taken, and the address `make ui`
    printed then leads to whatever holds it: the UIs refuse to start instead, naming the port and the fix."""
    from pipelines import server, ui

    monkeypatch.setenv("ECGNET_HOME", str(tmp_path / "ws"))
    dagster_port, mlflow_port = free_ports(2)
    with socket.socket() as holder:  # another service listening on the Dagster port
        holder.bind(("127.0.0.1", dagster_port))
        holder.listen()
        ports = ["--dagster-port", str(dagster_port), "--mlflow-port", str(mlflow_port)]
        assert ui.main(ports) == 2
        said = capsys.readouterr().err
        assert f"Dagster port {dagster_port} on 127.0.0.1 already in use" in said and "MLflow port" not in said
        assert "make ui DAGSTER_PORT=" in said
        assert server.main(ports) == 2  # before PostgreSQL and the object store start for nothing
    assert not (tmp_path / "ws").exists()  # no workspace, Dagster home or cluster made
    assert ui.ports_taken(ui.parse_args(ports)) is None  # free again once the other service stops
