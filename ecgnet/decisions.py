"""Decision offsets for single-label tasks: one shift per class added to the model's log-probabilities
before the argmax, chosen on out-of-fold validation probabilities to maximise the headline metric.

Why: the loss weights rare classes up (S and V beats are a few per cent of MIT-BIH), which buys
sensitivity with positive predictivity; and patients differ from the training ones, so the argmax of
the probabilities is rarely the decision that maximises macro F1. Offsets move each class's decision
boundary without retraining. They are fitted on validation rows only (out-of-fold under cross-
validation), and the validation metric a variant is chosen by is cross-fitted: offsets fitted on the
other patients' rows, applied to the held-out ones. Threshold-free metrics (ROC-AUC) and multi-label
tasks are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .data import Split, cross_fit
from .evaluate import headline, paired_bootstrap

if TYPE_CHECKING:
    from feature_store.tasks import TaskSpec

GRID = np.round(np.linspace(-3.0, 3.0, 25), 4)  # natural-log shifts: probability ratios e^-3 .. e^3


def apply_offsets(probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Probabilities renormalised after multiplying class c by exp(offsets[c])."""
    logits = np.log(np.clip(probs, 1e-7, 1.0)) + offsets
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def macro_f1_of(pred: np.ndarray, y: np.ndarray, n_classes: int, labels: tuple[int, ...] | None = None) -> float:
    """Macro F1 over the classes present in `y`, of `labels` when given (as ecgnet.evaluate.macro_f1,
    zero when a class is never predicted), from one confusion matrix: the search below evaluates it
    thousands of times."""
    cm = np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    tp, support, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    present = support > 0
    if labels is not None:
        present &= np.isin(np.arange(n_classes), labels)
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros(n_classes), where=(support + predicted) > 0)
    return float(f1[present].mean())


def fit_offsets(
    probs: np.ndarray, y: np.ndarray, labels: tuple[int, ...] | None = None, *, grid: np.ndarray = GRID, rounds: int = 3
) -> np.ndarray:
    """Per-class offsets maximising macro F1 (over `labels`, when given) of argmax(log p + offsets):
    coordinate ascent over the classes on `grid` (class 0 fixed at 0: only differences matter), a move
    kept only when it raises the score, so the result is all zeros when nothing helps."""
    n = probs.shape[1]
    logp, offsets = np.log(np.clip(probs, 1e-7, 1.0)), np.zeros(n)
    best = macro_f1_of(logp.argmax(axis=1), y, n, labels)
    for _ in range(rounds):
        moved = False
        for c in range(1, n):
            for value in grid:
                trial = offsets.copy()
                trial[c] = value
                s = macro_f1_of((logp + trial).argmax(axis=1), y, n, labels)
                if s > best + 1e-9:
                    best, offsets, moved = s, trial, True
        if not moved:
            break
    return offsets


def cross_fit_offsets(
    probs: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    labels: tuple[int, ...] | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Out-of-fold decided probabilities: offsets fitted on the other patients' rows, applied to each
    held-out fold; what a variant's validation metric is computed on once it has offsets."""
    out, _ = cross_fit(
        groups,
        lambda rows: fit_offsets(probs[rows], y[rows], labels),
        lambda offsets, rows: apply_offsets(probs[rows], offsets),
        folds=folds,
        seed=seed,
        dtype=np.float32,
    )
    return out


@dataclass(frozen=True)
class Decision:
    """How a model decides on validation: its kept offsets (None: the argmax), the validation
    probabilities it is judged by (cross-fitted when offsets are kept) and what the choice read."""

    offsets: np.ndarray | None
    val_probs: np.ndarray
    fitted: dict = field(default_factory=dict)


def decide(probs: np.ndarray, val: Split, spec: TaskSpec, *, min_gain: float, n_boot: int, seed: int) -> Decision:
    """Offsets kept only where their cross-fitted gain over the argmax, paired by patient, is beyond
    `min_gain` at its lower bound: on few patients offsets fitted to noise would move every decision."""
    metric, labels = headline(spec), spec.metric_labels
    crossed = cross_fit_offsets(probs, val.y, val.groups, labels, seed=seed)
    gain = paired_bootstrap(crossed, probs, val.y, val.groups, metric, n_boot=n_boot, seed=seed)
    fitted = {
        "val_metric_argmax": round(metric(probs, val.y), 4),
        "val_metric_offsets": round(metric(crossed, val.y), 4),
        "offsets_gain": gain.signed(),
    }
    if gain.lo <= min_gain:
        return Decision(None, probs, fitted)
    offsets = fit_offsets(probs, val.y, labels)
    fitted["offsets"] = {c: round(float(b), 3) for c, b in zip(spec.classes, offsets)}
    return Decision(offsets, crossed, fitted)


def kept_offsets(saved: dict[str, float] | None, classes: Sequence[str]) -> np.ndarray | None:
    """Offsets as `decide` records them in `fitted` (class -> shift), back as an array; None stays None."""
    return None if saved is None else np.array([saved[c] for c in classes])


class DecisionOffsets(nn.Module):
    """A trained single-label model with its decision offsets: logits + offsets, so softmax gives the
    decided probabilities (for models returning logits, log-probabilities or log mean probabilities)."""

    offsets: torch.Tensor  # a buffer, declared for the type checker

    def __init__(self, model: nn.Module, offsets: np.ndarray):
        super().__init__()
        self.model = model
        self.register_buffer("offsets", torch.as_tensor(offsets, dtype=torch.float32))

    def forward(self, x: object) -> torch.Tensor:  # x: whatever the wrapped model takes, handed on as it is
        return torch.log_softmax(self.model(x).float(), dim=1) + self.offsets
