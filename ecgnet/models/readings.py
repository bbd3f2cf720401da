"""A beat's RR intervals read against each of its record's rhythm references in turn.

The time view reads every beat's two intervals against three references of its record (the mean, the
slow median, the 90th percentile; feature_store.transforms.rhythm). In DS1 they agree, so a model may
play them against each other; in a record whose references disagree as no training record's do (S beats
in runs at the record's usual pace, N beats after pauses: DS2's 232, DS1's S-runs instrument) that
combination reads S beats as N although each reference alone reads them as early. Readings make the
model use each reference on its own: in training, a share of rows has every reference column replaced
by one reference's reading, drawn per row; in evaluation, the embedding is the mean of the embeddings
of the row as it is and of each single-reference reading, so one misleading reference is outvoted.
Measured on DS1's S-runs instrument (README, 2026-12-02) it is not: there three of the four readings
mislead (only the 90th percentile reads the runs' S beats as early), so it stays off by default.
"""

from __future__ import annotations

import torch
from torch import nn

# the RR columns of a beat task's time scalars (feature_store.transforms.rhythm.BEAT_RR_NAMES, first in
# the scalars): the record mean in seconds, then (before, after) over each reference in order
RECORD_MEAN_S, LOCAL_MEAN_S, PREV_S = "rr_record_s", "rr_local_s", "rr_prev_s"
REFERENCE_PAIRS = (
    ("rr_prev_norm", "rr_next_norm"),
    ("rr_prev_slow_norm", "rr_next_slow_norm"),
    ("rr_prev_q90_norm", "rr_next_q90_norm"),
)


class ReferenceReadings(nn.Module):
    """Scalars (B, C) whose first columns are `rr_names` -> readings of them; no parameters."""

    pairs: torch.Tensor  # a buffer, declared for the type checker

    def __init__(self, rr_names: tuple[str, ...], share: float):
        super().__init__()
        missing = [n for n in (RECORD_MEAN_S, LOCAL_MEAN_S, PREV_S, *sum(REFERENCE_PAIRS, ())) if n not in rr_names]
        if missing:
            raise ValueError(f"reference readings need the RR columns {missing}; fix: set reference_readings=0")
        if not 0 < share <= 1:
            raise ValueError(f"reference_readings must be in (0, 1], got {share}")
        self.share = share
        self.seconds = [rr_names.index(RECORD_MEAN_S), rr_names.index(LOCAL_MEAN_S)]
        self.prev_s = rr_names.index(PREV_S)
        self.register_buffer(
            "pairs", torch.tensor([[rr_names.index(c) for c in p] for p in REFERENCE_PAIRS]), persistent=False
        )

    def read(self, scalars: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Every reference's columns replaced by those of `reference` (B,) (an index into the pairs), and
        the references in seconds (the record mean, the mean of the last ten intervals) by that reference
        in seconds: a beat in a run of premature beats is not early against its last ten intervals, and
        the reading is of one reference throughout."""
        out = scalars.clone()
        chosen = self.pairs[reference]  # (B, 2)
        values = scalars.gather(1, chosen)  # (B, 2): before and after over the chosen reference
        for pair in self.pairs:
            out[:, pair] = values
        out[:, self.seconds] = (scalars[:, self.prev_s] / values[:, 0].clamp_min(1e-3))[:, None]
        return out

    def draw(self, scalars: torch.Tensor) -> torch.Tensor:
        """Training: a `share` of rows read against one reference drawn per row (global torch RNG, as
        dropout)."""
        b = len(scalars)
        reference = torch.randint(len(self.pairs), (b,), device=scalars.device)
        chosen = torch.rand(b, device=scalars.device) < self.share
        return torch.where(chosen[:, None], self.read(scalars, reference), scalars)

    def all(self, scalars: torch.Tensor) -> list[torch.Tensor]:
        """Evaluation: the rows as they are, then read against each reference."""
        b = len(scalars)
        return [scalars] + [
            self.read(scalars, torch.full((b,), r, dtype=torch.long, device=scalars.device))
            for r in range(len(self.pairs))
        ]
