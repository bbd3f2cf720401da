"""`predict` on a long record: peak memory and time, scoring its rows `CPU_SCORE_ROWS` a pass against every
row in one pass (the baseline: `predict` before 2026-12-07), in one run.

The long record is a scaling input, not a patient: consecutive MIT-BIH records whose leads are MLII and V1
(the paced ones left out), end to end with their `.atr`, until it is `--hours` long. Each setting runs in
its own process (peak memory is a process's), on the champion of the workspace `make demo` leaves
(`--home`); without one, or without the full MIT-BIH, it skips with a message.

    python -m benchmarks.long_record [--hours 8] [--home .ecgnet]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import wfdb

from benchmarks.common import mitdb_or_skip
from ecgnet.config import CPU_SCORE_ROWS

PACED = {"102", "104", "107", "217"}
ONE_PASS = 10**12  # rows a pass: all of them


def long_record(mitdb: Path, hours: float, out: Path) -> Path:
    """MIT-BIH's MLII + V1 records end to end (then again from the first) until `hours` long, as one WFDB
    record with its beats' `.atr`; its path without extension."""
    names = [
        hea.stem
        for hea in sorted(mitdb.glob("*.hea"))
        if hea.stem not in PACED and wfdb.rdheader(str(hea.with_suffix(""))).sig_name == ["MLII", "V1"]
    ]
    need, signals, samples, symbols, offset = int(hours * 3600 * 360), [], [], [], 0
    for name in itertools.cycle(names):
        if offset >= need:
            break
        path = str(mitdb / name)
        signal, ann = wfdb.rdrecord(path).p_signal, wfdb.rdann(path, "atr")
        signals.append(signal)
        samples.append(ann.sample + offset)
        symbols += ann.symbol
        offset += len(signal)
    leads = {"units": ["mV", "mV"], "sig_name": ["MLII", "V1"], "fmt": ["212", "212"]}
    wfdb.wrsamp("long", fs=360, p_signal=np.concatenate(signals), write_dir=str(out), **leads)
    wfdb.wrann("long", "atr", np.concatenate(samples), symbol=symbols, write_dir=str(out))
    return out / "long"


def worker(record: Path, home: Path | None, rows: int) -> dict:
    """One `predict` of `record` scoring `rows` rows a pass: seconds, peak resident GB, rows per class."""
    from functools import partial

    from ecgnet import export
    from ecgnet import predict as online
    from feature_store.tasks import BEATS
    from feature_store.workspace import Workspace

    online.packed_probs = partial(export.packed_probs, rows=rows)  # what predict scores with
    workspace = Workspace(home) if home else Workspace.default()
    champion = online.load_champion(BEATS, workspace)
    start = time.perf_counter()
    pred = online.predict(record, BEATS, workspace, champion)
    seconds = time.perf_counter() - start
    counts = np.bincount(pred.probs.argmax(axis=1), minlength=len(pred.classes))
    return {
        "seconds": seconds,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "rows": len(pred.ids),
        "classes": dict(zip(pred.classes, counts.tolist())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--home", type=Path, default=None, help="the workspace with a beats champion (make demo's)")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=CPU_SCORE_ROWS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.home, args.rows)))
        return
    mitdb = mitdb_or_skip("long_record")
    if mitdb is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        record = long_record(mitdb, args.hours, Path(tmp))
        runs = {}
        for name, rows in (("one pass (baseline)", ONE_PASS), (f"{CPU_SCORE_ROWS:,} rows a pass", CPU_SCORE_ROWS)):
            command = [sys.executable, "-m", "benchmarks.long_record", "--worker", str(record), "--rows", str(rows)]
            done = subprocess.run(
                command + (["--home", str(args.home)] if args.home else []), capture_output=True, text=True
            )
            if done.returncode != 0:
                last = done.stderr.strip().splitlines()[-1:] or ["no output"]
                print(f"long_record: skipped, predict failed ({last[0]}); fix: run `make demo` first, or give --home")
                return
            runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
    for name, run in runs.items():
        print(
            f"{name}: {run['rows']:,} beats of {args.hours:g} h in {run['seconds']:.1f} s, {run['peak_gb']:.2f} GB peak"
        )
    before, now = runs.values()
    print(f"peak memory, baseline / now: {before['peak_gb'] / now['peak_gb']:.2f}x")
    print(f"time, baseline / now: {before['seconds'] / now['seconds']:.2f}x")
    print(f"same predicted classes: {'yes' if before['classes'] == now['classes'] else 'NO'} ({now['classes']})")


if __name__ == "__main__":
    main()
