"""Training data for one task, read through the feature store's one door (`training_set`).

The task spec's splits say which stored splits train, validate and test (beats: DS1 -> DS2, with
validation patients held out of DS1; records: PTB-XL's folds). Test is never used for any choice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from feature_store.tasks import view_name

if TYPE_CHECKING:  # polars-free at run time: the CUDA training check runs where polars is not installed
    import datetime as dt

    from numpy.typing import ArrayLike, DTypeLike

    from feature_store.tasks import TaskSpec
    from feature_store.views.catalog import ViewEntry
    from feature_store.views.store import FeatureStore

log = logging.getLogger(__name__)
Learnt = TypeVar("Learnt")  # what `cross_fit`'s `fit` learns from one fold's rows
SPLITS = ("train", "val", "test")  # a TaskData's splits, in the order every table shows them
FAMILY_OF = {"time": "time", "frequency": "spectral", "spectrogram": "spectrogram"}
# modality input -> the view columns it is made of (several columns are flattened and joined);
# a column in OPTIONAL joins where the view has it (`template`: beat views only; `rr_context` and `strip`:
# beat views whose TimeParams ask for them; an input made of absent optional columns is left out). The
# rhythm columns come first and the template's last (ecgnet.stress)
INPUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "time": {
        "waveform": ("waveform",),
        "strip": ("strip",),
        "scalars": ("rhythm", "rr_context", "moments", "qrs_energy", "template"),
    },
    "frequency": {"psd": ("psd",), "scalars": ("band_power",)},
    "spectrogram": {"image": ("spectrogram",)},
}
OPTIONAL = {"template", "rr_context", "strip"}


def rhythm_columns(spec: TaskSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The columns a beat task's time scalars start with: the RR columns, then `rr_context`'s where its
    time params ask for it (empty otherwise)."""
    from feature_store.transforms.rhythm import BEAT_RR_NAMES, rr_context_names  # only beat tasks need them

    context = getattr(spec.view_params.get("time"), "rr_context_beats", 0)
    return BEAT_RR_NAMES, rr_context_names(context) if context else ()


@dataclass(frozen=True)
class InputNames:
    """What the values of a task's packed inputs are called, for people (the attribution pictures, a
    served model's metadata): the lead slots, in the order every lead-wise input stacks them, and per
    modality and input a name for each value along its last axis (the scalars as packed: "rr_prev_norm",
    "MLII skewness", "V1 0.5-4 Hz"; the spectrum's frequencies: "12 Hz")."""

    leads: tuple[str, ...] = ()
    values: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def of(self, modality: str, key: str) -> list[str] | None:
        return self.values.get(modality, {}).get(key)

    def to_json(self) -> dict:
        return {"leads": list(self.leads), "values": self.values}

    @classmethod
    def from_json(cls, d: dict | None) -> InputNames:
        """From `to_json`; nothing named for data and models saved before the names were (2026-12-06)."""
        return cls(tuple(d.get("leads", ())), d.get("values", {})) if d else cls()


def input_names(spec: TaskSpec, views: Mapping[str, ViewEntry]) -> InputNames:
    """The names of the task's packed inputs, from its views' catalog entries (`describe`); an input the
    entries do not name is left out, and its pictures keep positions."""
    leads = [slot.name for slot in spec.window.leads]
    values: dict[str, dict[str, list[str]]] = {}
    for modality, inputs in INPUTS.items():
        entry = views.get(view_of(spec.name, modality))
        if entry is None:
            continue
        named: dict[str, list[str]] = {}
        if "scalars" in inputs:
            columns = [c for c in inputs["scalars"] if c in entry.columns]
            described = entry.describe
            named["scalars"] = [n for c in columns for n in _value_names(c, described.get(c), entry.columns[c], leads)]
        if "psd" in entry.columns and "freqs_hz" in entry.describe:
            named["psd"] = [f"{f:g} Hz" for f in entry.describe["freqs_hz"]]
        values[modality] = named
    return InputNames(tuple(leads), values)


