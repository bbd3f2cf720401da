"""Calibration: whether a variant's probabilities mean what they say, beside whether its decisions are
right. Two figures, each from one set of per-row values, so a patient bootstrap scores a draw by
weighting rows by how often their patient was drawn (`Calibration.figures`) instead of copying them:

- `brier`: the Brier score, a proper scoring rule (it rewards sharp and calibrated probabilities alike);
  scikit-learn's `brier_score_loss` for a single-label task (summed over classes: 0 to 2), and for a
  multi-label task the mean of each class's binary Brier score (0 to 1).
- `ece`: the expected calibration error over `BINS` equal-width bins of confidence (Guo et al. 2017):
  the weighted mean gap between how sure the model says it is and how often it is right. Single-label:
  the top class's probability against whether the top class is the label; multi-label: every class's
  probability against whether the class is present (each record-class pair a question). 0.05 reads
  "on average 5 points off". With few rows in a bin its gap is mostly noise, so read it with its
  interval; the reliability diagram (`ecgnet.plots.reliability_png`) shows the bins.

A single-label task also reports both for each focus class one-vs-rest (`TaskCalibration`: `ece_S`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 15  # Guo et al.'s; fewer make a coarse diagram, more leave bins of a few rows on small test splits


def row_brier(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> np.ndarray:
    """Each row's squared distance from its labels: summed over classes (single-label), or the mean
    over classes (multi-label); the Brier score is their mean."""
    onehot = y.astype(float) if multilabel else np.eye(probs.shape[1])[y]
    squared = (probs - onehot) ** 2
    return squared.mean(axis=1) if multilabel else squared.sum(axis=1)


def confidence_and_hits(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> tuple[np.ndarray, np.ndarray]:
    """What calibration compares, one pair per question: single-label, each row's top probability and
    whether its top class is the label; multi-label, each row's probability of each class (row-major)
    and whether that class is present."""
    if multilabel:
        return probs.ravel(), y.astype(float).ravel()
    return probs.max(axis=1), (probs.argmax(axis=1) == y).astype(float)


def bin_of(confidence: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The equal-width bin of each confidence in [0, 1]; 1.0 falls in the last bin."""
    return np.minimum((np.clip(confidence, 0.0, 1.0) * bins).astype(np.int64), bins - 1)


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram's bins: each bin's weight (rows, or weighted rows), mean confidence and
    hit rate (NaN where empty), over `bins` equal-width bins of [0, 1]."""

    weight: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @classmethod
    def of(cls, probs: np.ndarray, y: np.ndarray, multilabel: bool, bins: int = BINS) -> Reliability:
        confidence, hits = confidence_and_hits(probs, y, multilabel)
        b = bin_of(confidence, bins)
        weight = np.bincount(b, minlength=bins).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_conf = np.bincount(b, confidence, minlength=bins) / weight
            mean_hit = np.bincount(b, hits, minlength=bins) / weight
        return cls(weight, mean_conf, mean_hit)


@dataclass(frozen=True)
class Calibration:
    """The per-row values both figures are made of, computed once; `figures(weights)` for each draw."""

    brier_rows: np.ndarray  # (rows,)
    bins: np.ndarray  # (questions,): rows, or rows x classes for a multi-label task
    gaps: np.ndarray  # (questions,): hit minus confidence
    per_row: int  # questions a row (1, or the classes of a multi-label task)
    n_bins: int

    @classmethod
    def of(cls, probs: np.ndarray, y: np.ndarray, multilabel: bool, bins: int = BINS) -> Calibration:
        confidence, hits = confidence_and_hits(probs, y, multilabel)
        per_row = probs.shape[1] if multilabel else 1
        return cls(row_brier(probs, y, multilabel), bin_of(confidence, bins), hits - confidence, per_row, bins)

    def figures(self, weights: np.ndarray | None = None) -> dict[str, float]:
        """`brier` and `ece` with each row counted `weights` times (default once); NaN without rows."""
        if weights is None:
            weights = np.ones(len(self.brier_rows))
        total = float(weights.sum())
        if total <= 0:
            return {"brier": float("nan"), "ece": float("nan")}
        questions = np.repeat(weights, self.per_row) if self.per_row > 1 else weights
        gap_per_bin = np.bincount(self.bins, questions * self.gaps, minlength=self.n_bins)
        return {
            "brier": float(weights @ self.brier_rows / total),
            "ece": float(np.abs(gap_per_bin).sum() / (total * self.per_row)),
        }


@dataclass(frozen=True)
class TaskCalibration:
    """A split's calibration as a task reports it: every row's (`brier`, `ece`) and, for a single-label
    task, each focus class's one-vs-rest (`brier_S`, `ece_S`: is "60 % S" S six times in ten?). Top-label
    figures of a beats split are mostly its N beats'; the focus classes' are what a reader of S and V
    probabilities needs."""

    overall: Calibration
    focus: dict[str, Calibration]

    @classmethod
    def of(
        cls, probs: np.ndarray, y: np.ndarray, multilabel: bool, classes: tuple[str, ...], focus: tuple[str, ...]
    ) -> TaskCalibration:
        each = {} if multilabel else {n: Calibration.of(*one_vs_rest(probs, y, classes.index(n)), True) for n in focus}
        return cls(Calibration.of(probs, y, multilabel), each)

    def figures(self, weights: np.ndarray | None = None) -> dict[str, float]:
        out = self.overall.figures(weights)
        for name, cal in self.focus.items():
            out |= {one_class(k, name): v for k, v in cal.figures(weights).items()}
        return out


def one_class(figure: str, name: str) -> str:
    """A calibration figure of one focus class, as the test metrics name it: `ece_S`."""
    return f"{figure}_{name}"


def one_vs_rest(probs: np.ndarray, y: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Class `c`'s probability against whether the row is of class `c`, as a one-class multi-label task
    (a binary question per row): what `Calibration.of` and `Reliability.of` take with multilabel=True."""
    return probs[:, [c]], (y == c)[:, None]
