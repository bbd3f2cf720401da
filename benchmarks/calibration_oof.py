"""Calibration of ablation rows saved by `benchmarks.ablations --save-oof`, on DS1 alone: the out-of-fold
Brier score and ECE (every beat's top class, and S and V one-vs-rest: `ecgnet.calibration`) with 95 %
intervals from resampling DS1's patients, the same after a temperature cross-fitted by patient (fitted on
the other folds' patients by log loss, applied to each fold's; it moves no argmax, so no decision), and the
change it makes, paired by patient. What it answers: are the probabilities the comparison reports
calibrated where a model was not trained, and would recalibrating them help? DS2 is not read. A row may be
several files joined by "+", averaged, or a cross-validated comparison's results folder
(`<ECGNET_HOME>/training/<run>`: `data/` and `<variant>.npz`), read as every variant's out-of-fold
probabilities as it reports them (after decision offsets where kept; the test figures of the comparison
table are taken the same way). The late variants' combiners were fitted on these rows, so theirs flatter a
little.

    python -m benchmarks.calibration_oof ROW.npz|RUN_DIR [...] [--variants time early ...] [--folds 5] [--draws 200]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.model_selection import GroupKFold

from benchmarks.paired_rows import SavedRow, load_rows
from benchmarks.rhythm_rule import out_of_fold, saved_development
from ecgnet.calibration import TaskCalibration
from ecgnet.evaluate import bootstrap
from ecgnet.interval import Interval
from feature_store.tasks import BEATS

LOG_T = (-3.0, 3.0)  # temperatures from 0.05 to 20: far beyond any a trained network needs


def tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): sharper below 1, softer above; the order of a row's classes is kept."""
    z = np.log(np.clip(probs, 1e-7, 1.0)) / temperature
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the rows' log loss (Guo et al. 2017's temperature scaling)."""

    def log_loss(log_t: float) -> float:
        p = tempered(probs, float(np.exp(log_t)))[np.arange(len(y)), y]
        return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))

    return float(np.exp(minimize_scalar(log_loss, bounds=LOG_T, method="bounded").x))


def cross_fitted(row: SavedRow, folds: int) -> tuple[np.ndarray, list[float]]:
    """Each fold's patients' probabilities tempered by the temperature fitted on the others'."""
    out, temperatures = np.empty_like(row.probs, dtype=np.float64), []
    for fit, held in GroupKFold(folds).split(row.probs, row.y, row.patients):
        temperatures.append(fit_temperature(row.probs[fit], row.y[fit]))
        out[held] = tempered(row.probs[held], temperatures[-1])
    return out, temperatures


def calibration(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> dict[str, float]:
    """Brier and ECE, overall and per focus class (one-vs-rest), of beats rows."""
    return TaskCalibration.of(probs, y, False, classes, BEATS.focus_classes).figures()


def figures(probs: np.ndarray, row: SavedRow, classes: tuple[str, ...], draws: int) -> dict[str, Interval]:
    """`calibration` with patient-bootstrap intervals."""

    def of(rows: np.ndarray | slice) -> dict[str, float]:
        return calibration(probs[rows], row.y[rows], classes)

    ci = bootstrap(of, row.patients, n_boot=draws)
    return {k: Interval(v, *ci[k]) for k, v in of(slice(None)).items()}


def paired_change(after: np.ndarray, row: SavedRow, classes: tuple[str, ...], draws: int) -> dict[str, Interval]:
    """Each figure after the temperature minus as trained, both on the same resampled patients."""

    def change(rows: np.ndarray | slice) -> dict[str, float]:
        was = calibration(row.probs[rows].astype(np.float64), row.y[rows], classes)
        return {k: v - was[k] for k, v in calibration(after[rows], row.y[rows], classes).items()}

    ci = bootstrap(change, row.patients, n_boot=draws)
    return {k: Interval(v, *ci[k]) for k, v in change(slice(None)).items()}


def run_rows(run: Path, variants: list[str] | None) -> list[SavedRow]:
    """A cross-validated comparison's variants as rows: DS1's out-of-fold probabilities as each reports them."""
    _, dev = saved_development(run)
    saved = out_of_fold(run, dev, variants, [], key="val")
    return [SavedRow(name, probs, np.asarray(dev.y), dev.ids, dev.groups) for name, probs in saved.items()]


def report(row: SavedRow, classes: tuple[str, ...], folds: int, draws: int) -> None:
    """A row's calibration as trained and after the cross-fitted temperature."""
    after, temperatures = cross_fitted(row, folds)
    moved = int((after.argmax(axis=1) != row.probs.argmax(axis=1)).sum())
    print(f"{row.name}: {len(row.y):,} beats, {len(np.unique(row.patients))} patients")
    for label, probs in (("out of fold, as trained", row.probs.astype(np.float64)), ("temperature", after)):
        said = "  ".join(f"{k} {v}" for k, v in figures(probs, row, classes, draws).items())
        print(f"  {label:24s} {said}")
    change = paired_change(after, row, classes, draws)
    print(f"  {'change (paired)':24s} " + "  ".join(f"{k} {v.signed()}" for k, v in change.items()))
    print(f"  temperatures by fold: {', '.join(f'{t:.2f}' for t in temperatures)}; decisions moved: {moved}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", help="NN.npz (or several joined by +, averaged), or a comparison's folder")
    parser.add_argument("--variants", nargs="*", default=None, help="of a comparison's folder; default: every one")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--draws", type=int, default=200)
    args = parser.parse_args(argv)
    classes = BEATS.classes
    for argument in args.rows:
        rows = run_rows(Path(argument), args.variants) if Path(argument).is_dir() else [load_rows(argument)]
        for row in rows:
            if row.probs.shape[1] != len(classes):
                raise SystemExit(f"{argument}: {row.probs.shape[1]} classes, not the beats task's {len(classes)}")
            report(row, classes, args.folds, args.draws)


if __name__ == "__main__":
    main()
