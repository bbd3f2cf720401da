"""Shared by the benchmarks: where the full databases are, and a timer."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

from feature_store.workspace import PROJECT_ROOT

# The full MIT-BIH database lives beside the checkout for the team; users point ECGNET_BENCH_MITDB at theirs.
MITDB = Path(os.environ.get("ECGNET_BENCH_MITDB", PROJECT_ROOT.parent / "shared" / "data" / "mitdb"))


@contextmanager
def timer(results: dict, name: str):
    start = time.perf_counter()
    yield
    results[name] = time.perf_counter() - start


def mitdb_or_skip(bench: str) -> Path | None:
    if not MITDB.is_dir():
        print(f"{bench}: skipped, no MIT-BIH folder at {MITDB} (set ECGNET_BENCH_MITDB)")
        return None
    return MITDB
