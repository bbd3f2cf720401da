"""`predict` on a long record: peak memory and time, scoring its rows `CPU_SCORE_ROWS` a pass against every
row in one pass (the baseline: `predict` before 2026-12-07), in one run; then the beats and the af task's rows of
the same record read in sections (as `predict` reads a record over ECGNET_MAX_RECORD_VALUES, here lowered to make
it one) against a whole read (the baseline: within the limit; beyond it, `predict` refused before 2026-12-07,
and the beats task until later that day); and the beats of the same record written as EDF, whole and in sections,
against the WFDB reads (the baseline).

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
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import wfdb

from benchmarks.common import mitdb_or_skip
from benchmarks.tiles import write_edf
from ecgnet.config import CPU_SCORE_ROWS
from feature_store.config import MAX_RECORD_VALUES_ENV

PACED = {"102", "104", "107", "217"}
SECTIONS = 8  # the sectioned runs' limit is lowered so that the record is read in about this many sections
ONE_PASS = 10**12  # rows a pass: all of them


def long_record(mitdb: Path, hours: float, out: Path) -> Path:
    """MIT-BIH's MLII + V1 records end to end (then again from the first) until `hours` long, cut to whole
    seconds (so that its EDF copy, in one-second data records, is the same record), as one WFDB record with
    its beats' `.atr`; its path without extension."""
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
    whole = offset // 360 * 360
    wfdb.wrsamp("long", fs=360, p_signal=np.concatenate(signals)[:whole], write_dir=str(out), **leads)
    beats = np.concatenate(samples)
    kept = beats < whole
    wfdb.wrann("long", "atr", beats[kept], symbol=[s for s, k in zip(symbols, kept) if k], write_dir=str(out))
    return out / "long"


def worker(record: Path, home: Path | None, rows: int, task: str = "beats") -> dict:
    """One `predict` of `record` for `task` scoring `rows` rows a pass: seconds, peak resident GB, rows per
    class (and, for a task of record rows, every window's name and probabilities)."""
    from functools import partial

    from ecgnet import export
    from ecgnet import predict as online
    from feature_store.tasks import task_named
    from feature_store.workspace import Workspace

    online.packed_probs = partial(export.packed_probs, rows=rows)  # what predict scores with
    workspace, spec = Workspace(home) if home else Workspace.default(), task_named(task)
    champion = online.load_champion(spec, workspace)
    start = time.perf_counter()
    pred = online.predict(record, spec, workspace, champion)
    seconds = time.perf_counter() - start
    counts = np.bincount(pred.probs.argmax(axis=1), minlength=len(pred.classes))
    out = {
        "seconds": seconds,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "rows": len(pred.ids),
        "classes": dict(zip(pred.classes, counts.tolist())),
        "notes": pred.notes,
    }
    return out | {"ids": pred.ids.tolist(), "probs": pred.probs.tolist()}  # compared across reads


