"""The per-record SciPy loop a user would write first: one record at a time, plain scipy calls.

It is the reference the batched transforms are checked against (tests) and the baseline they are
timed against (benchmarks/features.py); the pipeline never calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from scipy import signal, stats

from .preprocess import bandpass_sos

if TYPE_CHECKING:  # the families' params, for types only: the transforms import nothing of the views
    from ..views.families import FamilyParams, SpectralParams, SpectrogramParams, TimeParams


def preprocess_one(
    x: np.ndarray, *, fs: float, params: FamilyParams, mean: ArrayLike, std: ArrayLike
) -> tuple[np.ndarray, float]:
    """(leads, samples) -> band-passed, detrended, resampled, standardised float32."""
    pre = params.preprocess
    y = signal.sosfiltfilt(bandpass_sos(fs, pre.low_hz, pre.high_hz, pre.order), x, axis=-1)
    if pre.detrend:
        y = signal.detrend(y, axis=-1, type="linear")
    out_fs = pre.fs or fs
    if out_fs != fs:
        ratio = Fraction(out_fs / fs).limit_denominator(1000)
        y = signal.resample_poly(y, ratio.numerator, ratio.denominator, axis=-1)
    y = y.astype(np.float32)
    return (y - np.asarray(mean, np.float32)[:, None]) / np.asarray(std, np.float32)[:, None], out_fs


def time_one(y: np.ndarray, *, fs: float, params: TimeParams, crop: tuple[int, int] | None) -> dict:
    if crop is not None and params.beat_before_s is not None:  # the time view's own start, R peak at the centre
        crop = (y.shape[-1] // 2 - int(round(params.beat_before_s * fs)), crop[1])
    w = y if crop is None else y[:, crop[0] : crop[1]]
    moments = np.stack([w.mean(axis=-1), w.std(axis=-1), stats.skew(w, axis=-1), stats.kurtosis(w, axis=-1)], axis=-1)
    out = {"waveform": w, "moments": moments}
    if crop is not None:
        half, c = int(round(params.qrs_half_s * fs)), y.shape[-1] // 2
        out["qrs_energy"] = (y[:, c - half : c + half + 1] ** 2).sum(axis=-1)
        if params.strip_fs is not None:
            ratio = Fraction(params.strip_fs / fs).limit_denominator(1000)
            out["strip"] = signal.resample_poly(y, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)
    return out


def spectral_one(y: np.ndarray, *, fs: float, params: SpectralParams, crop: tuple[int, int] | None) -> dict:
    f, psd = signal.welch(y, fs=fs, nperseg=params.nperseg(fs), axis=-1)
    keep = f <= params.fmax_hz
    f, psd = f[keep], psd[:, keep]
    bands = np.stack([psd[:, (f >= lo) & (f < hi)].sum(axis=-1) * (f[1] - f[0]) for lo, hi in params.bands_hz], axis=-1)
    return {"psd": np.log10(psd + 1e-12), "band_power": np.log10(bands + 1e-12)}


def spectrogram_one(y: np.ndarray, *, fs: float, params: SpectrogramParams, crop: tuple[int, int] | None) -> dict:
    sizes = params.stft_sizes(fs)
    nperseg, hop = sizes["nperseg"], sizes["hop"]
    f, _, mag = signal.spectrogram(
        y.astype(np.float64),
        fs=fs,
        window="hann",
        nperseg=nperseg,
        noverlap=nperseg - hop,
        detrend=False,
        scaling="spectrum",
        mode="magnitude",
        axis=-1,
    )
    return {"spectrogram": np.log(mag[:, f <= params.fmax_hz, :] + 1e-6)}


# each takes its own family's params: the family name pairs them, which the types cannot follow
REFERENCE: dict[str, Callable[..., dict]] = {"time": time_one, "spectral": spectral_one, "spectrogram": spectrogram_one}


def reference_features(
    family: str,
    signals: np.ndarray,
    *,
    fs: float,
    params: FamilyParams,
    stats_: dict,
    crop: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
    """Loop over rows of (rows, leads, samples): the device-side columns of `family`, stacked."""
    rows = []
    for x in signals:
        y, out_fs = preprocess_one(x, fs=fs, params=params, mean=stats_["mean"], std=stats_["std"])
        scale = out_fs / fs
        c = None if crop is None else (int(round(crop[0] * scale)), int(round(crop[1] * scale)))
        rows.append(REFERENCE[family](y, fs=out_fs, params=params, crop=c))
    return {k: np.stack([r[k] for r in rows]).astype(np.float32) for k in rows[0]}
