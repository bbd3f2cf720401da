"""Time-domain family on device: the standardised waveform, per-lead moments, QRS energy."""

from __future__ import annotations

from types import ModuleType

from ..backend import Array

MOMENT_NAMES = ("mean", "std", "skewness", "kurtosis")


def lead_moments4(x: Array, xp: ModuleType) -> Array:
    """(rows, leads, 4): mean, std, skewness and excess kurtosis of each lead over time."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1)
    std = xp.sqrt(var)
    # a constant lead has no shape: report 0, not NaN. Nor has one constant but for float32 rounding at a tiny
    # scale (a flat stretch after the filters, ~1e-11): its variance's powers underflow to 0, and x / 0 was NaN;
    # only those outputs change, every finite one stays the bit it was (the views' code version with it)
    safe = xp.where(var > 0, var, 1.0)
    skew_den, kurt_den = safe**1.5, safe**2
    skew_ok, kurt_ok = (var > 0) & (skew_den > 0), (var > 0) & (kurt_den > 0)
    skew = (centred**3).mean(axis=-1) / xp.where(skew_ok, skew_den, 1.0)
    kurt = (centred**4).mean(axis=-1) / xp.where(kurt_ok, kurt_den, 1.0) - 3.0
    return xp.stack([mean[..., 0], std, skew * skew_ok, kurt * kurt_ok], axis=-1)


def centre_energy(x: Array, xp: ModuleType, *, centre: int, half: int) -> Array:
    """(rows, leads): sum of squares within +-half samples of `centre` (the R peak of a beat window)."""
    seg = x[..., max(centre - half, 0) : centre + half + 1]
    return (seg * seg).sum(axis=-1)
