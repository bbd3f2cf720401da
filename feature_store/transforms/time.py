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
    safe = xp.where(var > 0, var, 1.0)  # a constant lead has no shape: report 0, not NaN
    skew = (centred**3).mean(axis=-1) / safe**1.5
    kurt = (centred**4).mean(axis=-1) / safe**2 - 3.0
    return xp.stack([mean[..., 0], std, skew * (var > 0), kurt * (var > 0)], axis=-1)


def centre_energy(x: Array, xp: ModuleType, *, centre: int, half: int) -> Array:
    """(rows, leads): sum of squares within +-half samples of `centre` (the R peak of a beat window)."""
    seg = x[..., max(centre - half, 0) : centre + half + 1]
    return (seg * seg).sum(axis=-1)
