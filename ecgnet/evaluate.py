"""Evaluation with scikit-learn metrics: ROC-AUC, F1, AAMI figures, calibration (Brier score, ECE),
bootstrap intervals by patient."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, SupportsFloat

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, f1_score

from feature_store.tasks import macro_f1_key

from .calibration import TaskCalibration
from .interval import Interval

if TYPE_CHECKING:
    from feature_store.tasks import TaskSpec


def predictions(probs: np.ndarray, multilabel: bool) -> np.ndarray:
    """Decisions: argmax for single-label tasks, probability >= 0.5 per class for multi-label."""
    return (probs >= 0.5).astype(int) if multilabel else probs.argmax(axis=1)


def macro_auc(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> float:
    """Mean one-vs-rest ROC-AUC over the classes that have positives and negatives in `y`."""
    return _nan_safe(np.nanmean, per_class_auc(probs, y, multilabel))


def _nan_safe(fn: Callable[..., SupportsFloat], values: Sequence[float] | np.ndarray, *args: float) -> float:
    """fn over the finite values; NaN (no warning) when there are none, e.g. a class never present."""
    values = np.asarray(values, dtype=float)
    return float(fn(values[np.isfinite(values)], *args)) if np.isfinite(values).any() else float("nan")


def per_class_auc(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> np.ndarray:
    """One-vs-rest ROC-AUC of each class (NaN where `y` has no positives or no negatives of it): the
    tie-corrected Mann-Whitney statistic, what roc_auc_score gives, without its input checks, which
    cost a patient bootstrap of a multi-label task most of its time (2.5 ms a call on a few rows)."""
    onehot = y if multilabel else np.eye(probs.shape[1])[y]
    ones, out = np.ones(len(onehot)), np.full(probs.shape[1], np.nan)
    for c in range(probs.shape[1]):
        if 0 < onehot[:, c].sum() < len(onehot):
            out[c] = _Ranked.of(probs[:, c], onehot[:, c] > 0).auc(ones)
    return out


def macro_f1(probs: np.ndarray, y: np.ndarray, multilabel: bool, labels: tuple[int, ...] | None = None) -> float:
    """F1 averaged over the classes present in `y` (absent classes would only add zeros); `labels`:
    only those of these classes (a task's `metric_classes`)."""
    present = np.flatnonzero(y.sum(axis=0) > 0) if multilabel else np.unique(y)
    if labels is not None:
        present = np.intersect1d(present, labels)
    return float(f1_score(y, predictions(probs, multilabel), labels=present, average="macro", zero_division=0))


@dataclass(frozen=True)
class MacroF1:
    """A single-label task's macro-F1 as f(probs, y), like every headline, that can also be read off a
    confusion matrix: a patient bootstrap then sums each patient's matrix by how often it was drawn
    instead of scoring every draw's rows again (`resampled`)."""

    labels: tuple[int, ...] | None = None  # only these classes (a task's metric classes)

    def __call__(self, probs: np.ndarray, y: np.ndarray) -> float:
        return macro_f1(probs, y, False, self.labels)

    def of_confusion(self, cm: np.ndarray) -> float:
        """The same figure from the confusion matrix (rows: true class, columns: called), as scikit-learn
        computes it: 2 TP / (true + called) per class, averaged over the classes present."""
        present = np.flatnonzero(cm.sum(axis=1) > 0)
        if self.labels is not None:
            present = np.intersect1d(present, self.labels)
        return float(np.mean(_f1s(cm)[present])) if len(present) else 0.0


def _f1s(cm: np.ndarray) -> np.ndarray:
    denominator = cm.sum(axis=1) + cm.sum(axis=0)
    return np.divide(2.0 * np.diag(cm), denominator, out=np.zeros(len(cm)), where=denominator > 0)


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, bool], float]] = {"macro_f1": macro_f1, "macro_auc": macro_auc}


