"""A beat's prematurity, read so that being early can only argue for an ectopic class.

The time view reads each beat's intervals against several references of its record (the mean of the last
ten intervals, the record mean, the slow median, the 90th percentile, the median of the intervals around
it; feature_store.transforms.rhythm). Fitted freely, a model plays them against each other: on MIT-BIH
DS1 a logistic regression on the log intervals gives the 90th-percentile reference a weight of the
opposite sign to the record mean's, so a beat early against both reads as N where the 90th percentile is
long (records with pauses). Physiology says otherwise: an atrial or ventricular premature beat comes
before the beat its record's rhythm would have given, against whichever reference, and coming earlier
never makes a beat more normal. `MonotoneRhythm` keeps that as a constraint: each reading is the log of a
reference over the beat's preceding interval (larger: earlier), and the premature classes' logits each
get a non-negative weighted sum of the readings, while the rest of the network no longer sees the beat's
own intervals. On DS1 (5-fold patient-grouped, N against S, logistic regression on the log intervals)
the constraint alone moved the out-of-fold S sensitivity 0.72 -> 0.79 and +P 0.16 -> 0.24, and found 44 %
of the S beats of the S-runs instrument where the free fit found none. In the time network it did not
carry over: DS1 5-fold CV 0.720 -> 0.681 (additive and gated alike), S under the runs 0.370 -> 0.34 and
0.31 (benchmarks/ABLATIONS.md), so it is off by default (ModelConfig.monotone_rhythm).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .readings import LOCAL_MEAN_S, PREV_S, RECORD_MEAN_S, REFERENCE_PAIRS

PREMATURE = ("S", "V")  # the classes a premature beat argues for: supraventricular and ventricular ectopy
RATIO_READINGS = tuple(prev for prev, _ in REFERENCE_PAIRS)  # preceding interval / each record reference
NEXT_S = "rr_next_s"
CONTEXT_PREV = "rr_m0"  # rr_context: log2 of the preceding interval over the median of the intervals around it
CONTEXT_NEXT = "rr_p0"
# the sign with which each RR column moves as a beat comes earlier (shorter before it against an unchanged
# reference, longer reference, longer pause after it), for constraints on models that read the columns
# themselves (the boosted reference, ecgnet.classical); rr_m0 and rr_p0 are log2 ratios to the median around
EARLIER = {
    PREV_S: -1,
    NEXT_S: +1,
    LOCAL_MEAN_S: +1,
    RECORD_MEAN_S: +1,
    **{prev: -1 for prev, _ in REFERENCE_PAIRS},
    **{nxt: +1 for _, nxt in REFERENCE_PAIRS},
    CONTEXT_PREV: -1,
    CONTEXT_NEXT: +1,
}
NORMAL = "N"  # the class coming earlier argues against
GAIN = 10.0  # a weight is GAIN * softplus(theta): logits of several units from readings of a few tenths
INITIAL_WEIGHT = 1.0


class MonotoneRhythm(nn.Module):
    """Scalars (B, C) whose first columns are `rr_names` (then `context_names`, where the view has
    `rr_context`) -> (B, classes) logits to add to a network's, non-decreasing in each reading for the
    premature classes and zero for the others; `masked` takes the beat's own intervals out of the scalars
    the rest of the network reads."""

    # buffers, declared for the type checker
    place: torch.Tensor
    own: torch.Tensor

    def __init__(
        self,
        rr_names: tuple[str, ...],
        context_names: tuple[str, ...],
        classes: tuple[str, ...],
        embed_dim: int | None = None,
    ):
        super().__init__()
        need = [n for n in (PREV_S, LOCAL_MEAN_S, NEXT_S, *RATIO_READINGS) if n not in rr_names]
        if need:
            raise ValueError(f"monotone rhythm needs the RR columns {need}; fix: set monotone_rhythm='off'")
        columns = {n: i for i, n in enumerate((*rr_names, *context_names))}
        self.ratio = [columns[n] for n in RATIO_READINGS]
        self.prev, self.local, self.next = columns[PREV_S], columns[LOCAL_MEAN_S], columns[NEXT_S]
        self.context = columns.get(CONTEXT_PREV)
        self.n_readings = len(RATIO_READINGS) + 2 + (self.context is not None)  # + local mean, + next
        self.rows = [classes.index(c) for c in PREMATURE if c in classes]
        if not self.rows:
            raise ValueError(f"monotone rhythm: none of {PREMATURE} among the classes {classes}")
        # (premature classes, classes): each premature class's evidence placed in its logit, zero elsewhere
        self.register_buffer("place", torch.eye(len(classes))[self.rows], persistent=False)
        start = math.log(math.expm1(INITIAL_WEIGHT / GAIN))  # softplus^-1: every weight starts at INITIAL_WEIGHT
        self.theta = nn.Parameter(torch.full((len(self.rows), self.n_readings), start))
        # gated: each row's weights also depend on the network's embedding of the beat (its shape), still
        # non-negative, so how much prematurity counts may differ by morphology (a ventricular shape: for V)
        self.gate = None if embed_dim is None else nn.Linear(embed_dim, self.theta.numel())
        if self.gate is not None:  # starts as the plain weights
            nn.init.zeros_(self.gate.weight), nn.init.zeros_(self.gate.bias)
        own = [*range(len(rr_names))] + [columns[n] for n in (CONTEXT_PREV, CONTEXT_NEXT) if n in columns]
        self.register_buffer("own", torch.tensor(own), persistent=False)

    def readings(self, scalars: torch.Tensor) -> torch.Tensor:
        """(B, readings): log(reference / preceding interval) for each reference (local mean, record mean,
        slow median, 90th percentile, the median around the beat), then log(following / preceding): the
        pause after a premature beat. Larger: the beat came earlier."""
        log = lambda v: torch.log(v.clamp_min(1e-3))  # noqa: E731
        prev = scalars[:, self.prev]
        parts = [log(scalars[:, self.local]) - log(prev), *(-log(scalars[:, c]) for c in self.ratio)]
        if self.context is not None:
            parts.append(-math.log(2.0) * scalars[:, self.context])
        parts.append(log(scalars[:, self.next]) - log(prev))
        return torch.stack(parts, dim=1)

    def weights(self, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """(premature classes, readings), or (B, premature classes, readings) when gated by `embedding`:
        non-negative by construction."""
        if self.gate is None or embedding is None:
            return GAIN * F.softplus(self.theta)
        return GAIN * F.softplus(self.theta + self.gate(embedding).view(-1, *self.theta.shape))

    def forward(self, scalars: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """(B, classes) logits: the readings weighted for each premature class, 0 for the others."""
        w, r = self.weights(embedding), self.readings(scalars)
        evidence = r @ w.T if w.dim() == 2 else torch.einsum("br,bcr->bc", r, w)  # (B, premature classes)
        return evidence @ self.place

    def masked(self, scalars: torch.Tensor) -> torch.Tensor:
        """`scalars` (normalised) with the beat's own intervals zeroed: what the rest of the network reads."""
        out = scalars.clone()
        out[:, self.own] = 0.0
        return out
