"""Preprocessing shared by every feature family: band-pass, baseline removal, rate, scale.

Arrays are (rows, leads, samples); every function takes `xp` (NumPy or CuPy) and gives the same
numbers on both. Filters are designed once on the host and copied to the device with the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import ModuleType

import numpy as np

from ..backend import Array, signal_module
from .resample import resample


@dataclass(frozen=True)
class PreprocessParams:
    low_hz: float = 0.5  # high-pass edge: removes baseline wander (respiration, movement)
    high_hz: float = 40.0  # low-pass edge: removes mains hum and EMG noise
    order: int = 2  # Butterworth order per direction; filtfilt doubles it and cancels phase
    detrend: bool = True  # subtract a linear fit per lead (wander left after the high-pass)
    fs: float | None = None  # Hz; resample to this rate, None keeps the stored rate


@cache
def bandpass_sos(fs: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    high = min(high_hz, 0.45 * fs)  # stay below Nyquist for low-rate records
    # designed on the host (scipy.signal, imported on first use: not when the definitions load)
    return signal_module(np).butter(order, [low_hz, high], btype="bandpass", fs=fs, output="sos")


def bandpass(x: Array, xp: ModuleType, *, fs: float, low_hz: float, high_hz: float, order: int) -> Array:
    """Zero-phase Butterworth band-pass along the last axis."""
    sos = xp.asarray(bandpass_sos(fs, low_hz, high_hz, order))
    return signal_module(xp).sosfiltfilt(sos, x, axis=-1)


def preprocess(x: Array, xp: ModuleType, params: PreprocessParams, *, fs: float) -> tuple[Array, float]:
    """Band-pass, detrend and resample (rows, leads, samples); returns (float32 signal, fs)."""
    y = bandpass(x, xp, fs=fs, low_hz=params.low_hz, high_hz=params.high_hz, order=params.order)
    if params.detrend:
        y = signal_module(xp).detrend(y, axis=-1, type="linear")
    return resample(y, fs=fs, target_fs=params.fs or fs, xp=xp)


def lead_moments(x: Array, xp: ModuleType) -> dict[str, Array]:
    """Per-lead count, sum and sum of squares (float64), to combine across chunks."""
    x64 = x.astype(xp.float64)
    return {
        "n": xp.asarray([x.shape[0] * x.shape[-1]], dtype=xp.float64),
        "sum": x64.sum(axis=(0, -1)),
        "sumsq": (x64 * x64).sum(axis=(0, -1)),
    }


def standardize(x: Array, xp: ModuleType, mean: np.ndarray, std: np.ndarray) -> Array:
    """Per-lead standardisation with statistics fitted on the train split."""
    m = xp.asarray(mean, dtype=xp.float32)[:, None]
    s = xp.asarray(std, dtype=xp.float32)[:, None]
    return (x - m) / s
