"""Training-time augmentation of beat waveforms: what differs between patients and recordings but not
between classes (gain, baseline, noise, where the window falls on the beat).

Applied to the time modality's waveform only (batch, leads, samples, standardised units), on the
device the batch is on; spectral and spectrogram inputs are computed offline and stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AugmentConfig:
    scale: float = 0.15  # gain drawn from U(1 - scale, 1 + scale), per row and lead
    noise: float = 0.05  # white noise standard deviation (standardised units)
    wander: float = 0.1  # standard deviation of an added offset and of a linear drift over the window
    shift: int = 5  # samples: the window moves by up to this many either way (edges repeat)


def augment_waveform(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """An augmented copy of (batch, leads, samples); the draws come from `generator` (on the CPU, so a
    resumed or repeated run sees the same ones) and move to x's device."""
    b, leads, n = x.shape
    draw = lambda *shape: torch.rand(*shape, generator=generator).to(x.device, x.dtype)  # noqa: E731
    normal = lambda *shape: torch.randn(*shape, generator=generator).to(x.device, x.dtype)  # noqa: E731
    gain = 1 + cfg.scale * (2 * draw(b, leads, 1) - 1)
    ramp = torch.linspace(-0.5, 0.5, n, device=x.device, dtype=x.dtype)
    wander = cfg.wander * (normal(b, leads, 1) + normal(b, leads, 1) * ramp)
    out = x * gain + wander + cfg.noise * normal(b, leads, n)
    if cfg.shift:
        offset = torch.randint(-cfg.shift, cfg.shift + 1, (b, 1, 1), generator=generator).to(x.device)
        idx = (torch.arange(n, device=x.device) + offset).clamp(0, n - 1).expand(b, leads, n)
        out = out.gather(2, idx)
    return out
