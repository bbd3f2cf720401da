"""The feature families' array part on the GPU against the batched CPU path, polars-free.

Runs where the lent GPU machines are (CuPy, NumPy, SciPy and wfdb; no polars): reads MIT-BIH
records with wfdb, cuts the beat windows, and times preprocessing + each family's transforms on
NumPy and on CuPy (host<->device copies included), checking that the outputs agree; then the
scaled run: the real beats tiled to about a million, the spectrogram step alone, with the share of
the GPU's memory bandwidth it reaches.

    python3 -m benchmarks.gpu [--mitdb FOLDER] [--tile-to N] [--scaled-rows N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import MITDB
from feature_store.backend import Backend, cupy_backend, numpy_backend
from feature_store.config import IngestConfig
from feature_store.sources.annotated import AnnotatedBeatSource
from feature_store.sources.base import RecordRef
from feature_store.sources.errors import RecordError
from feature_store.views.compute import device_features, lead_stats
from feature_store.views.families import DEFAULT_PARAMS, FAMILIES

SAMPLE_MITDB = Path(__file__).resolve().parents[1] / "data" / "sample" / "mitdb"


def beat_windows(folder: Path) -> np.ndarray:
    """(beats, 2, 720) context windows of every non-paced annotated record in `folder`."""
    cfg, out = IngestConfig(), []
    for hea in sorted(folder.glob("*.hea")):
        try:
            out.append(AnnotatedBeatSource().load(RecordRef("annotated", hea.with_suffix(""), folder), cfg).beats.windows)
        except RecordError:
            continue  # paced records are excluded, as in ingest
    return np.concatenate(out)


def timed(fn, sync=lambda: None):
    start = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - start


def compare(signal: np.ndarray, gpu: Backend) -> None:
    fs, crop, cpu = 360.0, IngestConfig().beat_span(), numpy_backend()
    stats = lead_stats(signal, fs=fs, pre=DEFAULT_PARAMS[("beats", "time")].preprocess, backend=cpu)
    print(f"\n{'family':12s} {'CPU s':>8s} {'GPU s':>8s} {'CPU beats/s':>12s} {'GPU beats/s':>12s} "
          f"{'GPU / CPU':>9s}  outputs")
    for family in FAMILIES:
        run = dict(fs=fs, params=DEFAULT_PARAMS[("beats", family)], stats=stats, crop=crop)
        on_cpu, t_cpu = timed(lambda: device_features(FAMILIES[family], signal, backend=cpu, **run))
        device_features(FAMILIES[family], signal[:gpu.chunk_rows], backend=gpu, **run)  # warm-up, plans
        on_gpu, t_gpu = timed(lambda: device_features(FAMILIES[family], signal, backend=gpu, **run),
                              gpu.synchronize)
        ok = all(np.allclose(on_gpu[k], on_cpu[k], rtol=1e-4, atol=1e-4) for k in on_cpu)
        n = len(signal)
        print(f"{family:12s} {t_cpu:8.2f} {t_gpu:8.2f} {n / t_cpu:12,.0f} {n / t_gpu:12,.0f} "
              f"{t_cpu / t_gpu:9.1f}  agree to 1e-4: {'yes' if ok else 'NO'}")


def scaled_spectrogram(signal: np.ndarray, gpu: Backend, rows: int, fs: float = 360.0) -> None:
    """Spectrogram step alone on ~`rows` tiled real beats, already on the device."""
    from feature_store.transforms.spectrogram import log_spectrogram

    xp, params = gpu.xp, DEFAULT_PARAMS[("beats", "spectrogram")]
    x = xp.asarray(np.tile(signal, (-(-rows // len(signal)), 1, 1))[:rows])
    sizes = {"nperseg": int(round(params.window_s * fs)), "hop": int(round(params.hop_s * fs))}
    run = lambda: log_spectrogram(x, xp, fs=fs, fmax_hz=params.fmax_hz, **sizes)  # noqa: E731
    run()
    out, seconds = timed(run, gpu.synchronize)
    props = xp.cuda.runtime.getDeviceProperties(0)
    peak = 2 * props["memoryClockRate"] * 1e3 * props["memoryBusWidth"] / 8  # bytes/s, DDR
    frames = out.shape[-1] * sizes["nperseg"] * x.shape[0] * x.shape[1]
    moved = x.nbytes + 2 * frames * 8 + out.nbytes  # read beats, write+read float64 frames, write out
    print(f"\nScaled spectrogram on {props['name'].decode()}: {x.shape[0]:,} beats in {seconds:.3f} s "
          f"({x.shape[0] / seconds:,.0f} beats/s); ~{moved / seconds / 1e9:,.0f} GB/s of "
          f"{peak / 1e9:,.0f} GB/s peak ({100 * moved / seconds / peak:.0f} %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, default=MITDB if MITDB.is_dir() else SAMPLE_MITDB)
    parser.add_argument("--tile-to", type=int, default=0, help="repeat the real beats up to N rows")
    parser.add_argument("--scaled-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    try:
        gpu = cupy_backend()
    except RuntimeError as err:
        print(f"gpu: skipped, no GPU ({err})")
        return
    signal = beat_windows(args.mitdb)
    real = len(signal)
    if args.tile_to > real:
        signal = np.tile(signal, (-(-args.tile_to // real), 1, 1))[:args.tile_to]
    print(f"GPU features: {len(signal):,} beats ({real:,} real beats from {args.mitdb}"
          f"{', tiled' if len(signal) > real else ''}), 2 leads x 720 samples at 360 Hz")
    compare(signal, gpu)
    scaled_spectrogram(signal[:real], gpu, args.scaled_rows)


if __name__ == "__main__":
    main()