def headline(spec: TaskSpec) -> Callable[[np.ndarray, np.ndarray], float]:
    """The task's headline metric as f(probs, y): early stopping, choices on validation, the gate."""
    if not spec.multilabel and spec.metric == "macro_f1":  # metric classes restrict only this (TaskSpec)
        return MacroF1(spec.metric_labels)
    fn = METRICS[spec.metric]
    return lambda probs, y: fn(probs, y, spec.multilabel)


def aami(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...], focus: tuple[str, ...]) -> dict[str, float]:
    """AAMI EC57 figures: accuracy, sensitivity (Se) and positive predictivity (+P) of `focus` classes."""
    return _aami(confusion_matrix(y, probs.argmax(axis=1), labels=range(len(classes))), classes, focus)


def aami_line(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...], focus: tuple[str, ...]) -> str:
    """`aami`'s figures on one line, as the benchmarks print them: "accuracy 0.917 se_S 0.690 pp_S 0.382 ..."."""
    return " ".join(f"{k} {v:.3f}" for k, v in aami(probs, y, classes, focus).items())


def _aami(cm: np.ndarray, classes: tuple[str, ...], focus: tuple[str, ...]) -> dict[str, float]:
    return {"accuracy": float(np.trace(cm) / cm.sum()), **focus_se_pp(cm, classes, focus)}


def focus_se_pp(cm: np.ndarray, classes: tuple[str, ...], focus: tuple[str, ...]) -> dict[str, float]:
    """Sensitivity (Se) and positive predictivity (+P) of each `focus` class from the confusion matrix (rows:
    true class, columns: called; rows and columns past `classes` count against them: EC57's missed and
    extra beats, `reference.Agreement`)."""
    out = {}
    for name in focus:
        c = classes.index(name)
        tp, fn, fp = cm[c, c], cm[c].sum() - cm[c, c], cm[:, c].sum() - cm[c, c]
        out[f"se_{name}"] = float(tp / (tp + fn)) if tp + fn else float("nan")
        out[f"pp_{name}"] = float(tp / (tp + fp)) if tp + fp else float("nan")
    return out


def figure_label(name: str) -> str:
    """How a reader writes one of `aami`'s figures: "se_S" -> "S Se", "pp_V" -> "V +P" (AAMI EC57's names)."""
    kind, _, label = name.partition("_")
    return {"se": f"{label} Se", "pp": f"{label} +P"}.get(kind, name) if label else name


def per_group(
    probs: np.ndarray, y: np.ndarray, groups: np.ndarray, classes: tuple[str, ...], focus: tuple[str, ...]
) -> list[dict]:
    """`aami`'s figures of each group (patient) on its own, in sorted group order, with its number of
    rows and of each focus class's rows: where a pooled sensitivity is lost (NaN where a figure is
    undefined: no beat of the class, or none called it)."""
    if len(probs) != len(y):
        raise ValueError(
            f"{len(probs)} rows of probabilities for {len(y)} labels; fix: score the rows they were predicted on"
        )
    out = []
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        counts = {f"n_{c}": int((y[rows] == classes.index(c)).sum()) for c in focus}
        out.append({"group": str(group), "rows": len(rows), **counts, **aami(probs[rows], y[rows], classes, focus)})
    return out


