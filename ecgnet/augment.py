"""Training-time augmentation of beat waveforms: what differs between patients and recordings but not
between classes (gain, baseline, noise, where the window falls on the beat).

Applied to the time modality's waveform only (batch, leads, samples, standardised units), on the
device the batch is on; spectral and spectrogram inputs are computed offline and stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .config import AugmentConfig, ConductionSwap, RhythmJitter, ShapeDropout


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


JITTER_DRAWS = ("tempo", "local", "mean", "slow", "q90")
# RR column -> the draws that scale it, with their exponents (a reference in the denominator: -1)
RR_JITTER = {
    "rr_prev_s": {"tempo": 1},
    "rr_next_s": {"tempo": 1},
    "rr_local_s": {"tempo": 1, "local": 1},
    "rr_record_s": {"tempo": 1, "mean": 1},
    "rr_prev_norm": {"mean": -1},
    "rr_next_norm": {"mean": -1},
    "rr_prev_slow_norm": {"slow": -1},
    "rr_next_slow_norm": {"slow": -1},
    "rr_prev_q90_norm": {"q90": -1},
    "rr_next_q90_norm": {"q90": -1},
}


def rhythm_exponents(names: tuple[str, ...]) -> torch.Tensor:
    """(columns, draws) exponents of the RR columns `names`, in their order; raises for a column it does
    not know (a new RR feature needs a line in RR_JITTER)."""
    unknown = [n for n in names if n not in RR_JITTER]
    if unknown:
        raise ValueError(f"RR columns {unknown} have no rhythm jitter; fix: add them to ecgnet.augment.RR_JITTER")
    return torch.tensor([[RR_JITTER[n].get(d, 0) for d in JITTER_DRAWS] for n in names], dtype=torch.float32)


def jitter_rhythm(
    scalars: torch.Tensor, exponents: torch.Tensor, cfg: RhythmJitter, generator: torch.Generator
) -> torch.Tensor:
    """A copy of (batch, columns) scalars whose first len(exponents) columns (the RR ones, raw values)
    are scaled per row as `cfg` draws; the draws come from `generator` (CPU) like augment_waveform's."""
    b, k = len(scalars), len(exponents)
    spread = torch.tensor([cfg.tempo] + [cfg.reference] * (len(JITTER_DRAWS) - 1)).log()
    log_factor = (2 * torch.rand(b, len(JITTER_DRAWS), generator=generator) - 1) * spread
    factor = (log_factor @ exponents.T).exp().to(scalars.device, scalars.dtype)
    return torch.cat([scalars[:, :k] * factor, scalars[:, k:]], dim=1)