def _value_names(column: str, described: object, shape: tuple[int, ...], leads: list[str]) -> list[str]:
    """The names of a column's values in the order `_flat` packs them (lead by lead)."""
    names = [n for n in described if n != "leads"] if isinstance(described, list) else []
    if len(shape) == 1 and len(names) == shape[0]:
        return [str(n) for n in names]
    if shape == (len(leads),) and described == "leads":
        return [f"{lead} {column}" for lead in leads]
    if len(shape) == 2 and shape[0] == len(leads) and len(names) == shape[1]:
        return [f"{lead} {n}" for lead in leads for n in names]
    return [f"{column}[{i}]" for i in range(int(np.prod(shape, dtype=np.int64)))]


def split_param(split: str, count: str) -> str:
    """The MLflow param of a split's size: `split.val.patients`, `split.test.rows`."""
    return f"split.{split}.{count}"


def view_of(task: str, modality: str) -> str:
    return view_name(task, FAMILY_OF[modality])


@dataclass
class Split:
    x: dict[str, dict[str, np.ndarray]]  # modality -> input -> (n, ...) float32
    y: np.ndarray  # (n,) class index, or (n, classes) multi-hot
    ids: np.ndarray  # entity ids
    groups: np.ndarray  # patient ids: the unit the bootstrap resamples

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray) -> Split:
        return Split(
            {m: {k: v[rows] for k, v in inp.items()} for m, inp in self.x.items()},
            self.y[rows],
            self.ids[rows],
            self.groups[rows],
        )

    def labels(self) -> Split:
        """The same rows without their inputs: what scoring reads (labels, ids, patients)."""
        return Split({}, self.y, self.ids, self.groups)

    def join(self, other: Split) -> Split:
        return Split(
            {m: {k: np.concatenate([v, other.x[m][k]]) for k, v in inp.items()} for m, inp in self.x.items()},
            np.concatenate([self.y, other.y]),
            np.concatenate([self.ids, other.ids]),
            np.concatenate([self.groups, other.groups]),
        )


