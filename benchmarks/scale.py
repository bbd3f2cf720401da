"""`make bench-scale`: partitioned ingest and features as the database grows, on the embedded default.

The MIT-BIH records (but the paced four) tiled 1x, 3x and 10x (copies of the real records under new
names: a renamed header, the signal and annotation files hard-linked; generated copies, for scaling
only) go through the ingest
and feature assets in one run over every shard, as `make demo` starts it (ECGNET_STAGES=ingest,features),
each in a fresh workspace and process: seconds per beat and the process's peak resident memory against
1x (targets: at most 1.3x the seconds per beat, memory under 4 GB and about flat). Then, on the 3x tile,
the same assets as a parallel backfill (a PostgreSQL instance of the workspace's own, `dagster-daemon`
running the shards as parallel runs, the product's code location) against that single run: the ratio.

    python -m benchmarks.scale [--mitdb PATH] [--scales 1,3,10] [--work DIR] [--no-backfill]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from feature_store.config import IngestConfig
from feature_store.raw_store import RawStore
from feature_store.shards import shard_count
from feature_store.workspace import PROJECT_ROOT, Workspace

from .common import MITDB
from .tiles import tile

STAGES = "ingest,features"
PACED = IngestConfig().paced_records  # excluded by ingest under their own names, not as copies
RSS_LIMIT_GB, GROWTH_LIMIT = 4.0, 1.3


@dataclass(frozen=True)
class Measured:
    what: str
    records: int
    beats: int
    seconds: float
    peak_gb: float | None  # the largest resident set of the run's process (None: runs of a daemon, not seen)

    @property
    def us_per_beat(self) -> float:
        return 1e6 * self.seconds / self.beats

    @property
    def single_peak_gb(self) -> float:
        """`peak_gb` of a single run, which always has one."""
        assert self.peak_gb is not None, f"{self.what}: a run of a daemon has no peak resident set"
        return self.peak_gb


def run_measured(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run `command`; its wall seconds and the peak resident set (GB) of it and its waited-for children."""
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, cwd=PROJECT_ROOT, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed; see {log}:\n{log.read_text()[-3000:]}")
    return seconds, usage.ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux


def single_run(src: Path, home: Path, what: str) -> Measured:
    env = {"ECGNET_DATA": str(src), "ECGNET_HOME": str(home), "ECGNET_STAGES": STAGES}
    seconds, peak = run_measured([sys.executable, "-m", "pipelines.demo"], env, home.with_suffix(".log"))
    return _measured(what, home, seconds, peak)


def backfill_run(src: Path, home: Path, what: str) -> Measured:
    """The same assets as a backfill of every shard on the server profile, shards as parallel runs."""
    from pipelines.postgres import LocalPostgres

    cluster = LocalPostgres.of(Workspace(home)).start()
    try:
        env = {"ECGNET_DATA": str(src), "ECGNET_HOME": str(home), "ECGNET_DAGSTER_PG_URL": cluster.url("dagster")}
        command = [sys.executable, "-m", "pipelines.backfill", "--daemon"]
        seconds, _ = run_measured(command, env, home.with_suffix(".log"))  # runs are the daemon's grandchildren
    finally:
        cluster.stop()
    return _measured(what, home, seconds, None)


def _measured(what: str, home: Path, seconds: float, peak: float | None) -> Measured:
    raw = RawStore(Workspace(home).store)
    records = raw.scan_records(("annotated",)).select(pl.len()).collect().item()
    beats = raw.scan_beats(("annotated",)).select(pl.len()).collect().item()
    return Measured(what, records, beats, seconds, peak)


def table(rows: list[Measured], base: Measured) -> str:
    lines = [
        "| run | records | beats | seconds | us per beat | vs 1x | peak RSS GB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.what} | {r.records} | {r.beats:,} | {r.seconds:.0f} | {r.us_per_beat:.0f} | "
            f"{r.us_per_beat / base.us_per_beat:.2f}x | {'n/a' if r.peak_gb is None else f'{r.peak_gb:.2f}'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mitdb", type=Path, default=MITDB, help="the MIT-BIH folder (ECGNET_BENCH_MITDB)")
    parser.add_argument("--scales", default="1,3,10", help="tile factors, the first is the base")
    parser.add_argument("--work", type=Path, default=None, help="a folder for tiles and workspaces (default /tmp)")
    parser.add_argument("--no-backfill", action="store_true", help="skip the parallel backfill against one run")
    args = parser.parse_args(argv)
    if not args.mitdb.is_dir():
        print(f"bench-scale: skipped, no MIT-BIH folder at {args.mitdb} (set MITDB= or ECGNET_BENCH_MITDB)")
        return 0
    scales = [int(s) for s in args.scales.split(",")]
    work = Path(tempfile.mkdtemp(prefix="ecgnet-scale-", dir=args.work or "/tmp"))
    work.chmod(0o755)  # the backfill's PostgreSQL runs as its own user and must enter the workspace
    print(f"bench-scale: MIT-BIH {args.mitdb} tiled {scales}, {shard_count()} shards, work folder {work}", flush=True)
    rows, backfill = [], None
    try:
        for factor in scales:
            src = work / f"tile{factor}x"
            records = tile(args.mitdb, factor, src, skip=PACED)
            row = single_run(src, work / f"home{factor}x", f"{factor}x, one run")
            print(
                f"  {factor}x: {records} records, {row.beats:,} beats in {row.seconds:.0f} s, "
                f"{row.us_per_beat:.0f} us/beat, peak {row.peak_gb:.2f} GB",
                flush=True,
            )
            rows.append(row)
            shutil.rmtree(work / f"home{factor}x", ignore_errors=True)  # 10x holds ~10 GB of Parquet
            if not args.no_backfill and factor == 3:
                backfill = backfill_run(src, work / "backfill3x", "3x, parallel backfill")
                print(f"  3x backfill: {backfill.seconds:.0f} s", flush=True)
                rows.append(backfill)
                shutil.rmtree(work / "backfill3x", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base, single = rows[0], [r for r in rows if r is not backfill]
    print("\n" + table(rows, base) + "\n")
    growth = single[-1].us_per_beat / base.us_per_beat
    peak = max(r.single_peak_gb for r in single)
    print(f"seconds per beat {scales[-1]}x / {scales[0]}x: {growth:.2f} (target <= {GROWTH_LIMIT})")
    print(
        f"peak RSS: {peak:.2f} GB at most, {single[-1].single_peak_gb / base.single_peak_gb:.2f}x the base "
        f"(target < {RSS_LIMIT_GB} GB)"
    )
    if backfill is not None:
        three = next(r for r in single if r.what.startswith("3x"))
        print(
            f"parallel backfill / single run at 3x: {backfill.seconds / three.seconds:.2f} "
            f"({backfill.seconds:.0f} s / {three.seconds:.0f} s, {os.cpu_count()} cores)"
        )
    return 0 if growth <= GROWTH_LIMIT and peak < RSS_LIMIT_GB else 1


if __name__ == "__main__":
    raise SystemExit(main())