@dataclass(frozen=True)
class Concentration:
    """How far one patient decides a pooled figure: the patient holding most of a focus class's rows, its
    share of them, and the class's sensitivity and positive predictivity pooled with and without that
    patient's rows. On MIT-BIH DS2, record 232 holds three quarters of the S beats, so the pooled S
    sensitivity is mostly that one patient's: a reader needs both numbers to judge a method."""

    label: str
    patient: str
    share: float
    se: float
    se_without: float
    pp: float
    pp_without: float

    def __str__(self) -> str:
        held = f"{self.label}: patient {self.patient} holds {self.share:.0%} of the {self.label} rows"
        if self.share == 1.0:  # nothing of the class is left without them
            return f"{held}; {self.label} Se {self.se:.3f}, all theirs; {self.label} +P {self.pp:.3f}"
        return (
            f"{held}; {self.label} Se {self.se:.3f}, {self.se_without:.3f} without them; "
            f"{self.label} +P {self.pp:.3f}, {self.pp_without:.3f} without them"
        )

    def tags(self) -> dict[str, str]:
        """MLflow tags: the patient, which a metric cannot hold."""
        return {f"ecgnet.dominant_patient.{self.label}": self.patient}

    def metrics(self) -> dict[str, float]:
        """MLflow metrics (the patient goes in `tags`: metrics are numbers)."""
        return {
            f"dominant_share_{self.label}": self.share,
            f"test_se_{self.label}_without_dominant": self.se_without,
            f"test_pp_{self.label}_without_dominant": self.pp_without,
        }


def concentration(
    probs: np.ndarray, y: np.ndarray, groups: np.ndarray, classes: tuple[str, ...], focus: tuple[str, ...]
) -> list[Concentration]:
    """Per focus class with rows in `y`: the patient with most of them (ties: the first in sorted order),
    and the class's figures with and without that patient's rows (`aami` on each; NaN without them
    where they are the only patient)."""
    groups, out = np.asarray(groups).astype(str), []
    for name in focus:
        mine = y == classes.index(name)
        if not mine.any():
            continue
        patients, counts = np.unique(groups[mine], return_counts=True)
        patient = str(patients[np.argmax(counts)])
        rest = groups != patient
        pooled = aami(probs, y, classes, (name,))
        nothing = {f"se_{name}": float("nan"), f"pp_{name}": float("nan")}
        without = aami(probs[rest], y[rest], classes, (name,)) if rest.any() else nothing
        out.append(
            Concentration(
                name,
                patient,
                float(counts.max() / mine.sum()),
                pooled[f"se_{name}"],
                without[f"se_{name}"],
                pooled[f"pp_{name}"],
                without[f"pp_{name}"],
            )
        )
    return out


def point_metrics(
    probs: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...],
    multilabel: bool,
    focus: tuple[str, ...] = (),
    metric_classes: tuple[str, ...] = (),
) -> dict:
    """Macro and per-class ROC-AUC and F1 (NaN for a class absent from `y`), and calibration (`brier`,
    `ece`: `ecgnet.calibration`); single-label tasks add accuracy, the AAMI figures of the `focus` classes
    and their one-vs-rest calibration (`ece_S`); `metric_classes` add the macro-F1 over those
    (macro_f1_N_S_V)."""
    aucs = per_class_auc(probs, y, multilabel)
    calibrated = TaskCalibration.of(probs, y, multilabel, classes, focus).figures()
    if not multilabel:
        cm = confusion_matrix(y, probs.argmax(axis=1), labels=range(len(classes)))
        return _single_label_figures(aucs, cm, classes, focus, metric_classes) | calibrated
    f1s = f1_score(y, predictions(probs, multilabel), labels=range(len(classes)), average=None, zero_division=0)
    present = y.sum(axis=0) > 0
    out = {"macro_auc": _nan_safe(np.mean, aucs), "macro_f1": macro_f1(probs, y, multilabel)}
    for c, name in enumerate(classes):
        out[f"auc_{name}"] = float(aucs[c])
        out[f"f1_{name}"] = float(f1s[c]) if present[c] else float("nan")
    return out | calibrated


def _single_label_figures(
    aucs: np.ndarray, cm: np.ndarray, classes: tuple[str, ...], focus: tuple[str, ...], metric_classes: tuple[str, ...]
) -> dict:
    """`point_metrics` of a single-label task from its per-class AUCs and its confusion matrix."""
    f1s, present = _f1s(cm), cm.sum(axis=1) > 0
    out = {"macro_auc": _nan_safe(np.mean, aucs), "macro_f1": MacroF1().of_confusion(cm)}
    for c, name in enumerate(classes):
        out[f"auc_{name}"] = float(aucs[c])
        out[f"f1_{name}"] = float(f1s[c]) if present[c] else float("nan")
    if metric_classes:
        labels = tuple(classes.index(c) for c in metric_classes)
        out[macro_f1_key(metric_classes)] = MacroF1(labels).of_confusion(cm)
    return out | _aami(cm, classes, focus)