@dataclass
class TaskData:
    spec: TaskSpec
    train: Split
    val: Split
    test: Split
    versions: dict[str, str]  # feature view -> version read
    # rows that only train, and only where their patient trains (`training_rows`): the beats task's
    # S-dominant-reference copies of development records (ecgnet.stress); never test rows
    extra: Split | None = None
    names: InputNames = field(default_factory=InputNames)  # what its inputs' values are called

    @property
    def task(self) -> str:
        return self.spec.name

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    @property
    def multilabel(self) -> bool:
        return self.spec.multilabel

    def split(self, name: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def split_params(self) -> dict[str, int]:
        """Patients and rows of each split as flat MLflow params (`split.val.patients`, ...): what a reader
        needs to weigh an interval (one validation patient cannot open one)."""
        return {
            split_param(name, what): count
            for name in SPLITS
            for what, count in (
                ("patients", len(set(self.split(name).groups.tolist()))),
                ("rows", len(self.split(name))),
            )
        }

    def class_counts(self, split: str) -> list[int]:
        y = self.split(split).y
        return (
            y.sum(axis=0).astype(int).tolist()
            if self.multilabel
            else np.bincount(y, minlength=len(self.classes)).tolist()
        )

    def absent_classes(self, cross_validated: bool = False) -> dict[str, list[str]]:
        """Split -> the task's scored classes (`TaskSpec.scored_classes`) it holds no row of, for the
        splits that have such a gap. Under cross-validation the folds re-split train and validation,
        so the two are read as one, `development`."""
        counts = {s: self.class_counts(s) for s in SPLITS}
        if cross_validated:
            counts = {"development": [a + b for a, b in zip(counts.pop("train"), counts.pop("val"))], **counts}
        index = {c: i for i, c in enumerate(self.classes)}
        absent = {s: [c for c in self.spec.scored_classes if n[index[c]] == 0] for s, n in counts.items()}
        return {s: classes for s, classes in absent.items() if classes}

    def save(self, directory: Path) -> None:
        """Every array as its own .npy (memory-mapped by `load`), so each model step of a run reads
        the aligned, split data at once instead of reading and splitting the Parquet views again."""
        directory.mkdir(parents=True, exist_ok=True)
        splits = {name: self.split(name) for name in SPLITS}
        if self.extra is not None:
            splits["extra"] = self.extra
        for name, split in splits.items():
            for key, array in _arrays(split).items():
                np.save(directory / f"{name}.{key}.npy", array, allow_pickle=False)
        shapes = {m: list(inp) for m, inp in self.train.x.items()}
        (directory / "task_data.json").write_text(
            json.dumps(
                {
                    "task": self.task,
                    "versions": self.versions,
                    "inputs": shapes,
                    "splits": list(splits),
                    "names": self.names.to_json(),
                }
            )
        )

    @classmethod
    def load(cls, directory: Path, spec: TaskSpec) -> TaskData:
        meta = json.loads((directory / "task_data.json").read_text())
        if meta["task"] != spec.name:
            raise ValueError(f"{directory} holds task {meta['task']!r}, not {spec.name!r}")
        read = lambda name, key: np.load(directory / f"{name}.{key}.npy", mmap_mode="r")  # noqa: E731
        splits = {
            s: Split(
                {m: {k: read(s, f"x.{m}.{k}") for k in keys} for m, keys in meta["inputs"].items()},
                read(s, "y"),
                read(s, "ids"),
                read(s, "groups"),
            )
            for s in meta.get("splits", SPLITS)
        }
        return cls(
            spec,
            splits["train"],
            splits["val"],
            splits["test"],
            meta["versions"],
            splits.get("extra"),
            InputNames.from_json(meta.get("names")),
        )

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


def training_rows(data: TaskData) -> TaskData:
    """`data` with its extra rows joined to train where their patient trains and is not validated on
    (under cross-validation train and val are the fold's own patients); unchanged without extra rows."""
    if data.extra is None or len(data.extra) == 0:
        return data
    groups = data.extra.groups
    mine = np.flatnonzero(np.isin(groups, data.train.groups) & ~np.isin(groups, data.val.groups))
    return replace(data, train=data.train.join(data.extra.take(mine)), extra=None)


def _arrays(split: Split) -> dict[str, np.ndarray]:
    out = {f"x.{m}.{k}": v for m, inp in split.x.items() for k, v in inp.items()}
    # ids and patients as fixed-width strings: .npy files need no pickles
    return {**out, "y": split.y, "ids": split.ids.astype(str), "groups": split.groups.astype(str)}


def modality_inputs(
    features: dict[str, dict[str, np.ndarray]], task: str, modalities: tuple[str, ...] = tuple(INPUTS)
) -> dict:
    """modality -> input -> (rows, ...) from feature columns per view (a training set's, online rows',
    or the GPU check's arrays computed without the store)."""
    x = {}
    for m in modalities:
        cols = features[view_of(task, m)]
        x[m] = {
            key: (
                cols[c[0]]
                if len(c) == 1 and key != "scalars"
                else np.concatenate([_flat(cols[name]) for name in c if name in cols or name not in OPTIONAL], axis=1)
            )
            for key, c in INPUTS[m].items()
            if key == "scalars" or any(name in cols or name not in OPTIONAL for name in c)  # an optional input
        }
    return x


def _flat(values: np.ndarray) -> np.ndarray:
    """(rows, ...) -> (rows, width), also for zero rows (where reshape cannot infer the width)."""
    return values.reshape(len(values), int(np.prod(values.shape[1:], dtype=np.int64)))


def labelled_split(
    features: dict[str, dict[str, np.ndarray]],
    labels: list,
    ids: np.ndarray,
    patients: np.ndarray,
    spec: TaskSpec,
    modalities: tuple[str, ...] = tuple(INPUTS),
) -> Split:
    """One split from aligned feature columns and each row's labels (a list of class names per row);
    multi-label rows with none of the task's classes are left out (they cannot be scored)."""
    x, classes = modality_inputs(features, spec.name, modalities), spec.classes
    if spec.multilabel:
        y = np.array([[c in lab for c in classes] for lab in labels], dtype=np.float32).reshape(-1, len(classes))
    else:
        y = np.array([classes.index(lab[0]) for lab in labels], dtype=np.int64)
    return _labelled(Split(x, y, np.asarray(ids), np.asarray(patients)), spec.multilabel)


def _labelled(split: Split, multilabel: bool) -> Split:
    """Records with no diagnostic superclass cannot be scored (PTB-XL benchmark drops them)."""
    return split.take(np.flatnonzero(split.y.sum(axis=1) > 0)) if multilabel else split


def class_rows(y: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    """(rows, len(classes)) bool: whether each row is of each class (class indices, or multi-hot `y`)."""
    return y[:, list(classes)] > 0 if y.ndim == 2 else y[:, None] == np.asarray(classes)[None, :]


HOLDOUT_DRAWS = 32  # seeded draws a class-aware hold-out looks through
HOLDOUT_CLASS_ROWS = 10  # a class's rows on the smaller side, beyond which more add no credit


def patient_holdout(
    groups: np.ndarray, fraction: float, seed: int, y: np.ndarray | None = None, classes: tuple[int, ...] = ()
) -> np.ndarray:
    """Mask of rows whose patient falls in a stable, seeded `fraction` of patients (at least one).

    Given the rows' labels `y` (class indices, or multi-hot) and the `classes` (indices) a choice on
    validation reads, it is the first of `HOLDOUT_DRAWS` seeded draws that best holds each of them on
    both sides, up to `HOLDOUT_CLASS_ROWS` rows a class on the smaller side: where validation holds one V
    beat, a macro-F1 over N, S and V gives that beat a third of its weight and the choice is made by it
    (the bundled sample's beats task drew such a patient). The first draw is the label-free one, so a
    draw that already holds every class is kept."""
    patients = sorted(set(groups.tolist()))
    n = min(max(1, round(fraction * len(patients))), len(patients) - 1)

    def draw(k: int) -> np.ndarray:
        salt = f"{seed}:" if k == 0 else f"{seed}:{k}:"
        order = sorted(patients, key=lambda p: hashlib.blake2b(f"{salt}{p}".encode(), digest_size=8).hexdigest())
        return np.isin(groups, order[:n])

    if y is None or not classes:
        return draw(0)
    rows = class_rows(y, classes)

    def held_classes(mask: np.ndarray) -> int:
        smaller = np.minimum(rows[mask].sum(axis=0), rows[~mask].sum(axis=0))
        return int(np.minimum(smaller, HOLDOUT_CLASS_ROWS).sum())

    draws = [draw(k) for k in range(HOLDOUT_DRAWS)]
    return max(draws, key=held_classes)  # max keeps the first of equals


def patient_kfold(groups: np.ndarray, folds: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, held-out rows) for up to `folds` folds of whole patients (of rows, when there is only
    one patient): how validation-fitted choices (late combiners, decision offsets) get an honest score."""
    from sklearn.model_selection import GroupKFold, KFold

    n_groups = len(set(groups.tolist()))
    if n_groups >= 2:
        return list(GroupKFold(n_splits=min(folds, n_groups)).split(groups, groups=groups))
    return list(KFold(n_splits=min(folds, len(groups)), shuffle=True, random_state=seed).split(groups))


def cross_fit(
    groups: np.ndarray,
    # called as fit(rows) and apply(learnt, rows); `...`, not those signatures: mypy cannot check a lambda with
    # default arguments (benchmarks bind loop variables so) against a fixed signature
    fit: Callable[..., Learnt],
    apply: Callable[..., ArrayLike],
    *,
    folds: int = 5,
    seed: int = 0,
    dtype: DTypeLike | None = None,
) -> tuple[np.ndarray, list[Learnt]]:
    """Rows decided out of fold: each fold of patients (`patient_kfold`) gets `apply(learnt, held rows)` of
    what `fit(other rows)` learnt from the other patients alone, so a choice made on validation (decision
    offsets, a late combiner, a blend weight) is scored on patients it never saw. Returns the rows (in
    `dtype`, else the first fold's) and what each fold learnt."""
    out: np.ndarray | None = None
    learnt: list[Learnt] = []
    for fit_rows, held in patient_kfold(groups, folds, seed):
        learnt.append(fit(fit_rows))
        part = np.asarray(apply(learnt[-1], held))
        if out is None:
            out = np.zeros((len(groups), *part.shape[1:]), dtype=dtype or part.dtype)
        out[held] = part
    if out is None:  # scikit-learn's splitters raise first, but say so here too
        raise ValueError(f"cross_fit: no folds of {len(groups)} rows; fix: give at least two rows")
    return out, learnt


def load_task_data(
    store: FeatureStore,
    spec: TaskSpec,
    *,
    modalities: tuple[str, ...] = tuple(INPUTS),
    seed: int = 0,
    versions: dict[str, str] | None = None,
    recorded_before: dt.datetime | None = None,
) -> TaskData:
    """Train / val / test of a task, aligned across views, split as `spec.splits` says. When the
    stored val splits hold fewer than `min_val_rows` labelled rows (MIT-BIH has none; a small folder
    has a handful), a seeded `val_fraction` of train patients joins validation, so early stopping and
    every choice on validation see more than a handful of rows. Test is never touched.
    """
    views, rule = [view_of(spec.name, m) for m in modalities], spec.splits
    sets = {
        name: store.training_set(views, splits, versions=versions, recorded_before=recorded_before)
        for name, splits in (("train", rule.train), ("val", rule.val), ("test", rule.test))
    }
    train, val, test = (
        labelled_split(
            sets[s].features,
            sets[s].keys["labels"].to_list(),
            sets[s].ids,
            sets[s].keys["patient_id"].to_numpy(),
            spec,
            modalities,
        )
        for s in SPLITS
    )
    data = task_data(spec, train, val, test, sets["test"].versions, seed=seed)
    data.names = input_names(spec, {v: store.entry(v, data.versions[v]) for v in views})
    if spec.reference_stress is not None and "time" in modalities:
        from feature_store.views.store import beat_references

        from .stress import reference_copies

        time_view = view_of(spec.name, "time")
        refs = beat_references(store.entry(time_view, data.versions[time_view]))
        # development rows only (train and val): test rows are never copied
        data.extra = reference_copies(data.train.join(data.val), spec.classes, refs, spec.reference_stress)
        log.info(
            "task %r: %d training copies of %d records under %s-dominant references",
            spec.name,
            len(data.extra),
            len(set(data.extra.groups.tolist())),
            spec.reference_stress.beat_class,
        )
    return data


def _named(patients: list[str], most: int = 8) -> str:
    return ", ".join(patients) if len(patients) <= most else f"{len(patients)} patients"


def task_data(spec: TaskSpec, train: Split, val: Split, test: Split, versions: dict, *, seed: int = 0) -> TaskData:
    """The task's splits as `spec.splits` says: when the stored val splits hold fewer than
    `min_val_rows` labelled rows, a seeded `val_fraction` of train patients joins validation. Test is
    never touched."""
    rule = spec.splits
    if len(val) < rule.min_val_rows and len(set(train.groups.tolist())) > 1:
        scored = tuple(spec.classes.index(c) for c in spec.scored_classes)
        held = patient_holdout(train.groups, rule.val_fraction, seed, train.y, scored)
        rows = class_rows(train.y, scored)
        moved_rows, kept_rows = rows[held].sum(axis=0).tolist(), rows[~held].sum(axis=0).tolist()
        counts = {spec.classes[c]: (m, k) for c, m, k in zip(scored, moved_rows, kept_rows, strict=True)}
        one_side = [c for c, (moved, kept) in counts.items() if not (moved and kept)]
        log.info(
            "task %r: %d labelled rows in the val splits %s (< %d); %d rows of %.0f %% of train "
            "patients join validation (%s), drawn so that both sides hold each scored class; they hold %s%s",
            spec.name,
            len(val),
            rule.val,
            rule.min_val_rows,
            int(held.sum()),
            100 * rule.val_fraction,
            _named(sorted(set(train.groups[held].tolist()))),
            ", ".join(f"{c} {moved}" for c, (moved, _) in counts.items()),
            f" (no draw of {HOLDOUT_DRAWS} holds {', '.join(one_side)} on both sides)" if one_side else "",
        )
        moved = train.take(np.flatnonzero(held))
        train, val = train.take(np.flatnonzero(~held)), (val.join(moved) if len(val) else moved)
    for name, split in (("train", train), ("val", val), ("test", test)):
        if len(split) == 0:
            raise ValueError(
                f"task {spec.name!r}: the {name} split is empty; fix: ingest records of the "
                f"splits {getattr(rule, name) or rule.train}"
            )
    return TaskData(spec, train, val, test, versions)
