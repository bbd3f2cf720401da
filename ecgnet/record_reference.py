"""A multi-label task's record against the diagnosis it states (`predict --task records --reference`): its
header's (the Challenges' `# Dx:`, PTB Diagnostic's reason for admission) or its PTB-XL row's superclasses, as
the ingest lands them (`stated_labels`). A record's classes are called at probability 0.5, as the
comparison's test figures call them (`evaluate.predictions`); a folder adds the figures a 12-lead model is
read by: macro-AUC, macro-F1, each class's Se and +P, and the records whose every class was called right."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from feature_store.sources.stated_labels import stated_labels
from feature_store.tasks import TaskSpec

from .evaluate import macro_auc, macro_f1, predictions

if TYPE_CHECKING:
    from .predict import Prediction


@dataclass(frozen=True)
class LabelAgreement:
    """Records' class probabilities against their stated classes (both (records, classes))."""

    classes: tuple[str, ...]
    probs: np.ndarray
    truth: np.ndarray  # 0 / 1
    records: int = 1

    def __add__(self, other: LabelAgreement) -> LabelAgreement:
        return LabelAgreement(
            self.classes,
            np.concatenate([self.probs, other.probs]),
            np.concatenate([self.truth, other.truth]),
            self.records + other.records,
        )

    def to_json(self) -> dict:
        return {
            "kind": "labels",
            "classes": list(self.classes),
            "probs": self.probs.tolist(),
            "truth": self.truth.tolist(),
            "n_records": self.records,
        }

    @classmethod
    def from_json(cls, d: dict) -> LabelAgreement:
        truth = np.asarray(d["truth"], dtype=np.int64)
        return cls(tuple(d["classes"]), np.asarray(d["probs"], dtype=np.float64), truth, int(d["n_records"]))

    @property
    def called(self) -> np.ndarray:
        return predictions(self.probs, True)

    def counts(self) -> dict[str, int]:
        """Labels stated, called, stated but not called (missed) and called but not stated (extra)."""
        called, truth = self.called, self.truth.astype(bool)
        return {
            "labels": int(truth.sum()),
            "called": int(called.sum()),
            "missed": int((truth & ~called.astype(bool)).sum()),
            "extra": int((called.astype(bool) & ~truth).sum()),
        }

    def figures(self, task: TaskSpec) -> dict[str, float]:
        """Macro-AUC (classes stated in some records and not in others), macro-F1 (classes stated), the
        records called right in every class, and each class's Se and +P."""
        called, truth = self.called.astype(bool), self.truth.astype(bool)
        out = {
            "macro_auc": macro_auc(self.probs, self.truth, True),
            "macro_f1": macro_f1(self.probs, self.truth, True) if truth.any() else float("nan"),
            "exact_match": float((called == truth).all(axis=1).mean()),
        }
        for i, c in enumerate(self.classes):
            hit = int((called[:, i] & truth[:, i]).sum())
            out[f"se_{c}"] = hit / truth[:, i].sum() if truth[:, i].any() else float("nan")
            out[f"pp_{c}"] = hit / called[:, i].sum() if called[:, i].any() else float("nan")
        return out

    def line(self, task: TaskSpec, source: str) -> str:
        """One record: what it states and what was called; several: the figures."""
        if self.records == 1:
            stated, called = self._names(self.truth[0]), self._names(self.called[0])
            verdict = "agrees" if stated == called else "disagrees"
            return f"against {source}: stated {stated}, called {called} ({verdict})"
        c, f = self.counts(), self.figures(task)
        per_class = ", ".join(f"{cls} Se {_fig(f[f'se_{cls}'])} +P {_fig(f[f'pp_{cls}'])}" for cls in self.classes)
        return (
            f"against {source} ({c['labels']} stated label(s): {c['missed']} missed, {c['extra']} called extra): "
            f"macro-AUC {_fig(f['macro_auc'])}, macro-F1 {_fig(f['macro_f1'])}, every class right in "
            f"{_fig(f['exact_match'])} of the records; {per_class}"
        )

    def _names(self, row: np.ndarray) -> str:
        names = [c for c, on in zip(self.classes, row.tolist()) if on]
        return "+".join(names) if names else "none of the classes"

    def report_row(self, task: TaskSpec) -> tuple[dict[str, int | float], dict[str, float]]:
        """Every count and figure, flat (a row of `reference.report`)."""
        return dict(self.counts()), self.figures(task)

    def reference_column(self) -> list[str | None]:
        """Each record's stated classes, for its table row."""
        return [self._names(row) for row in self.truth]


def _fig(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.3f}"


def record_agreement(pred: Prediction, task: TaskSpec, root: Path | None = None) -> tuple[LabelAgreement, str]:
    """The record of `pred` against its stated diagnosis (`stated_labels`), and where that was read."""
    if pred.record is None:
        raise ValueError("a prediction without its record has nothing to compare")
    labels, source = stated_labels(pred.record, root)
    truth = np.array([[c in labels for c in task.classes]], dtype=np.int64)
    return LabelAgreement(task.classes, np.asarray(pred.probs[:1], dtype=np.float64), truth), source
