"""One writer per workspace (or per shard of it): a lease held by a process for as long as it lives.

`make demo`, every Dagster run (from its first step) and `predict` take the lease before they touch the
workspace; a second one waits for it (saying who holds it) or, past its wait, stops with an error that
names the holder and the fix. The lease names a *process*, not a file handle: the steps of one Dagster
run are children of one run worker, so they share their run's lease, and a run that is killed frees
the workspace the moment its process is gone (nothing to clean up, no stale lock to delete by hand).
Updates of the lease file are serialised by an flock, so two starters never both win. A run over one
shard (a partition of a parallel backfill) takes only that shard's lease, so shards are written side
by side, each by one writer; a whole-workspace writer waits for every shard writer and blocks them.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .raw_store import locked, write_json_atomic

WAIT_ENV = "ECGNET_WRITER_WAIT"  # seconds a second writer waits for the lease before giving up
DEFAULT_WAIT_S = 1800.0


class WorkspaceBusy(RuntimeError):
    """Another live process holds the workspace's writer lease."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    what: str  # "make demo", "dagster run <id>", "predict"
    since: float  # epoch seconds
    started: str = ""  # the process's start time (Linux /proc), so a reused pid is not taken for it

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"{self.what} (pid {self.pid} on {self.host}, since {when})"

    def waiting(self) -> str:
        """What a second writer says while it waits."""
        return f"waiting for the workspace: {self.describe()} is writing it"


def alive(pid: int) -> bool:
    """Whether a process of this host with `pid` exists and has not exited (a zombie, exited but not
    yet reaped by its parent, answers signals but is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return proc_stat(pid)[:1] != ["Z"]


def proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 (state) on; [] where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat.rsplit(")", 1)[1].split()  # the command name before ")" may hold spaces


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc is not there)."""
    fields = proc_stat(pid)
    return fields[19] if len(fields) > 19 else ""  # field 22


def _lease_file(home: Path, shard: str | None = None) -> Path:
    return home / "writer.json" if shard is None else home / "leases" / f"shard-{shard}.json"


def holder(home: Path, shard: str | None = None) -> Holder | None:
    """The live holder of the workspace's lease (or of one shard's); None when it is free (never taken,
    released, or its process is gone)."""
    try:
        h = Holder(**json.loads(_lease_file(home, shard).read_text()))
    except (OSError, ValueError, TypeError):  # absent, or cut short by a kill: free
        return None
    if h.host != socket.gethostname():
        return h  # cannot see another host's processes: held until that host releases it
    if not alive(h.pid) or (h.started and process_start(h.pid) not in ("", h.started)):
        return None
    return h


def _mine(h: Holder | None, pid: int) -> bool:
    return h is not None and h.pid == pid and h.host == socket.gethostname()


def _shard_holders(home: Path) -> dict[str, Holder]:
    files = (home / "leases").glob("shard-*.json") if (home / "leases").is_dir() else []
    found = {f.stem.removeprefix("shard-"): None for f in files}
    return {key: h for key in found if (h := holder(home, key)) is not None}


def acquire(
    home: Path,
    what: str,
    *,
    owner: int | None = None,
    shard: str | None = None,
    wait_s: float | None = None,
    on_wait: Callable[[Holder], None] | None = None,
    poll_s: float = 1.0,
) -> bool:
    """Take the lease for process `owner` (default: this one): True when taken now, False when that
    process already held it. With `shard`, only that shard's lease: writers of different shards (the
    runs of a parallel backfill) go side by side, while the workspace lease excludes every shard's.
    While another live process holds what is needed, wait up to `wait_s` (default ECGNET_WRITER_WAIT,
    else 30 minutes), calling `on_wait(holder)` about every 30 s, then raise WorkspaceBusy."""
    pid = owner or os.getpid()
    wait_s = float(os.environ.get(WAIT_ENV, DEFAULT_WAIT_S)) if wait_s is None else wait_s
    deadline, told = time.monotonic() + wait_s, 0.0
    while True:
        with locked(home / "writer.lock"):
            whole = holder(home)
            if _mine(whole, pid) or (shard is not None and _mine(holder(home, shard), pid)):
                return False
            if shard is None:
                others = [h for h in _shard_holders(home).values() if not _mine(h, pid)]
            else:
                others = [h for h in (holder(home, shard),) if h is not None]
            current = whole or (others[0] if others else None)
            if current is None:
                mine = Holder(pid, socket.gethostname(), what, time.time(), process_start(pid))
                write_json_atomic(asdict(mine), _lease_file(home, shard))
                return True
        now = time.monotonic()
        if now >= deadline:
            raise WorkspaceBusy(
                f"workspace {home}{'' if shard is None else ' shard ' + shard} is being written by "
                f"{current.describe()}; fix: wait for it to finish (or stop it), or set {WAIT_ENV} to wait longer"
                + (
                    f"; it runs on another host, so if it is gone remove its lease file under {home}"
                    if current.host != socket.gethostname()
                    else ""
                )
            )
        if on_wait is not None and now - told >= 30.0:
            on_wait(current)
            told = now
        time.sleep(min(poll_s, max(0.0, deadline - now)))


def release(home: Path, owner: int | None = None, shard: str | None = None) -> None:
    """Give the lease (or the shard's) back if process `owner` (default: this one) holds it; a no-op otherwise."""
    pid = owner or os.getpid()
    with locked(home / "writer.lock"):
        if _mine(holder(home, shard), pid):
            _lease_file(home, shard).unlink(missing_ok=True)


@contextmanager
def writing(home: Path, what: str, **wait: Any) -> Iterator[None]:  # `acquire`'s keywords, passed on
    """The lease for this process for the block (`acquire`'s waiting options), given back after it
    unless this process already held it before."""
    taken = acquire(home, what, **wait)
    try:
        yield
    finally:
        if taken:
            release(home)
