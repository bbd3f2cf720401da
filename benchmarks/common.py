"""Shared by the benchmarks: where the full databases are, and a timer."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from feature_store.workspace import PROJECT_ROOT

# The full MIT-BIH database: the team's copy beside the checkout where there is one, else where `make mitdb`
# puts it (benchmarks.fetch_mitdb); ECGNET_BENCH_MITDB names another. The Makefile's MITDB default asks this
# module (standard library only, so it answers before the venv exists).
_TEAM_MITDB = PROJECT_ROOT.parent / "shared" / "data" / "mitdb"
MITDB = Path(
    os.environ.get("ECGNET_BENCH_MITDB", _TEAM_MITDB if _TEAM_MITDB.is_dir() else PROJECT_ROOT / "data" / "mitdb")
)


@contextmanager
def timer(results: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    results[name] = time.perf_counter() - start


def mitdb_or_skip(bench: str) -> Path | None:
    if not MITDB.is_dir():
        print(f"{bench}: skipped, no MIT-BIH folder at {MITDB} (`make mitdb` fetches it; or set ECGNET_BENCH_MITDB)")
        return None
    return MITDB


if __name__ == "__main__":
    print(MITDB)
