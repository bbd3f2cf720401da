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
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from benchmarks.common import MITDB
from feature_store.backend import Array, Backend, cupy_backend, numpy_backend
from feature_store.config import IngestConfig
from feature_store.sources.annotated import AnnotatedBeatSource
from feature_store.sources.base import RecordRef
from feature_store.sources.errors import RecordError
from feature_store.tasks import BEATS
from feature_store.transforms.spectrogram import log_spectrogram
from feature_store.views.compute import array_features, lead_stats
from feature_store.views.families import FAMILIES

T = TypeVar("T")

SAMPLE_MITDB = Path(__file__).resolve().parents[1] / "data" / "sample" / "mitdb"


def beat_windows(folder: Path) -> np.ndarray:
    """(beats, 2, 720) context windows of every non-paced annotated record in `folder`."""
    cfg, out = IngestConfig(), []
    for hea in sorted(folder.glob("*.hea")):
        try:
            beats = AnnotatedBeatSource().load(RecordRef("annotated", hea.with_suffix(""), folder), cfg).beats
        except RecordError:
            continue  # paced records are excluded, as in ingest
        assert beats is not None  # an annotated record lands with its beats (or raises RecordError)
        out.append(beats.windows)
    return np.concatenate(out)


def timed(fn: Callable[[], T], sync: Callable[[], object] = lambda: None) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - start


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / (np.abs(b) + 1e-4))) if a.size else 0.0


def compare(signal: np.ndarray, gpu: Backend) -> bool:
    """Each family on NumPy and on CuPy over `signal`; True when every family agrees to 1e-4."""
    fs, crop, cpu = 360.0, IngestConfig().beat_span(), numpy_backend()
    stats = lead_stats(signal, fs=fs, pre=BEATS.view_params["time"].preprocess, backend=cpu)
    print(
        f"\n{'family':12s} {'CPU s':>8s} {'GPU s':>8s} {'CPU beats/s':>12s} {'GPU beats/s':>12s} "
        f"{'GPU / CPU':>9s}  outputs"
    )
    all_ok = True
    for family in FAMILIES:
        run = {"fs": fs, "params": BEATS.view_params[family], "stats": stats, "crop": crop}
        try:  # one failing family must not hide the others' figures
            on_cpu, t_cpu = timed(partial(array_features, FAMILIES[family], signal, backend=cpu, **run))
            array_features(FAMILIES[family], signal[: gpu.chunk_rows], backend=gpu, **run)  # warm-up, plans
            on_gpu, t_gpu = timed(
                partial(array_features, FAMILIES[family], signal, backend=gpu, **run), gpu.synchronize
            )
        except Exception:  # noqa: BLE001 - report and go on to the next family
            print(f"{family:12s} FAILED:\n{traceback.format_exc()}")
            all_ok = False
            continue
        ok = all(np.allclose(on_gpu[k], on_cpu[k], rtol=1e-4, atol=1e-4) for k in on_cpu)
        worst = max(max_rel_diff(on_gpu[k], on_cpu[k]) for k in on_cpu)
        all_ok &= ok
        n = len(signal)
        print(
            f"{family:12s} {t_cpu:8.2f} {t_gpu:8.2f} {n / t_cpu:12,.0f} {n / t_gpu:12,.0f} "
            f"{t_cpu / t_gpu:9.1f}  agree to 1e-4: {'yes' if ok else 'NO'} (max rel diff {worst:.1e})"
        )
    return all_ok


def copy_seconds(signal: np.ndarray, gpu: Backend) -> tuple[float, float]:
    """Seconds to copy `signal` to the device and back, in the chunks `map_chunks` uses."""
    _, up = timed(
        lambda: [gpu.xp.asarray(signal[i : i + gpu.chunk_rows]) for i in range(0, len(signal), gpu.chunk_rows)],
        gpu.synchronize,
    )
    on_device = gpu.xp.asarray(signal)
    _, down = timed(lambda: gpu.to_host(on_device))
    return up, down


