"""Choosing the champion candidate and the promotion policy: pure functions over typed records.

The pipeline asks these; MLflow only stores what they decide (ecgnet.tracking).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from .interval import Interval

# registries written before every digit was kept hold the champion's metric to 6 decimals, rounded either
# way: an identical retrain must not read as worse by that last half-digit
TAG_ROUNDING = 5e-7


@dataclass(frozen=True)
class Candidate:
    """The variant a comparison proposes, chosen on validation alone (ecgnet.comparison.select), never on test."""

    task: str
    variant: str
    version: str  # registered model version of ecgnet-<task>-<variant>
    val: Interval  # the task's headline metric on validation, with its interval
    parent_run_id: str  # the MLflow comparison run
    metric: str = ""  # the headline metric's name (TaskSpec.metric_key)


@dataclass(frozen=True)
class Champion:
    """The model that holds the champion alias, as the registry remembers it."""

    name: str  # registered model name
    version: str
    val_metric: float
    val_metric_lo: float
    metric: str = ""  # the metric val_metric is in ("" when the registry did not record it)

    @property
    def identity(self) -> str:
        """`<registered model> v<version>`: what scored a record, as the scoring manifest and sensor key it."""
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class GateDecision:
    candidate: Candidate
    minimum: float
    previous: Champion | None
    passed: bool
    reasons: tuple[str, ...]  # why it refused; empty when it passed
    notes: tuple[str, ...] = ()  # what it could not compare

    def to_json(self) -> dict:
        return asdict(self)


def choose_candidate(val_metrics: Mapping[str, float]) -> str:
    """The variant with the best validation metric (the first in order on a tie); NaN never wins."""
    scored = {name: v for name, v in val_metrics.items() if v == v}
    if not scored:
        raise ValueError(
            f"no variant has a validation metric ({dict(val_metrics)}); fix: check that the "
            "validation split has rows of more than one class"
        )
    return max(scored, key=scored.__getitem__)


SELECTIONS = ("parsimony", "best")


def choose_parsimonious(
    val_metrics: Mapping[str, float], n_params: Mapping[str, int], gap_to_best: Mapping[str, Interval]
) -> str:
    """The smallest variant (fewest parameters; the better validation metric on a tie) among the best on
    validation and those not worse than it beyond noise: the upper end of their patient-paired difference
    to it (`gap_to_best`, validation only) at or above zero. A variant missing from `gap_to_best` was not
    compared and is not eligible. Breiman's one-standard-error rule, with the paired interval as the
    error: a draw among equals goes to the cheapest, not to whichever the noise put first."""
    best = choose_candidate(val_metrics)
    eligible = [best, *(n for n in within_noise(gap_to_best) if n != best)]
    return min(eligible, key=lambda n: (n_params[n], -val_metrics[n]))


def within_noise(gap_to_best: Mapping[str, Interval]) -> list[str]:
    """The variants the best on validation does not beat beyond noise: the upper end of their paired
    difference to it at or above zero."""
    return [n for n, gap in gap_to_best.items() if gap.hi >= 0]


def gate(candidate: Candidate, minimum: float, champion: Champion | None) -> GateDecision:
    """Promote when the validation metric reaches `minimum` and the upper end of its interval is not
    below the current champion's validation metric (not worse beyond its interval)."""
    reasons, notes = [], []
    if not candidate.val.value >= minimum:
        reasons.append(f"validation metric {candidate.val.value:.3f} < minimum {minimum}")
    if champion and champion.metric != candidate.metric:  # a task whose headline changed: not comparable
        notes.append(
            f"champion {champion.identity} was scored by {champion.metric or 'an unrecorded metric'}, "
            f"the candidate by {candidate.metric or 'an unrecorded metric'}: not compared"
        )
    elif champion and candidate.val.hi < champion.val_metric - TAG_ROUNDING:
        reasons.append(
            f"interval upper bound {candidate.val.hi:.3f} < champion {champion.identity} at {champion.val_metric:.3f}"
        )
    return GateDecision(candidate, minimum, champion, not reasons, tuple(reasons), tuple(notes))