def swap_conduction(
    time: dict[str, torch.Tensor],
    target: torch.Tensor,
    rhythm_width: int,
    classes: tuple[int, int],
    share: float,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """A copy of a batch's time inputs (`waveform`, `scalars`) in which rows of class `classes[0]` take,
    each with probability `share`, the waveform and the scalars after the first `rhythm_width` of a row
    of class `classes[1]` drawn from the batch (draws from `generator`, CPU, like augment_waveform's);
    the inputs themselves where the batch has no donor or no row is drawn."""
    label, donor = classes
    takers = torch.nonzero(target.cpu() == label).flatten()
    donors = torch.nonzero(target.cpu() == donor).flatten()
    if not len(takers) or not len(donors):
        return time
    chosen = takers[torch.rand(len(takers), generator=generator) < share]
    given = donors[torch.randint(len(donors), (len(chosen),), generator=generator)]
    donated = lambda rows: rows[given.to(rows.device)]  # noqa: E731
    return _with_shape(time, chosen, rhythm_width, donated, donated)


def drop_shape(
    time: dict[str, torch.Tensor], rhythm_width: int, share: float, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """A copy of a batch's time inputs (`waveform`, `scalars`) in which each row, with probability `share`
    (draws from `generator`, CPU, like augment_waveform's), has its waveform replaced by each lead's mean
    over the batch and its scalars after the first `rhythm_width` by their batch means; unchanged where
    no row is drawn."""
    n = len(next(iter(time.values())))
    chosen = torch.nonzero(torch.rand(n, generator=generator) < share).flatten()
    return _with_shape(
        time,
        chosen,
        rhythm_width,
        lambda wave: wave.mean(dim=(0, 2), keepdim=True),  # each lead flat, at its batch level
        lambda scalars: scalars.mean(dim=0, keepdim=True),
    )


def _with_shape(
    time: dict[str, torch.Tensor],
    chosen: torch.Tensor,
    rhythm_width: int,
    waveform_of: Callable[[torch.Tensor], torch.Tensor],
    scalars_of: Callable[[torch.Tensor], torch.Tensor],
) -> dict[str, torch.Tensor]:
    """A copy of a batch's time inputs in which the `chosen` rows' shape is replaced: their waveform by
    `waveform_of` of the batch's waveforms, their scalars after the first `rhythm_width` (the morphology
    ones) by `scalars_of` of the batch's, each broadcast over the chosen rows (other beats' rows for the
    conduction swap, batch means for shape dropout); the rhythm scalars stay, the inputs themselves are not
    changed, and nothing is where no row is chosen."""
    if not len(chosen):
        return time
    out = dict(time)
    if "waveform" in out:
        wave = out["waveform"].clone()
        dest = chosen.to(wave.device)
        wave[dest] = waveform_of(out["waveform"]).expand(len(dest), -1, wave.shape[2])
        out["waveform"] = wave
    if "scalars" in out:
        scalars = out["scalars"].clone()
        dest = chosen.to(scalars.device)
        scalars[dest, rhythm_width:] = scalars_of(out["scalars"][:, rhythm_width:]).expand(len(dest), -1)
        out["scalars"] = scalars
    return out


@dataclass(frozen=True)
class RhythmPlan:
    """The rhythm jitter as one task takes it: what to draw, and its RR columns' exponents (rhythm_exponents)."""

    jitter: RhythmJitter
    exponents: torch.Tensor


@dataclass(frozen=True)
class BatchPlan:
    """What a training batch's time inputs go through, in this order, resolved once for a task from its
    TrainConfig (ecgnet.train): waveform augmentation, rhythm jitter, the conduction swap, shape dropout;
    a None config skips its step. The draws all come from one generator, so the order is part of a run."""

    waveform: AugmentConfig | None = None
    rhythm: RhythmPlan | None = None
    swap: ConductionSwap | None = None
    swap_classes: tuple[int, int] = (0, 0)  # with `swap`: the task's indices of its label and donor classes
    shape: ShapeDropout | None = None
    rhythm_width: int = 0  # with `swap` or `shape`: how many of the time scalars are rhythm

    def apply(
        self, time: dict[str, torch.Tensor], target: torch.Tensor, draws: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """A batch's time inputs (`waveform`, `scalars`) as training sees them; the inputs are not changed."""
        if self.waveform is not None and "waveform" in time:
            time = {**time, "waveform": augment_waveform(time["waveform"], self.waveform, draws)}
        if self.rhythm is not None and "scalars" in time:
            time = {**time, "scalars": jitter_rhythm(time["scalars"], self.rhythm.exponents, self.rhythm.jitter, draws)}
        if self.swap is not None:
            time = swap_conduction(time, target, self.rhythm_width, self.swap_classes, self.swap.share, draws)
        if self.shape is not None:
            time = drop_shape(time, self.rhythm_width, self.shape.share, draws)
        return time


def mix_rows(
    batch: dict[str, dict[str, torch.Tensor]], alpha: float, generator: torch.Generator
) -> tuple[dict[str, dict[str, torch.Tensor]], torch.Tensor, float]:
    """Mixup (Zhang et al. 2018): every input of every modality of a batch replaced by
    lam * row + (1 - lam) * partner, one lam ~ Beta(alpha, alpha) for the batch and each row's partner
    drawn by a permutation of the batch (draws from `generator`, CPU, like augment_waveform's). Returns
    the mixed batch, the partners' indices (to mix the loss with) and lam; lam is folded to >= 0.5 so
    each mixed row stays closer to its own label's row."""
    # torch's Beta takes no generator; a numpy draw seeded from `generator` keeps lam as repeatable
    lam = float(np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator))).beta(alpha, alpha))
    lam = max(lam, 1.0 - lam)
    n = len(next(iter(next(iter(batch.values())).values())))
    partner = torch.randperm(n, generator=generator)
    mixed = {
        m: {k: lam * v + (1.0 - lam) * v[partner.to(v.device)] for k, v in inputs.items()}
        for m, inputs in batch.items()
    }
    return mixed, partner, lam