def peak_bandwidth(xp: Any) -> tuple[str, float]:
    """(device name, peak memory bandwidth in bytes/s) from the memory clock and bus width."""
    rt = xp.cuda.runtime
    name = rt.getDeviceProperties(0)["name"].decode()
    # CUDA 13 dropped memoryClockRate from cudaDeviceProp; the device attribute still answers
    clock_khz = rt.deviceGetAttribute(rt.cudaDevAttrMemoryClockRate, 0)
    bus_bits = rt.deviceGetAttribute(rt.cudaDevAttrGlobalMemoryBusWidth, 0)
    return name, 2 * clock_khz * 1e3 * bus_bits / 8  # double data rate


def copy_bandwidth(xp: Any, nbytes: int = 2 << 30) -> float:
    """Bytes/s a device-to-device copy moves (read + write): what a streaming kernel can reach."""
    src = xp.ones(nbytes // 4, dtype=xp.float32)
    dst = xp.empty_like(src)
    dst[...] = src
    xp.cuda.Stream.null.synchronize()
    _, seconds = timed(lambda: [dst.__setitem__(Ellipsis, src) for _ in range(10)], xp.cuda.Stream.null.synchronize)
    return 10 * 2 * src.nbytes / seconds


def _chunked_spectrogram(x: Array, xp: Any, chunk_rows: int, **kwargs: Any) -> list[Array]:
    return [log_spectrogram(x[i : i + chunk_rows], xp, **kwargs) for i in range(0, len(x), chunk_rows)]


def scaled_spectrogram(signal: np.ndarray, gpu: Backend, rows: int, fs: float = 360.0) -> None:
    """Spectrogram step alone on the real beats tiled to 1/8, 1/4, 1/2 and all of `rows`, already on
    the device, chunk by chunk: how time grows with size, and the share of memory bandwidth used."""
    xp, params = gpu.xp, BEATS.view_params["spectrogram"]
    x_all = xp.asarray(np.tile(signal, (-(-rows // len(signal)), 1, 1))[:rows])
    sizes = params.stft_sizes(fs)
    name, peak = peak_bandwidth(xp)
    copy = copy_bandwidth(xp)
    print(
        f"\nScaled spectrogram on {name} (real beats tiled, on the device, chunks of {gpu.chunk_rows:,}); "
        f"peak {peak / 1e9:,.0f} GB/s, a device copy reaches {copy / 1e9:,.0f} GB/s"
    )
    print(f"{'beats':>10s} {'seconds':>8s} {'beats/s':>12s} {'GB/s':>7s} {'% peak':>7s} {'% copy':>7s}")
    for n in (rows // 8, rows // 4, rows // 2, rows):
        x = x_all[:n]
        run = partial(_chunked_spectrogram, x, xp, gpu.chunk_rows, fs=fs, fmax_hz=params.fmax_hz, **sizes)
        run()  # warm-up: cuFFT plans and kernels for these shapes (the result is dropped at once)
        out, seconds = timed(run, gpu.synchronize)
        frames = out[0].shape[-1] * sizes["nperseg"] * x.shape[0] * x.shape[1]
        # bytes that must cross memory at least once: read the beats, write + read the float64
        # frames, write + read the complex spectrum, write the float32 result (a lower bound)
        bins = sizes["nperseg"] // 2 + 1
        moved = x.nbytes + 2 * frames * 8 + 2 * frames // sizes["nperseg"] * bins * 16 + sum(o.nbytes for o in out)
        rate = moved / seconds
        print(
            f"{n:>10,d} {seconds:8.3f} {n / seconds:12,.0f} {rate / 1e9:7,.0f} {100 * rate / peak:7.0f} "
            f"{100 * rate / copy:7.0f}"
        )
        del out


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
        signal = np.tile(signal, (-(-args.tile_to // real), 1, 1))[: args.tile_to]
    print(
        f"GPU features: {len(signal):,} beats ({real:,} real beats from {args.mitdb}"
        f"{', tiled' if len(signal) > real else ''}), 2 leads x 720 samples at 360 Hz"
    )
    up, down = copy_seconds(signal, gpu)
    print(
        f"host -> device copy of the beats: {up:.3f} s; device -> host: {down:.3f} s "
        f"({signal.nbytes / 1e9:.2f} GB, pageable memory)"
    )
    ok = compare(signal, gpu)
    scaled_spectrogram(signal[:real], gpu, args.scaled_rows)
    if not ok:
        raise SystemExit("gpu: CuPy and NumPy disagree or a family failed (see above)")


if __name__ == "__main__":
    main()
