"""Training data for one task, read through the feature store's one door (`training_set`).

Beats (MIT-BIH): train and validation come from DS1, split by patient; DS2 is the test set and is
never used for any choice. Records (PTB-XL style): the stored train / val / test splits.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # polars-free at run time: the CUDA training check runs where polars is not installed
    from feature_store.views.store import FeatureStore, TrainingSet

log = logging.getLogger(__name__)
CLASSES = {"beats": ("N", "S", "V", "F", "Q"), "records": ("NORM", "MI", "STTC", "CD", "HYP")}
MULTILABEL = {"beats": False, "records": True}
FAMILY_OF = {"time": "time", "frequency": "spectral", "spectrogram": "spectrogram"}
# modality input -> the view columns it is made of (several columns are flattened and joined)
INPUTS = {
    "time": {"waveform": ("waveform",), "scalars": ("rhythm", "moments", "qrs_energy")},
    "frequency": {"psd": ("psd",), "scalars": ("band_power",)},
    "spectrogram": {"image": ("spectrogram",)},
}


def view_of(task: str, modality: str) -> str:
    return f"{task}_{FAMILY_OF[modality]}"


@dataclass
class Split:
    x: dict[str, dict[str, np.ndarray]]  # modality -> input -> (n, ...) float32
    y: np.ndarray  # (n,) class index, or (n, classes) multi-hot
    ids: np.ndarray  # entity ids
    groups: np.ndarray  # patient ids: the unit the bootstrap resamples

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray) -> "Split":
        return Split({m: {k: v[rows] for k, v in inp.items()} for m, inp in self.x.items()},
                     self.y[rows], self.ids[rows], self.groups[rows])

    def join(self, other: "Split") -> "Split":
        return Split({m: {k: np.concatenate([v, other.x[m][k]]) for k, v in inp.items()}
                      for m, inp in self.x.items()},
                     np.concatenate([self.y, other.y]), np.concatenate([self.ids, other.ids]),
                     np.concatenate([self.groups, other.groups]))


@dataclass
class TaskData:
    task: str
    classes: tuple[str, ...]
    multilabel: bool
    train: Split
    val: Split
    test: Split
    versions: dict[str, str]  # feature view -> version read

    def shapes(self, modality: str) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape[1:]) for k, v in self.train.x[modality].items()}

    def stats(self, modality: str) -> dict[str, tuple]:
        """Train-split mean and std per input: per channel for signals, per column for scalars."""
        import torch

        out = {}
        for key, v in self.train.x[modality].items():
            axes = (0,) if v.ndim == 2 else (0, *range(2, v.ndim))
            mean, std = v.mean(axis=axes, keepdims=True)[0], v.std(axis=axes, keepdims=True)[0]
            out[key] = (torch.from_numpy(mean), torch.from_numpy(std))
        return out


def modality_inputs(ts: TrainingSet, task: str, modalities: tuple[str, ...] = tuple(INPUTS)) -> dict:
    """modality -> input -> (rows, ...) from the feature views of a training set (or online rows)."""
    x = {}
    for m in modalities:
        cols = ts.features[view_of(task, m)]
        x[m] = {key: (cols[c[0]] if len(c) == 1 and key != "scalars" else
                      np.concatenate([cols[name].reshape(len(ts.ids), -1) for name in c], axis=1))
                for key, c in INPUTS[m].items()}
    return x


def _split(ts: TrainingSet, task: str, modalities: tuple[str, ...]) -> Split:
    x = modality_inputs(ts, task, modalities)
    labels = ts.keys["labels"].to_list()
    classes = CLASSES[task]
    if MULTILABEL[task]:
        y = np.array([[c in lab for c in classes] for lab in labels], dtype=np.float32).reshape(-1, len(classes))
    else:
        y = np.array([classes.index(lab[0]) for lab in labels], dtype=np.int64)
    return Split(x, y, ts.ids, ts.keys["patient_id"].to_numpy())


def _labelled(split: Split, multilabel: bool) -> Split:
    """Records with no diagnostic superclass cannot be scored (PTB-XL benchmark drops them)."""
    return split.take(np.flatnonzero(split.y.sum(axis=1) > 0)) if multilabel else split


def patient_holdout(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Mask of rows whose patient falls in a stable, seeded `fraction` of patients (at least one)."""
    patients = sorted(set(groups.tolist()),
                      key=lambda p: hashlib.blake2b(f"{seed}:{p}".encode(), digest_size=8).hexdigest())
    n = min(max(1, round(fraction * len(patients))), len(patients) - 1)
    return np.isin(groups, patients[:n])


def load_task_data(store: FeatureStore, task: str, *, modalities=tuple(INPUTS), val_fraction: float = 0.25,
                   seed: int = 0, versions: dict[str, str] | None = None, recorded_before=None,
                   min_val_rows: int = 20) -> TaskData:
    """Train / val / test of a task, aligned across views. Beats: DS1 split by patient into train and
    val (`val_fraction` of patients), DS2 test. Records: the stored splits; when the stored val split
    has fewer than `min_val_rows` labelled records (a small folder, not PTB-XL's fold 9), a seeded
    `val_fraction` of train patients joins it, so early stopping and every choice on validation see
    more than a handful of records. Test is never touched.
    """
    views = [view_of(task, m) for m in modalities]
    read = lambda split: store.training_set(views, split, versions=versions,  # noqa: E731
                                            recorded_before=recorded_before)
    multilabel = MULTILABEL[task]
    if task == "beats":
        ds2 = read("DS2")
        ds1, test = _split(read("DS1"), task, modalities), _split(ds2, task, modalities)
        held = patient_holdout(ds1.groups, val_fraction, seed)
        train, val = ds1.take(np.flatnonzero(~held)), ds1.take(np.flatnonzero(held))
        versions_read = ds2.versions
    else:
        sets = {s: read(s) for s in ("train", "val", "test")}
        train, val, test = (_labelled(_split(sets[s], task, modalities), multilabel)
                            for s in ("train", "val", "test"))
        if len(val) < min_val_rows and len(set(train.groups.tolist())) > 1:
            held = patient_holdout(train.groups, val_fraction, seed)
            log.warning("task %r: %d labelled records in the val split (< %d); %d records of %.0f %% of "
                        "train patients join validation", task, len(val), min_val_rows, int(held.sum()),
                        100 * val_fraction)
            train, val = train.take(np.flatnonzero(~held)), val.join(train.take(np.flatnonzero(held)))
        versions_read = sets["test"].versions
    for name, split in (("train", train), ("val", val), ("test", test)):
        if len(split) == 0:
            raise ValueError(f"task {task!r}: the {name} split is empty; fix: ingest records of every "
                             "split (beats: DS1 and DS2; records: train, val and test)")
    return TaskData(task, CLASSES[task], multilabel, train, val, test, versions_read)
