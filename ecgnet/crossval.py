"""Patient-grouped cross-validation over the development rows (train and validation: DS1 for beats).

Each of k folds holds out whole patients: a member model trains on the other folds, stops early on
its own held-out patients, and predicts them. The out-of-fold probabilities cover every development
row once, so the variant is scored (and late combiners fitted) on rows no member trained on; the
model that is tested and registered is the fold ensemble (the members' mean probability), which needs
no second training run and carries each member's own early-stopping budget. The test split is never
seen by any of it.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from .data import Split, TaskData
from .fusion import MeanEnsemble


def patient_folds(groups: np.ndarray, k: int, seed: int, y: np.ndarray | None = None) -> np.ndarray:
    """Fold index per row, every patient in exactly one fold. Without `y`: patients in a seeded, stable
    order dealt round-robin into `k` folds, so fold sizes differ by at most one patient. With `y` (one
    label per row): scikit-learn's StratifiedGroupKFold, which places patients so that each fold's class
    mix stays as near the whole's as whole patients allow (every fold's members then train on, and stop
    early on, rows of every class the patients spread); it depends on `seed` only where patients tie."""
    patients = sorted(set(groups.tolist()))
    if len(patients) < k:
        raise ValueError(
            f"{k} folds need at least {k} patients in the development splits, found {len(patients)}; "
            "fix: lower `folds` or ingest more patients"
        )
    if y is not None:
        return _stratified(groups, k, seed, np.asarray(y))
    patients.sort(key=lambda p: hashlib.blake2b(f"{seed}:{p}".encode(), digest_size=8).hexdigest())
    fold_of = {p: i % k for i, p in enumerate(patients)}
    return np.array([fold_of[g] for g in groups.tolist()], dtype=np.int64)


def _stratified(groups: np.ndarray, k: int, seed: int, y: np.ndarray) -> np.ndarray:
    if y.ndim != 1:
        raise ValueError(f"stratified folds take one label per row, got labels of shape {y.shape}")
    fold_id = np.full(len(groups), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # a class with fewer rows than folds (MIT-BIH DS1's 8 Q beats) cannot reach every fold: the split
        # says so and goes on, which is what it should do here
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for f, (_, held) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
            fold_id[held] = f
    return fold_id


@dataclass
class Fold:
    index: int
    data: TaskData  # train: the other folds; val: this fold's patients; test: untouched
    rows: np.ndarray  # this fold's rows in the development split

    def patients(self) -> list[str]:
        """The patients this fold holds out, sorted: what a progress line names."""
        return sorted(set(np.asarray(self.data.val.groups).astype(str).tolist()))


def development(data: TaskData, *, inputs: bool = True) -> Split:
    """All rows choices may be made on: train and validation together (all of DS1 for beats); without
    `inputs`, their labels and patients only (nothing large copied)."""
    if not inputs:
        return data.train.labels().join(data.val.labels())
    return data.train.join(data.val)


def folds(scored: TaskData, k: int, seed: int, *, stratify: bool = False) -> list[Fold]:
    """The k folds of the development rows of `scored` (as `scored_on_development` made it, so DS1 is
    joined once per variant, not again here); `stratify`: patients placed by their class mix
    (`patient_folds` with the labels; single-label tasks only)."""
    assert scored.train is scored.val, "folds() takes the data as scored_on_development returns it"
    dev = scored.val
    fold_id = patient_folds(dev.groups, k, seed, dev.y if stratify else None)
    out = []
    for f in range(k):
        held, rest = np.flatnonzero(fold_id == f), np.flatnonzero(fold_id != f)
        fold = replace(scored, train=dev.take(rest), val=dev.take(held))
        out.append(Fold(f, fold, held))
    return out


def scored_on_development(data: TaskData) -> TaskData:
    """The task data as the cross-validated variants are scored: validation is every development row
    (their out-of-fold probabilities), test unchanged."""
    dev = development(data)
    return replace(data, train=dev, val=dev)


class FoldEnsemble(MeanEnsemble):
    """The k fold members of one variant as one model: their mean probability."""


def member_index(fold: int, seed: int, per: int) -> int:
    """Where a fold ensemble keeps the member of `fold` and `seed` among its members: fold by fold, a
    fold's `per` seeds together (its last seed where it has fewer than asked)."""
    return fold * per + min(seed, per - 1)
