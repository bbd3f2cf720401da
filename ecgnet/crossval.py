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
from dataclasses import dataclass

import numpy as np

from .data import Split, TaskData
from .fusion import MeanEnsemble


def patient_folds(groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index per row: patients in a seeded, stable order dealt round-robin into `k` folds, so
    every patient is in exactly one fold and fold sizes differ by at most one patient."""
    patients = sorted(
        set(groups.tolist()), key=lambda p: hashlib.blake2b(f"{seed}:{p}".encode(), digest_size=8).hexdigest()
    )
    if len(patients) < k:
        raise ValueError(
            f"{k} folds need at least {k} patients in the development splits, found {len(patients)}; "
            "fix: lower `folds` or ingest more patients"
        )
    fold_of = {p: i % k for i, p in enumerate(patients)}
    return np.array([fold_of[g] for g in groups.tolist()], dtype=np.int64)


@dataclass
class Fold:
    index: int
    data: TaskData  # train: the other folds; val: this fold's patients; test: untouched
    rows: np.ndarray  # this fold's rows in the development split


def development(data: TaskData, *, inputs: bool = True) -> Split:
    """All rows choices may be made on: train and validation together (all of DS1 for beats); without
    `inputs`, their labels and patients only (nothing large copied)."""
    if not inputs:
        return data.train.labels().join(data.val.labels())
    return data.train.join(data.val)


def folds(scored: TaskData, k: int, seed: int) -> list[Fold]:
    """The k folds of the development rows of `scored` (as `scored_on_development` made it, so DS1 is
    joined once per variant, not again here)."""
    assert scored.train is scored.val, "folds() takes the data as scored_on_development returns it"
    dev = scored.val
    fold_id = patient_folds(dev.groups, k, seed)
    out = []
    for f in range(k):
        held, rest = np.flatnonzero(fold_id == f), np.flatnonzero(fold_id != f)
        fold = TaskData(scored.spec, dev.take(rest), dev.take(held), scored.test, scored.versions, scored.extra)
        out.append(Fold(f, fold, held))
    return out


def scored_on_development(data: TaskData) -> TaskData:
    """The task data as the cross-validated variants are scored: validation is every development row
    (their out-of-fold probabilities), test unchanged."""
    dev = development(data)
    return TaskData(data.spec, dev, dev, data.test, data.versions, data.extra)


class FoldEnsemble(MeanEnsemble):
    """The k fold members of one variant as one model: their mean probability."""


def member_index(fold: int, seed: int, per: int) -> int:
    """Where a fold ensemble keeps the member of `fold` and `seed` among its members: fold by fold, a
    fold's `per` seeds together (its last seed where it has fewer than asked)."""
    return fold * per + min(seed, per - 1)