def _group_rows(groups: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(groups == g) for g in np.unique(groups)]


def _patient_draws(patients: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """The bootstrap's draws, defined once: per draw, `patients` indices into the sorted patients,
    drawn with replacement (both `patient_resamples` and `patient_counts` read these)."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, patients, patients)


def patient_resamples(groups: np.ndarray, *, n_boot: int = 200, seed: int = 0) -> Iterator[np.ndarray]:
    """`n_boot` draws of rows, each whole patients drawn with replacement as many times as there are."""
    by_group = _group_rows(groups)
    for drawn in _patient_draws(len(by_group), n_boot, seed):
        yield np.concatenate([by_group[i] for i in drawn])


def patient_counts(groups: np.ndarray, *, n_boot: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The draws of `patient_resamples` as counts: each row's patient (an index into the sorted
    patients) and, per draw, how many times each patient was drawn, shape (n_boot, patients)."""
    patients, owner = np.unique(groups, return_inverse=True)
    counts = np.zeros((n_boot, len(patients)), np.int64)
    for b, drawn in enumerate(_patient_draws(len(patients), n_boot, seed)):
        counts[b] = np.bincount(drawn, minlength=len(patients))
    return owner.ravel(), counts


def _drawn_confusions(
    probs: np.ndarray, y: np.ndarray, groups: np.ndarray, *, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`patient_counts` and each draw's confusion matrix of the argmax decisions, (n_boot, k, k): every
    patient's own matrix summed as often as it was drawn."""
    owner, counts = patient_counts(groups, n_boot=n_boot, seed=seed)
    k, patients = probs.shape[1], counts.shape[1]
    cell = (owner * k + y) * k + probs.argmax(axis=1)
    own = np.bincount(cell, minlength=patients * k * k).reshape(patients, k * k)
    return owner, counts, (counts @ own).reshape(-1, k, k)


def resampled(
    metric: Callable[[np.ndarray, np.ndarray], float],
    probs: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """`metric` on each patient draw (the draws of `patient_resamples`): read off summed per-patient
    confusion matrices where the metric allows it (`MacroF1`), else scored on each draw's rows."""
    if isinstance(metric, MacroF1):
        _, _, cms = _drawn_confusions(probs, y, groups, n_boot=n_boot, seed=seed)
        return np.array([metric.of_confusion(cm) for cm in cms])
    return np.array([metric(probs[rows], y[rows]) for rows in patient_resamples(groups, n_boot=n_boot, seed=seed)])


def percentile_interval(draws: Sequence[float] | np.ndarray) -> tuple[float, float]:
    return _nan_safe(np.percentile, draws, 2.5), _nan_safe(np.percentile, draws, 97.5)


def bootstrap(
    metrics: Callable[[np.ndarray], dict], groups: np.ndarray, *, n_boot: int = 200, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of `metrics(rows)` resampling whole patients with replacement."""
    draws: dict[str, list[float]] = {}
    for rows in patient_resamples(groups, n_boot=n_boot, seed=seed):
        for k, v in metrics(rows).items():
            draws.setdefault(k, []).append(v)
    return {k: percentile_interval(v) for k, v in draws.items()}


def evaluate(
    probs: np.ndarray, y: np.ndarray, groups: np.ndarray, spec: TaskSpec, *, n_boot: int = 200, seed: int = 0
) -> dict[str, Interval]:
    """Every point metric with its bootstrap interval (patients resampled). Single-label tasks: each
    draw's figures from per-patient confusion matrices and its AUCs and calibration from the rows weighted
    by how often their patient was drawn, the same numbers as scoring each draw's rows, without copying them."""
    args = (spec.classes, spec.multilabel, spec.focus_classes, spec.metric_classes)
    point = point_metrics(probs, y, *args)
    if spec.multilabel:
        ci = bootstrap(lambda r: point_metrics(probs[r], y[r], *args), groups, n_boot=n_boot, seed=seed)
    else:
        owner, counts, cms = _drawn_confusions(probs, y, groups, n_boot=n_boot, seed=seed)
        ranked = [_Ranked.of(probs[:, c], y == c) for c in range(len(spec.classes))]
        calibration = TaskCalibration.of(probs, y, False, spec.classes, spec.focus_classes)
        draws: dict[str, list[float]] = {}
        for cm, drawn in zip(cms, counts):
            weights = drawn[owner].astype(np.float64)
            aucs = np.array([r.auc(weights) for r in ranked])
            figures = _single_label_figures(aucs, cm, spec.classes, spec.focus_classes, spec.metric_classes)
            for name, v in (figures | calibration.figures(weights)).items():
                draws.setdefault(name, []).append(v)
        ci = {name: percentile_interval(v) for name, v in draws.items()}
    return {k: Interval(v, *ci[k]) for k, v in point.items()}


@dataclass(frozen=True)
class _Ranked:
    """One class's scores sorted once, with their ties grouped, so that its ROC-AUC under any row
    weights (how often each row's patient was drawn) is the tie-corrected Mann-Whitney statistic: what
    roc_auc_score gives on the rows repeated that often."""

    order: np.ndarray
    tie: np.ndarray  # tie group of each sorted row, 0 .. groups - 1 in ascending score
    positive: np.ndarray  # of each sorted row

    @classmethod
    def of(cls, scores: np.ndarray, positive: np.ndarray) -> _Ranked:
        order = np.argsort(scores, kind="stable")
        ranked = scores[order]
        tie = np.concatenate([[0], np.cumsum(ranked[1:] != ranked[:-1])]) if len(ranked) else np.arange(0)
        return cls(order, tie, positive[order])

    def auc(self, weights: np.ndarray) -> float:
        w = weights[self.order]
        groups = int(self.tie[-1]) + 1 if len(self.tie) else 0
        pos = np.bincount(self.tie, w * self.positive, minlength=groups)
        neg = np.bincount(self.tie, w * ~self.positive, minlength=groups)
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos == 0 or total_neg == 0:
            return float("nan")  # as per_class_auc: a draw without positives or negatives of the class
        below = np.cumsum(neg) - neg
        return float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))


def metric_interval(
    metric: Callable[[np.ndarray, np.ndarray], float],
    probs: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> Interval:
    """`metric` of the rows with its patient-bootstrap interval."""
    draws = resampled(metric, probs, y, groups, n_boot=n_boot, seed=seed)
    return Interval(metric(probs, y), *percentile_interval(draws))


def paired_bootstrap(
    probs_a: np.ndarray,
    probs_b: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> Interval:
    """metric(a) - metric(b) on the same resampled patients: the difference and its 95 % interval."""
    a = resampled(metric, probs_a, y, groups, n_boot=n_boot, seed=seed)
    b = resampled(metric, probs_b, y, groups, n_boot=n_boot, seed=seed)
    return Interval(metric(probs_a, y) - metric(probs_b, y), *percentile_interval(a - b))


def n_parameters(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def latency_ms(model: torch.nn.Module, batch: dict[str, dict[str, torch.Tensor]], *, repeats: int = 5) -> float:
    """Median milliseconds per row for one forward pass over `batch` on the CPU."""
    model.eval()
    n = len(next(iter(next(iter(batch.values())).values())))
    times = []
    with torch.no_grad():
        model(batch)
        for _ in range(repeats):
            start = time.perf_counter()
            model(batch)
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)) / n