def _run(record: Path, home: Path | None, rows: int, task: str, limit: int | None = None) -> dict | None:
    """`worker` in a process of its own (peak memory is a process's); None, said, where predict failed."""
    command = [sys.executable, "-m", "benchmarks.long_record", "--worker", str(record), "--rows", str(rows)]
    command += ["--task", task] + (["--home", str(home)] if home else [])
    env = os.environ | ({MAX_RECORD_VALUES_ENV: str(limit)} if limit else {})
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        print(
            f"long_record: skipped, predict --task {task} failed ({last[0]}); "
            "fix: run `make demo` first, or give --home"
        )
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--home", type=Path, default=None, help="the workspace with a beats champion (make demo's)")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--build", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=CPU_SCORE_ROWS, help=argparse.SUPPRESS)
    parser.add_argument("--task", default="beats", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.home, args.rows, args.task)))
        return
    mitdb = mitdb_or_skip("long_record")
    if mitdb is None:
        return
    if args.build is not None:
        record = long_record(mitdb, args.hours, args.build)
        write_edf(record, args.build / "edf", record.name, atr=True)  # the same record as a Holter exports it
        print(record)
        return
    with tempfile.TemporaryDirectory() as tmp:
        # built in a process of its own: a worker's peak resident set starts from this process's own, which
        # Linux carries across fork and exec (building 24 h here put a 2.6 GB floor under every worker's peak)
        build = [sys.executable, "-m", "benchmarks.long_record", "--build", tmp, "--hours", str(args.hours)]
        record = Path(subprocess.run(build, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        beats = {
            name: _run(record, args.home, rows, "beats")
            for name, rows in (("one pass (baseline)", ONE_PASS), (f"{CPU_SCORE_ROWS:,} rows a pass", CPU_SCORE_ROWS))
        }
        if None in beats.values():
            return
        frames = wfdb.rdheader(str(record)).sig_len
        limit = 2 * frames // SECTIONS  # values over both leads: about SECTIONS sections
        edf = record.parent / "edf" / record.name  # the same record written as EDF
        sectioned = {
            label: {name: _run(path, args.home, CPU_SCORE_ROWS, task, lim) for name, lim in sectioned_reads(limit)}
            for label, task, path in (("beats", "beats", record), ("af", "af", record), ("edf", "beats", edf))
        }
        exported = sectioned.pop("edf")
    for name, run in beats.items():
        assert run is not None
        print(
            f"{name}: {run['rows']:,} beats of {args.hours:g} h in {run['seconds']:.1f} s, {run['peak_gb']:.2f} GB peak"
        )
    before, now = beats.values()
    assert before is not None and now is not None
    print(f"peak memory, baseline / now: {before['peak_gb'] / now['peak_gb']:.2f}x")
    print(f"time, baseline / now: {before['seconds'] / now['seconds']:.2f}x")
    print(f"same predicted classes: {'yes' if before['classes'] == now['classes'] else 'NO'} ({now['classes']})")
    for task, runs in sectioned.items():
        _compare(task, runs["whole"], runs["sections"], limit)
    wfdb_beats = next(iter(sectioned.values()))  # the beats task's reads of the WFDB record, the first
    for how, run in exported.items():
        _compare_edf(how, wfdb_beats[how], run)


def sectioned_reads(limit: int) -> tuple[tuple[str, int | None], ...]:
    """A read of the whole record, and one in sections under `limit` values."""
    return (("whole", None), ("sections", limit))


def _compare_edf(how: str, wfdb_run: dict | None, edf_run: dict | None) -> None:
    """The beats of the record written as EDF against its WFDB original (the baseline), both read `how`."""
    if wfdb_run is None or edf_run is None:
        return
    took = f"{edf_run['seconds']:.1f} s, {edf_run['peak_gb']:.2f} GB peak"
    base = f"{wfdb_run['seconds']:.1f} s, {wfdb_run['peak_gb']:.2f} GB"
    print(f"beats, the record as EDF, read {how}: {edf_run['rows']:,} beats in {took} (WFDB, the baseline: {base})")
    time_ratio, memory_ratio = wfdb_run["seconds"] / edf_run["seconds"], wfdb_run["peak_gb"] / edf_run["peak_gb"]
    print(f"beats as EDF, read {how}: time WFDB / EDF {time_ratio:.2f}x, peak memory WFDB / EDF {memory_ratio:.2f}x")
    probs = dict(zip(wfdb_run["ids"], wfdb_run["probs"]))
    gaps = [
        np.abs(np.array(p) - np.array(probs[i])).max() for i, p in zip(edf_run["ids"], edf_run["probs"]) if i in probs
    ]
    print(
        f"beats as EDF, read {how}: {len(gaps):,} of its {edf_run['rows']:,} beats are the WFDB read's; largest "
        f"probability difference on them: {max(gaps, default=None)}"
    )


def _compare(task: str, whole: dict | None, sections: dict | None, limit: int) -> None:
    """A task's rows of the long record read in sections against a whole read (the baseline)."""
    if whole is None or sections is None:
        return
    from feature_store.tasks import task_named

    rows = "beats" if task_named(task).unit == "beat" else "windows"
    took = f"{whole['seconds']:.1f} s, {whole['peak_gb']:.2f} GB peak"
    print(f"{task}, read whole (baseline): {whole['rows']:,} {rows} in {took}")
    how = next(n for n in sections["notes"] if n.startswith("the record is over")).split(": ", 1)[1]
    print(
        f"{task}, {how} ({MAX_RECORD_VALUES_ENV}={limit:,}): {sections['rows']:,} {rows} in "
        f"{sections['seconds']:.1f} s, {sections['peak_gb']:.2f} GB peak"
    )
    print(f"{task} peak memory, whole / sections: {whole['peak_gb'] / sections['peak_gb']:.2f}x")
    print(f"{task} time, whole / sections: {whole['seconds'] / sections['seconds']:.2f}x")
    same = whole["ids"] == sections["ids"]
    gap = float(np.abs(np.array(whole["probs"]) - np.array(sections["probs"])).max()) if same else None
    print(f"{task}, the same {rows}: {'yes' if same else 'NO'}; largest probability difference: {gap}")


if __name__ == "__main__":
    main()
