"""Spectral family: Welch PSD per lead on a fixed frequency grid, and band powers."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from ..backend import Array, signal_module

EPS = 1e-12  # floor under the log: a band with no power must not give -inf


def welch_grid(nperseg: int, fs: float, fmax_hz: float) -> np.ndarray:
    """The frequencies (Hz) a Welch PSD with `nperseg` keeps up to `fmax_hz`."""
    f = np.fft.rfftfreq(nperseg, 1.0 / fs)
    return f[f <= fmax_hz]


def welch_psd(x: Array, xp: ModuleType, *, fs: float, nperseg: int, fmax_hz: float) -> Array:
    """(rows, leads, F) Welch PSD (mV^2/Hz, Hann, 50 % overlap) on the grid of `welch_grid`."""
    _, psd = signal_module(xp).welch(x, fs=fs, nperseg=nperseg, axis=-1)
    return psd[..., : len(welch_grid(nperseg, fs, fmax_hz))]


def band_powers(psd: Array, xp: ModuleType, *, freqs: np.ndarray, bands: tuple[tuple[float, float], ...]) -> Array:
    """(rows, leads, bands) power (mV^2) per [lo, hi) band, integrated over the PSD grid."""
    df = float(freqs[1] - freqs[0])
    masks = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in bands]).astype(np.float32)
    return psd @ xp.asarray(masks.T, dtype=psd.dtype) * df


def log10(x: Array, xp: ModuleType) -> Array:
    return xp.log10(x + EPS)
