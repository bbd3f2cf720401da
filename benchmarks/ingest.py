"""Ingest throughput on the full MIT-BIH database against a plain wfdb read loop.

Baseline: what a user would write first, `wfdb.rdrecord` + `wfdb.rdann` for every record, with no
validation, no beat windows and nothing written. The project's ingest adds validation, resampling,
beat windows and atomic Parquet writes; a re-run over unchanged inputs reads only fingerprints.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import wfdb

from benchmarks.common import mitdb_or_skip, timer
from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.raw_store import RawStore
from feature_store.sources.registry import discover


def main() -> None:
    mitdb = mitdb_or_skip("ingest")
    if mitdb is None:
        return
    cfg = IngestConfig()
    t: dict[str, float] = {}
    refs = discover([mitdb], cfg)["annotated"]
    with timer(t, "wfdb read loop (baseline)"):
        for ref in refs:
            wfdb.rdrecord(str(ref.path))
            wfdb.rdann(str(ref.path), "atr")
    with tempfile.TemporaryDirectory() as tmp:
        store = RawStore(Path(tmp) / "store")
        with timer(t, "ingest, first run"):
            report = ingest_kind("annotated", refs, store, cfg)
        with timer(t, "ingest, unchanged re-run"):
            again = ingest_kind("annotated", refs, store, cfg)
        size = sum(p.stat().st_size for p in store.root.rglob("*.parquet")) / 2**20
    assert again.unchanged == len(refs) and not again.landed
    base = t["wfdb read loop (baseline)"]
    print(
        f"\nIngest, MIT-BIH {len(refs)} records ({len(report.landed)} landed, "
        f"{sum(report.beats.values())} beats, {size:.0f} MB Parquet), CPU"
    )
    print(f"{'step':32s} {'seconds':>8s} {'records/s':>10s} {'x baseline time':>16s}")
    for name, seconds in t.items():
        print(f"{name:32s} {seconds:8.2f} {len(refs) / seconds:10.1f} {seconds / base:16.2f}")


if __name__ == "__main__":
    main()
