"""One writer per workspace: the lease is held by a live process, refused to others with its holder
named, shared by the holder's own steps, and free again the moment the holder is killed. Holders are
real processes (killed with SIGKILL, as a crash or an OOM kill would)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feature_store.writer import Holder, WorkspaceBusy, acquire, holder, process_start, release, writing

HOLD = (
    "import sys, time; from pathlib import Path; from feature_store.writer import acquire; "
    "acquire(Path(sys.argv[1]), sys.argv[2], shard=sys.argv[4] or None); print('held', flush=True); "
    "time.sleep(float(sys.argv[3]))"
)


def hold(home: Path, what: str = "a test holder", seconds: float = 120, shard: str = "") -> subprocess.Popen:
    """A separate process that takes the lease (or a shard's) and keeps it for `seconds` (or until killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home), what, str(seconds), shard], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def held(home: Path, shard: str | None = None) -> Holder:
    """The holder of a lease that must be held."""
    found = holder(home, shard)
    assert found is not None, "the lease is free"
    return found


def test_a_second_writer_is_refused_with_the_holder_named_and_the_lease_frees_when_the_holder_is_killed(tmp_path):
    other = hold(tmp_path)
    try:
        with pytest.raises(WorkspaceBusy) as err:
            acquire(tmp_path, "second", wait_s=0)
        assert f"pid {other.pid}" in str(err.value) and "a test holder" in str(err.value)
        assert "fix:" in str(err.value) and "ECGNET_WRITER_WAIT" in str(err.value)
        assert held(tmp_path).pid == other.pid
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
    assert holder(tmp_path) is None  # the file still names it, but its process is gone
    assert acquire(tmp_path, "second", wait_s=0) is True
    assert held(tmp_path).what == "second" and held(tmp_path).pid == os.getpid()
    release(tmp_path)
    assert holder(tmp_path) is None and not (tmp_path / "writer.json").exists()


def test_writers_of_different_shards_go_side_by_side_and_the_workspace_writer_excludes_them(tmp_path):
    other = hold(tmp_path, "backfill run of shard 01", shard="01")
    try:
        assert acquire(tmp_path, "backfill run of shard 02", shard="02", wait_s=0) is True  # side by side
        with pytest.raises(
            WorkspaceBusy, match=f"shard 01 is being written by backfill run of shard 01 .pid {other.pid}"
        ):
            acquire(tmp_path, "second writer of shard 01", shard="01", wait_s=0)
        with pytest.raises(WorkspaceBusy, match="being written by backfill run of shard 01"):
            acquire(tmp_path, "make demo", wait_s=0)  # the whole workspace waits for every shard writer
        release(tmp_path, shard="02")
        assert holder(tmp_path, "02") is None and held(tmp_path, "01").pid == other.pid
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
    assert acquire(tmp_path, "make demo", wait_s=0) is True  # the killed shard writer holds nothing
    release(tmp_path)
    whole = hold(tmp_path, "make demo")  # and while a whole-workspace writer runs, no shard is taken
    try:
        with pytest.raises(WorkspaceBusy, match="being written by make demo"):
            acquire(tmp_path, "backfill run of shard 03", shard="03", wait_s=0)
    finally:
        whole.send_signal(signal.SIGKILL)
        whole.wait()


def test_a_waiting_writer_gets_the_lease_when_the_holder_finishes_and_says_who_it_waits_for(tmp_path):
    other = hold(tmp_path, seconds=2)
    said = []
    try:
        assert acquire(tmp_path, "patient", wait_s=60, on_wait=lambda h: said.append(h.waiting()), poll_s=0.2)
    finally:
        other.wait()
    assert said and f"pid {other.pid}" in said[0] and said[0].startswith("waiting for the workspace")
    release(tmp_path)


def test_the_holder_and_its_steps_share_the_lease_and_only_the_taker_gives_it_back(tmp_path):
    with writing(tmp_path, "outer"):
        assert acquire(tmp_path, "a step of the same run", wait_s=0) is False  # already this process's
        with writing(tmp_path, "inner"):
            pass
        assert held(tmp_path).what == "outer"  # the inner block did not take it, so kept it
    assert holder(tmp_path) is None


def test_a_reused_pid_or_a_damaged_lease_file_does_not_hold_the_workspace(tmp_path):
    lease = tmp_path / "writer.json"
    me = {"pid": os.getpid(), "host": os.uname().nodename, "what": "old", "since": time.time()}
    lease.write_text(json.dumps({**me, "started": "1"}))  # this pid, but a process that started at tick 1
    if process_start(os.getpid()):  # Linux: the start time tells the two apart
        assert holder(tmp_path) is None
    lease.write_text('{"pid": 1')  # cut short by a kill mid-write
    assert holder(tmp_path) is None and acquire(tmp_path, "new", wait_s=0) is True


def test_predict_and_the_demo_refuse_to_start_while_another_process_writes(tmp_path, monkeypatch, capsys):
    from ecgnet.__main__ import main as ecgnet_main
    from pipelines import demo

    monkeypatch.setenv("ECGNET_WRITER_WAIT", "0")
    monkeypatch.setenv("ECGNET_HOME", str(tmp_path))
    other = hold(tmp_path, "make demo")
    try:
        assert ecgnet_main(["predict", "data/sample/mitdb/100", "--home", str(tmp_path)]) == 2
        assert f"being written by make demo (pid {other.pid}" in capsys.readouterr().err
        assert demo.main() == demo.EXIT_BUSY
        assert f"pid {other.pid}" in capsys.readouterr().err
        assert not (tmp_path / "dagster").exists()  # nothing ran
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
