"""Rate conversion by polyphase filtering (scipy.signal / cupyx.scipy.signal resample_poly)."""

from __future__ import annotations

from fractions import Fraction
from types import ModuleType

import numpy as np

from ..backend import Array, signal_module


def rate_ratio(fs: float, target_fs: float) -> Fraction:
    """up / down of the polyphase conversion from `fs` to `target_fs`: a window of a signal that starts
    at a multiple of `down` input samples converts to the same samples as the whole signal there."""
    return Fraction(target_fs / fs).limit_denominator(1000)


def resampled_length(n: int, ratio: Fraction) -> int:
    """Samples `resample_poly` gives for `n` input samples at `ratio` (up / down): ceil(n x up / down)."""
    return -(-n * ratio.numerator // ratio.denominator)


def resample(x: Array, *, fs: float, target_fs: float, xp: ModuleType = np) -> tuple[Array, float]:
    """Resample `x` (..., samples) from `fs` to `target_fs` Hz; returns (signal float32, fs)."""
    if fs == target_fs:
        return x.astype(xp.float32, copy=False), float(fs)
    ratio = rate_ratio(fs, target_fs)
    y = signal_module(xp).resample_poly(x, ratio.numerator, ratio.denominator, axis=-1)
    return y.astype(xp.float32), float(target_fs)


def rescale_samples(samples: np.ndarray, *, fs: float, target_fs: float) -> np.ndarray:
    """Move sample indices (e.g. R peaks) from `fs` to `target_fs`."""
    if fs == target_fs:
        return samples.astype(np.int64)
    return np.round(samples * (target_fs / fs)).astype(np.int64)


def resample_spread_s(fs: float, target_fs: float) -> float:
    """How far (s) one input sample reaches into `resample`'s output either side: the half-length of
    resample_poly's default filter, 10 x max(up, down) taps at the up-sampled rate (0.08 s from 125 to
    360 Hz). What lies that near a dropout was computed partly from its stand-in samples."""
    if fs == target_fs:
        return 0.0
    ratio = rate_ratio(fs, target_fs)
    return 10 * max(ratio.numerator, ratio.denominator) / (ratio.numerator * fs)
