"""An RBF support vector machine over the classical reference's hand-made features, on DS1 alone.

The family of Mondejar-Guerra et al. 2019 and Huang et al. 2014, who report the highest S sensitivity of
the inter-patient literature: a class-balanced RBF SVM, the N beats subsampled evenly (a kernel machine
over all of DS1's 45,813 N beats is slower and, measured, worse). It reads what `classical` reads
(`ecgnet.classical.HandMadeFeatures`: the waveform at 20 points a lead and every time-view scalar),
standardised on each fold's training rows, and is scored like every ablation row: patient-grouped 5-fold
cross-validation of DS1, the held-out-fold headline (mean +- sd) and the pooled out-of-fold figures.
DS2 records are never opened.

`--run` also blends it with a saved comparison's variant on DS1 out of fold (`--with`, default `time`),
the weight cross-fitted by patient: whether the SVM adds anything the chosen variant lacks, the way the
late fusion variants would use it.

    python -m benchmarks.svm_reference [--mitdb FOLDER] [--settings C,N_KEEP ...] [--run RESULTS] [--with time]
                                       [--save-oof DIR]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.special import softmax
from sklearn.svm import SVC

from benchmarks.ablations import _evenly, development
from benchmarks.common import MITDB
from benchmarks.rhythm_rule import chosen_out_of_fold, out_of_fold
from ecgnet import comparison
from ecgnet.classical import LinearReference, _features, standardisation
from ecgnet.config import ModelConfig
from ecgnet.crossval import folds
from ecgnet.data import TaskData
from ecgnet.evaluate import aami_line, headline, paired_bootstrap
from feature_store.tasks import BEATS

SETTINGS = ((1.0, 8000), (10.0, 8000), (0.1, 8000), (10.0, 0))  # (C, N rows kept; 0: all)
BLEND_WEIGHTS = np.linspace(0.0, 1.0, 11)  # the SVM's share of the blend
FOLDS = 5


def majority_subsample(y: np.ndarray, keep: int, majority: int = 0) -> np.ndarray:
    """Rows of `y` to train on: every row of the other classes, and `keep` of the `majority` class's,
    evenly over their order (rows come record by record, so every record keeps its share); 0: all."""
    rows = np.arange(len(y))
    major = rows[y == majority]
    if keep <= 0 or keep >= len(major):
        return rows
    picked = major[_evenly(len(major), keep / len(major))]
    return np.sort(np.concatenate([rows[y != majority], picked]))


class Svm:
    """A class-balanced RBF SVM on standardised features; `probs` is a softmax of its one-against-rest
    decision values, a class absent from training never chosen."""

    def __init__(self, c: float, n_classes: int):
        self.svc = SVC(C=c, kernel="rbf", gamma="scale", class_weight="balanced", decision_function_shape="ovr")
        self.n_classes = n_classes

    def fit(self, x: np.ndarray, y: np.ndarray) -> Svm:
        self.mean, self.std = standardisation(x)
        self.svc.fit((x - self.mean) / self.std, y)
        return self

    def probs(self, x: np.ndarray) -> np.ndarray:
        score = self.svc.decision_function((x - self.mean) / self.std)
        if score.ndim == 1:  # two classes: scikit-learn gives the second one's score
            score = np.stack([-score, score], axis=1)
        logits = np.full((len(x), self.n_classes), -np.inf)
        logits[:, self.svc.classes_] = score
        return softmax(logits, axis=1)


def cross_validate(dev: TaskData, x: np.ndarray, c: float, keep: int, k: int = FOLDS) -> tuple[np.ndarray, list]:
    """Out-of-fold probabilities over DS1 (`dev.val` rows, features `x`) and the held-out folds' headlines."""
    y, metric = np.asarray(dev.val.y), headline(dev.spec)
    oof, per_fold = np.zeros((len(y), len(dev.classes))), []
    for fold in folds(dev, k, 0):
        train = np.setdiff1d(np.arange(len(y)), fold.rows)
        train = train[majority_subsample(y[train], keep, dev.classes.index("N"))]
        oof[fold.rows] = Svm(c, len(dev.classes)).fit(x[train], y[train]).probs(x[fold.rows])
        per_fold.append(metric(oof[fold.rows], y[fold.rows]))
    return oof, per_fold


def blend(
    base: np.ndarray, other: np.ndarray, y: np.ndarray, groups: np.ndarray, metric: Callable[..., float]
) -> tuple[np.ndarray, list]:
    """`base` and `other` mixed, each fold of patients with the share of `other` (BLEND_WEIGHTS) that
    maximises the headline on the other patients; returns the blend and the shares chosen."""
    mixed, chosen = chosen_out_of_fold(
        groups,
        list(BLEND_WEIGHTS),
        lambda w, rows: (1 - w) * base[rows] + w * other[rows],
        lambda probs, rows: metric(probs, y[rows]),
    )
    return mixed, [round(float(w), 2) for w in chosen]


def _figures(probs: np.ndarray, y: np.ndarray, dev: TaskData) -> str:
    return aami_line(probs, y, dev.classes, dev.spec.focus_classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, default=MITDB)
    parser.add_argument("--settings", nargs="*", default=[f"{c},{n}" for c, n in SETTINGS], help="C,N_KEEP")
    parser.add_argument("--run", type=Path, help="a comparison's results folder (data/ and <variant>.npz)")
    parser.add_argument("--with", dest="variant", default="time", help="the saved variant to blend with")
    parser.add_argument("--save-oof", type=Path, help="write each setting's out-of-fold rows here")
    args = parser.parse_args()
    start = time.time()
    dev, _ = development(args.mitdb)
    x, y = _features(LinearReference(dev, ModelConfig()), dev.val), np.asarray(dev.val.y)
    metric = headline(dev.spec)
    print(f"DS1 {len(y):,} beats, {x.shape[1]} features, read in {time.time() - start:.0f} s", flush=True)
    saved = None
    if args.run is not None:
        run_dev = comparison.development(TaskData.load(args.run / "data", BEATS))
        saved = out_of_fold(args.run, run_dev, [args.variant], [])[args.variant].astype(np.float64)
        position = {beat: i for i, beat in enumerate(run_dev.ids)}
        saved = saved[[position[beat] for beat in dev.val.ids]]  # in this DS1's row order
        print(f"{args.variant} (saved run): OOF {metric(saved, y):.3f}; {_figures(saved, y, dev)}")
    for setting in args.settings:
        c_text, keep_text = setting.split(",")
        c, keep = float(c_text), int(keep_text)
        start = time.time()
        oof, per_fold = cross_validate(dev, x, c, keep)
        print(
            f"SVM C={c:g} N kept {keep or 'all'}: CV {np.mean(per_fold):.3f} +- {np.std(per_fold):.3f}, "
            f"OOF {metric(oof, y):.3f}; {_figures(oof, y, dev)} ({time.time() - start:.0f} s)",
            flush=True,
        )
        if args.save_oof is not None:
            args.save_oof.mkdir(parents=True, exist_ok=True)
            np.savez(args.save_oof / f"svm_C{c:g}_N{keep}.npz", ids=dev.val.ids, y=y, probs=oof, ablation=setting)
        if saved is not None:
            mixed, shares = blend(saved, oof, y, dev.val.groups, metric)
            gain = paired_bootstrap(mixed, saved, y, dev.val.groups, metric, n_boot=1000)
            print(f"  blended with {args.variant}: OOF {metric(mixed, y):.3f} ({gain}), SVM share by fold {shares}")


if __name__ == "__main__":
    main()
