"""Evaluation with scikit-learn metrics: ROC-AUC, F1, AAMI figures, bootstrap intervals by patient."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score


def predictions(probs: np.ndarray, multilabel: bool) -> np.ndarray:
    """Decisions: argmax for single-label tasks, probability >= 0.5 per class for multi-label."""
    return (probs >= 0.5).astype(int) if multilabel else probs.argmax(axis=1)


def macro_auc(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> float:
    """Mean one-vs-rest ROC-AUC over the classes that have positives and negatives in `y`."""
    return _nan_safe(np.nanmean, per_class_auc(probs, y, multilabel))


def _nan_safe(fn, values, *args) -> float:
    """fn over the finite values; NaN (no warning) when there are none, e.g. a class never present."""
    values = np.asarray(values, dtype=float)
    return float(fn(values[np.isfinite(values)], *args)) if np.isfinite(values).any() else float("nan")


def per_class_auc(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> np.ndarray:
    onehot = y if multilabel else np.eye(probs.shape[1])[y]
    out = np.full(probs.shape[1], np.nan)
    for c in range(probs.shape[1]):
        if 0 < onehot[:, c].sum() < len(onehot):
            out[c] = roc_auc_score(onehot[:, c], probs[:, c])
    return out


def macro_f1(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> float:
    """F1 averaged over the classes present in `y` (absent classes would only add zeros)."""
    present = np.flatnonzero(y.sum(axis=0) > 0) if multilabel else np.unique(y)
    return float(f1_score(y, predictions(probs, multilabel), labels=present, average="macro",
                          zero_division=0))


def aami(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> dict[str, float]:
    """AAMI figures for beats: sensitivity (Se) and positive predictivity (+P) of S and V, accuracy."""
    cm = confusion_matrix(y, probs.argmax(axis=1), labels=range(len(classes)))
    out = {"accuracy": float(np.trace(cm) / cm.sum())}
    for name in ("S", "V"):
        c = classes.index(name)
        tp, fn, fp = cm[c, c], cm[c].sum() - cm[c, c], cm[:, c].sum() - cm[c, c]
        out[f"se_{name}"] = float(tp / (tp + fn)) if tp + fn else float("nan")
        out[f"pp_{name}"] = float(tp / (tp + fp)) if tp + fp else float("nan")
    return out


def point_metrics(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...], multilabel: bool) -> dict:
    """Macro and per-class ROC-AUC and F1 (NaN for a class absent from `y`), plus AAMI for beats."""
    aucs = per_class_auc(probs, y, multilabel)
    f1s = f1_score(y, predictions(probs, multilabel), labels=range(len(classes)), average=None, zero_division=0)
    present = (y.sum(axis=0) > 0) if multilabel else np.isin(np.arange(len(classes)), y)
    out = {"macro_auc": _nan_safe(np.mean, aucs), "macro_f1": macro_f1(probs, y, multilabel)}
    for c, name in enumerate(classes):
        out[f"auc_{name}"] = float(aucs[c])
        out[f"f1_{name}"] = float(f1s[c]) if present[c] else float("nan")
    if not multilabel:
        out.update(aami(probs, y, classes))
    return out


def _group_rows(groups: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(groups == g) for g in np.unique(groups)]


def bootstrap(metrics: Callable[[np.ndarray], dict], groups: np.ndarray, *, n_boot: int = 200,
              seed: int = 0) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of `metrics(rows)` resampling whole patients with replacement."""
    rng, by_group = np.random.default_rng(seed), _group_rows(groups)
    draws: dict[str, list[float]] = {}
    for _ in range(n_boot):
        rows = np.concatenate([by_group[i] for i in rng.integers(0, len(by_group), len(by_group))])
        for k, v in metrics(rows).items():
            draws.setdefault(k, []).append(v)
    return {k: (_nan_safe(np.percentile, v, 2.5), _nan_safe(np.percentile, v, 97.5)) for k, v in draws.items()}


def evaluate(probs: np.ndarray, y: np.ndarray, groups: np.ndarray, classes: tuple[str, ...],
             multilabel: bool, *, n_boot: int = 200, seed: int = 0) -> dict[str, float]:
    """Point metrics plus `<metric>_lo` / `<metric>_hi` bootstrap bounds (patients resampled)."""
    point = point_metrics(probs, y, classes, multilabel)
    ci = bootstrap(lambda r: point_metrics(probs[r], y[r], classes, multilabel), groups,
                   n_boot=n_boot, seed=seed)
    out = dict(point)
    for k, (lo, hi) in ci.items():
        out[f"{k}_lo"], out[f"{k}_hi"] = lo, hi
    return out


def paired_bootstrap(probs_a: np.ndarray, probs_b: np.ndarray, y: np.ndarray, groups: np.ndarray,
                     metric: Callable[[np.ndarray, np.ndarray], float], *, n_boot: int = 200,
                     seed: int = 0) -> dict[str, float]:
    """metric(a) - metric(b) on the same resampled patients: difference and 95 % interval."""
    diff = lambda rows: {"diff": metric(probs_a[rows], y[rows]) - metric(probs_b[rows], y[rows])}  # noqa: E731
    lo, hi = bootstrap(diff, groups, n_boot=n_boot, seed=seed)["diff"]
    return {"diff": diff(np.arange(len(y)))["diff"], "diff_lo": lo, "diff_hi": hi}


def n_parameters(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def latency_ms(model: torch.nn.Module, batch, *, repeats: int = 5) -> float:
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
