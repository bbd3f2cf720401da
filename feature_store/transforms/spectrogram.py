"""Spectrogram family: STFT log-magnitude per lead on a fixed (freq x frames) grid.

Framed windows times a batched real FFT: the same numbers as a per-record
`scipy.signal.spectrogram(..., mode="magnitude", scaling="spectrum", detrend=False)`, but one FFT
call per chunk (cuFFT caches one plan per shape); cupyx has no ShortTimeFFT.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from ..backend import Array, signal_module

EPS = 1e-6  # mV; floor under the log magnitude


def stft_grid(n_samples: int, *, fs: float, nperseg: int, hop: int, fmax_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies kept in Hz, frame centres in s) of `log_spectrogram` for this input length."""
    f = np.fft.rfftfreq(nperseg, 1.0 / fs)
    frames = 1 + (n_samples - nperseg) // hop
    return f[f <= fmax_hz], (np.arange(frames) * hop + nperseg / 2) / fs


def log_spectrogram(x: Array, xp: ModuleType, *, fs: float, nperseg: int, hop: int, fmax_hz: float) -> Array:
    """(rows, leads, F, frames) natural-log STFT magnitude of (rows, leads, samples)."""
    freqs, centres = stft_grid(x.shape[-1], fs=fs, nperseg=nperseg, hop=hop, fmax_hz=fmax_hz)
    idx = xp.asarray(np.arange(len(centres))[:, None] * hop + np.arange(nperseg)[None, :])
    # float64 frames: quiet bins sit 1e-4 below the loud ones, where float32 FFT rounding
    # would move their logarithm by 1e-3
    window = xp.asarray(signal_module(np).get_window("hann", nperseg), dtype=xp.float64)
    frames = x.astype(xp.float64)[..., idx] * window  # (rows, leads, frames, nperseg)
    mag = xp.abs(xp.fft.rfft(frames, axis=-1)[..., : len(freqs)]) / window.sum()
    return xp.log(mag + EPS).astype(xp.float32).swapaxes(-1, -2)  # (rows, leads, F, frames)
