"""Feature families on the full MIT-BIH beats, three ways in one run, with the outputs compared.

1. per-record loop: `feature_store.transforms.reference`, plain scipy.signal one beat at a time
   (what a user would write first);
2. batched CPU: the project's transforms on NumPy, in cache-sized chunks;
3. CuPy: the same transforms on the GPU, host<->device copies included (skipped without a GPU).
Then, on a GPU, a scaled run: the real beats tiled to about a million, spectrogram step alone.
(benchmarks/gpu.py does the GPU part without polars, for machines that lack it.)

    python -m benchmarks.features [--loop-rows N] [--scaled-rows N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from benchmarks.common import mitdb_or_skip
from benchmarks.gpu import scaled_spectrogram
from feature_store.backend import Backend, cupy_backend, numpy_backend
from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.raw_store import RawSnapshot, RawStore
from feature_store.sources.registry import discover
from feature_store.tasks import BEATS
from feature_store.transforms.reference import reference_features
from feature_store.views.compute import compute_features, fit_stats
from feature_store.views.families import FAMILIES
from feature_store.views.inputs import TaskInput, load_beats

T = TypeVar("T")


def beats_input(mitdb: Path, tmp: Path) -> TaskInput:
    store, cfg = RawStore(tmp / "store"), IngestConfig()
    report = ingest_kind("annotated", discover([mitdb], cfg)["annotated"], store, cfg)
    return load_beats(BEATS, [RawSnapshot("annotated", str(store.root), report.snapshot, report.record_ids)])


def tiled(inp: TaskInput, rows: int) -> TaskInput:
    """The same real beats repeated to `rows` (ids suffixed), for timing at full-database size."""
    reps = -(-rows // len(inp.signal))
    inp.signal = np.tile(inp.signal, (reps, 1, 1))[:rows]
    inp.keys = pl.concat([inp.keys.with_columns(pl.col("entity_id") + f"#{i}") for i in range(reps)]).head(rows)
    assert inp.beats is not None  # load_beats gives beat rows their beats table
    inp.beats = pl.concat([inp.beats.with_columns(pl.col("record_id") + f"#{i}") for i in range(reps)]).head(rows)
    return inp


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def agree(a: dict, b: dict, tol: float) -> str:
    """allclose(a, b, rtol=tol, atol=tol) as a number: the worst |a - b| / (tol + tol |b|), <= 1 passes."""
    worst = max(float(np.max(np.abs(a[k] - b[k]) / (tol + tol * np.abs(b[k])))) for k in b)
    return f"agree to {tol:g}: {'yes' if worst <= 1 else 'NO'} (worst {worst:.2f} of tolerance)"


def compare_family(family: str, inp: TaskInput, stats: Any, gpu: Backend | None, loop_rows: int) -> list[tuple]:
    params, fam, n = BEATS.view_params[family], FAMILIES[family], len(inp.signal)
    sub = np.linspace(0, n - 1, min(loop_rows, n)).astype(int)
    loop, t_loop = timed(
        lambda: reference_features(family, inp.signal[sub], fs=inp.fs, params=params, stats_=stats, crop=inp.crop)
    )
    cpu, t_cpu = timed(lambda: compute_features(fam, inp, params, stats, numpy_backend()))
    rows = [
        (family, "per-record scipy loop", len(sub), t_loop, "reference"),
        (family, "batched CPU (NumPy)", n, t_cpu, agree({k: cpu[k][sub] for k in loop}, loop, 1e-5)),
    ]
    if gpu is not None:
        compute_features(fam, inp, params, stats, gpu)  # warm-up: kernels compile, cuFFT plans cache
        out, t_gpu = timed(lambda: compute_features(fam, inp, params, stats, gpu))
        rows.append((family, f"CuPy ({gpu.name}, copies included)", n, t_gpu, agree(out, cpu, 1e-4)))
    return rows


def print_table(rows: list[tuple]) -> None:
    print(f"\n{'family':12s} {'path':38s} {'rows':>8s} {'s':>8s} {'rows/s':>10s} {'x loop':>8s} {'x CPU':>7s}  outputs")
    for family in dict.fromkeys(r[0] for r in rows):
        fam_rows = [r for r in rows if r[0] == family]
        loop_rate = fam_rows[0][2] / fam_rows[0][3]
        cpu_rate = fam_rows[1][2] / fam_rows[1][3]
        for _, path, n, seconds, check in fam_rows:
            rate = n / seconds
            print(
                f"{family:12s} {path:38s} {n:8d} {seconds:8.2f} {rate:10.0f} {rate / loop_rate:8.1f} "
                f"{rate / cpu_rate:7.1f}  {check}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--loop-rows", type=int, default=20000, help="beats the per-record loop runs over (rates compare per row)"
    )
    parser.add_argument("--scaled-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--tile-to",
        type=int,
        default=0,
        help="repeat the real beats up to this many rows (when only some records are at hand)",
    )
    args = parser.parse_args()
    mitdb = mitdb_or_skip("features")
    if mitdb is None:
        return
    try:
        gpu = cupy_backend()
    except RuntimeError as err:
        gpu = None
        print(f"features: no GPU ({err}); CuPy rows and the scaled run are skipped")
    with tempfile.TemporaryDirectory() as tmp:
        inp = beats_input(mitdb, Path(tmp))
        if args.tile_to > len(inp.signal):
            inp = tiled(inp, args.tile_to)
        stats = fit_stats(inp, BEATS.view_params["time"].preprocess, numpy_backend())
        rows = [r for family in FAMILIES for r in compare_family(family, inp, stats, gpu, args.loop_rows)]
    print(
        f"\nFeatures, MIT-BIH beats from {mitdb}{' tiled' if args.tile_to else ''} ({len(inp.signal):,} beats "
        f"x {inp.signal.shape[1]} leads x {inp.signal.shape[2]} samples at {inp.fs:g} Hz); rates are rows/s, "
        "ratios against the loop and against the batched CPU path"
    )
    print_table(rows)
    if gpu is not None:
        scaled_spectrogram(inp.signal, gpu, args.scaled_rows, fs=inp.fs)


if __name__ == "__main__":
    main()
