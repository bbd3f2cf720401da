"""A scored record against its reference annotations (`predict --reference`): what a site validating the
champion on its own annotated recordings reads first.

Beats as ANSI/AAMI EC57's beat-by-beat comparison (WFDB's bxb) reads them: each reference beat matched to
the predicted beat within 150 ms of it, then the classes of the matched pairs, the reference beats no
predicted beat matched (missed) and the predicted beats no reference beat matched (extra). Beats of a
stretch the prediction did not score (a dropout, the record's edges) are counted apart, as EC57 leaves
unreadable stretches out; then the task's runs of ectopic beats run by run, as EC57 reads a PVC
detector's couplets and runs (`ectopic_runs`, WFDB's rxr). A rhythm task's windows against the reference
rhythm annotated over each, as its training windows were labelled: a window across a change of rhythm, or
before the first, has none; a record without rhythm annotations against the label its folder's
`REFERENCE.csv` gives it (CinC 2017's). Its focus rhythm (AF) is also read episode by episode, as EC57
reads an AF detector (`episodes`, WFDB's epicmp)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from feature_store.sources.annotated import AAMI, read_annotations, read_beats, read_rhythm
from feature_store.sources.errors import RecordError
from feature_store.sources.files import while_unchanged
from feature_store.sources.folder_tables import REFERENCE, nearest_table, read_pairs
from feature_store.sources.rhythm_labels import CINC2017_CODES, cpsc_statement
from feature_store.tasks import RecordWindows, TaskSpec, in_time

from .annotations import NOISE
from .ectopic_runs import RunAgreement, compare_runs
from .episodes import EpisodeAgreement, compare_episodes, intersect, spans_of, window_episodes
from .evaluate import MacroF1, figure_label, focus_se_pp
from .record_reference import record_agreement
from .reference_report import Comparison

if TYPE_CHECKING:
    import wfdb

    from .predict import Prediction

MATCH_WINDOW_S = 0.15  # EC57: a predicted beat within 150 ms of a reference beat is its match


@dataclass(frozen=True)
class Agreement:
    """Rows (beats, or a rhythm task's windows) of one record, or several summed (EC57's gross statistics),
    against their reference."""

    classes: tuple[str, ...]
    # (classes + 1) square: rows the reference class, columns the predicted one; the last row and column
    # "no beat": a missed reference beat counts in its class's row, an extra predicted beat in its column
    confusion: np.ndarray
    # beats: reference beats in stretches the prediction did not score; windows: scored windows without one
    # reference rhythm; left out of every figure
    unscored: int
    unit: str = "beat"  # or "window": no matching in time, no missed or extra rows
    records: int = 1
    # one record's: each predicted row's reference class (index; -1: none, an extra beat or a mixed window)
    row_reference: np.ndarray | None = None
    episodes: tuple[EpisodeAgreement, ...] = ()  # windows: the focus rhythms episode by episode (EC57)
    runs: tuple[RunAgreement, ...] = ()  # beats: the task's ectopic runs run by run (EC57)

    @property
    def matched(self) -> int:
        return int(self.confusion[:-1, :-1].sum())

    @property
    def missed(self) -> int:
        return int(self.confusion[:-1, -1].sum())

    @property
    def extra(self) -> int:
        return int(self.confusion[-1, :-1].sum())

    def __add__(self, other: Agreement) -> Agreement:
        return Agreement(
            self.classes,
            self.confusion + other.confusion,
            self.unscored + other.unscored,
            self.unit,
            self.records + other.records,
            episodes=tuple(a + b for a, b in zip(self.episodes, other.episodes)),
            runs=tuple(a + b for a, b in zip(self.runs, other.runs)),
        )

    def to_json(self) -> dict:
        """What its sum with others needs (no rows: `row_reference` stays with the record's table)."""
        return {
            "kind": "agreement",
            "classes": list(self.classes),
            "confusion": self.confusion.tolist(),
            "unscored": self.unscored,
            "unit": self.unit,
            "n_records": self.records,
            "episodes": [asdict(e) for e in self.episodes],
            "runs": [r.to_json() for r in self.runs],
        }

    @classmethod
    def from_json(cls, d: dict) -> Agreement:
        return cls(
            tuple(d["classes"]),
            np.asarray(d["confusion"], dtype=np.int64),
            int(d["unscored"]),
            d["unit"],
            int(d["n_records"]),
            episodes=tuple(EpisodeAgreement(**e) for e in d["episodes"]),
            runs=tuple(RunAgreement.from_json(r) for r in d["runs"]),
        )

    def reference_column(self) -> list[str | None]:
        """One record's rows' reference classes, for its table (None: no reference beat matched, no one rhythm)."""
        rows = self.row_reference if self.row_reference is not None else np.zeros(0, dtype=np.int64)
        return [self.classes[i] if i >= 0 else None for i in rows.tolist()]

    def report_row(self, task: TaskSpec) -> tuple[dict[str, int | float], dict[str, float]]:
        """Every count and every figure of the comparison, flat (one row of `report`): what was compared
        and left out, then the figures of `figures`, the focus rhythms' episodes and the ectopic runs."""
        counts: dict[str, int | float] = {}
        if self.unit == "beat":
            counts |= {"reference_beats": self.matched + self.missed, "matched": self.matched}
            counts |= {"missed": self.missed, "extra": self.extra}
        else:
            counts["windows"] = self.matched
        counts["unscored"] = self.unscored
        figures = self.figures(task)
        for e in self.episodes:
            counts |= {f"{e.rhythm}_episodes": e.reference, f"{e.rhythm}_episodes_found": e.found}
            counts |= {f"{e.rhythm}_episodes_called": e.called, f"{e.rhythm}_episodes_true": e.true}
            counts |= {f"{e.rhythm}_reference_s": e.reference_s, f"{e.rhythm}_called_s": e.called_s}
            figures |= {f"{e.rhythm}_{k}": v for k, v in e.figures().items()}
        for r in self.runs:
            for size, (found, reference, true, called) in r.counts().items():
                counts |= {f"{r.kind}_{size}_runs": reference, f"{r.kind}_{size}_found": found}
                counts |= {f"{r.kind}_{size}_called": called, f"{r.kind}_{size}_true": true}
            figures |= {f"{r.kind}_{k}": v for k, v in r.figures().items()}
        return counts, figures

    def figures(self, task: TaskSpec) -> dict[str, float]:
        """Detection (every reference beat found, every predicted one a beat: `qrs_se`, `qrs_pp`), accuracy
        over matched beats, the task's headline and each focus class's Se and +P, a missed beat of the class
        counting against its Se and an extra one called it against its +P (EC57's reading)."""
        cm, k = self.confusion, len(self.classes)
        reference, called = self.matched + self.missed, self.matched + self.extra
        out = (
            {
                "qrs_se": self.matched / reference if reference else float("nan"),
                "qrs_pp": self.matched / called if called else float("nan"),
            }
            if self.unit == "beat"
            else {}
        )
        out["accuracy"] = float(np.trace(cm[:k, :k]) / self.matched) if self.matched else float("nan")
        compared = self.matched + self.missed + self.extra
        out[task.metric_key] = (
            MacroF1(task.metric_labels or tuple(range(k))).of_confusion(cm) if compared else float("nan")
        )
        return out | focus_se_pp(cm, self.classes, task.focus_classes)

    def line(self, task: TaskSpec, source: str) -> str:
        """One line for the terminal: what was compared, then the figures."""
        if self.unit == "beat":
            counts = (
                f"{self.matched + self.missed:,} reference beat(s): {self.matched:,} matched within "
                f"{MATCH_WINDOW_S * 1000:.0f} ms, {self.missed:,} missed, {self.extra:,} extra"
            )
            if self.unscored:
                counts += f", {self.unscored:,} in stretches not scored (left out)"
        else:
            counts = f"{self.matched:,} window(s) of one reference rhythm"
            if self.unscored:
                counts += f", {self.unscored:,} across a change of rhythm or before the first (left out)"
        if not self.matched + self.missed + self.extra:
            return f"against {source} ({counts}): nothing to compare"
        headline = " ".join(("macro-F1", ",".join(task.metric_classes))) if task.metric == "macro_f1" else task.metric
        labels = {"qrs_se": "beats Se", "qrs_pp": "beats +P", task.metric_key: headline.strip()}
        figures = ", ".join(f"{labels.get(k, figure_label(k))} {v:.3f}" for k, v in self.figures(task).items())
        more = [*(e.line() for e in self.episodes), *(r.line() for r in self.runs)]
        return "; ".join([f"against {source} ({counts}): {figures}", *more])


DEFAULT_ANNOTATOR = "atr"  # the reference annotations' extension: the record's `.atr`


def check_reference(task: TaskSpec, annotator: str) -> None:
    """ValueError before anything is scored where `task` has no reference to read as asked: a multi-label
    task reads each record's stated diagnosis, no annotator's file."""
    if task.multilabel:
        if annotator != DEFAULT_ANNOTATOR:
            raise ValueError(
                f"--reference {annotator}: the {task.name} task reads each record's stated diagnosis (its header's, "
                "or its PTB-XL row's), no annotation file; fix: give --reference without an annotator"
            )
        return
    in_time(task, "--reference")


def agreement(
    pred: Prediction, task: TaskSpec, annotator: str = DEFAULT_ANNOTATOR, root: Path | None = None
) -> tuple[Comparison, str]:
    """`pred` against the record's `<record>.<annotator>` (beats or rhythm, as the task's rows are), and what
    was read; a rhythm record without one, against its line of the `REFERENCE.csv` that serves its folder
    (CinC 2017's labels, found and read as the ingest finds them: beside it, else the nearest above it inside
    `root`, the folder the records were given in; None: any folder above). ValueError naming the file where
    there is none, or it holds nothing of the kind. A multi-label task's record against the diagnosis it
    states (`record_reference`)."""
    check_reference(task, annotator)
    if task.multilabel:
        return record_agreement(pred, task, root)
    if pred.record is None:
        raise ValueError("a prediction without its record has nothing to compare")
    path = Path(f"{pred.record}.{annotator}")
    if not path.is_file():
        table = nearest_table(pred.record.parent, Path(pred.record.anchor) if root is None else root, REFERENCE)
        if task.unit != "beat" and pred.record.name in (labels := _table_labels(table)):
            return label_agreement(pred, task, labels[pred.record.name], table), f"{table} ({pred.record.name})"
        raise ValueError(f"{path}: no reference annotations; fix: name the annotator of the record's reference")
    ann = read_annotations(pred.record, annotator)
    read = beat_agreement(pred, task, ann, path) if task.unit == "beat" else rhythm_agreement(pred, task, ann, path)
    return read, str(path)


# a folder's records share one table: read once
_read_table = while_unchanged(lambda table: read_pairs(table, "without a reference"))


def _table_labels(table: Path) -> dict[str, str]:
    """A `REFERENCE.csv`'s lines ({} where there is none), read once while the file stays as it is."""
    try:
        return _read_table(table)
    except OSError:
        return {}


def label_agreement(pred: Prediction, task: TaskSpec, code: str, table: Path) -> Agreement:
    """A rhythm record's windows against the one rhythm its table line gives the record (CinC 2017's code)."""
    if code not in CINC2017_CODES:
        raise ValueError(
            f"{table}: {pred.record}'s label {code!r} is none of {sorted(CINC2017_CODES)}; fix: correct its line"
        )
    starts, length, fs = _windows(pred, task)
    spans = [(0, int(starts[-1]) + length, CINC2017_CODES[code])]
    return rhythm_windows(starts, pred.probs.argmax(axis=1)[: len(starts)], length, spans, task, fs)


def _windows(pred: Prediction, task: TaskSpec) -> tuple[np.ndarray, int, float]:
    """A rhythm task's scored windows: first samples (a record of one row: from 0), length in samples, and
    the record's rate."""
    window = task.window
    if not isinstance(window, RecordWindows) or not pred.record_fs:
        raise ValueError(f"{pred.record}: the {task.name} task's rows are not windows in time")
    starts = pred.samples if pred.samples is not None else np.zeros(1, dtype=np.int64)
    return starts, round(window.duration_s * pred.record_fs), pred.record_fs


def beat_agreement(pred: Prediction, task: TaskSpec, ann: wfdb.Annotation, path: Path) -> Agreement:
    """`pred`'s beats against the beat annotations `ann` (of the file `path`; AAMI classes of MIT-BIH's
    symbols)."""
    if pred.samples is None or not pred.record_fs:
        raise ValueError(f"{pred.record}: its beats have no samples in time to compare")
    ref_samples, symbols = read_beats(ann, pred.record_fs)
    if not len(ref_samples):
        raise ValueError(f"{path}: no beat annotation among its annotations (rhythm changes only?)")
    if (np.diff(ref_samples) < 0).any():
        raise RecordError("annotation_unreadable", f"{path}: annotations out of time order; fix: restore the file")
    ref_class = np.array([task.classes.index(AAMI[s]) for s in symbols])
    called = pred.probs.argmax(axis=1)
    return compare_beats(
        ref_samples, ref_class, pred.samples, called, task.classes, pred.record_fs, pred.beat_numbers, task.ectopic_runs
    )


def rhythm_agreement(pred: Prediction, task: TaskSpec, ann: wfdb.Annotation, path: Path) -> Agreement:
    """A rhythm task's windows against the rhythm annotations `ann` (of the file `path`), read as the
    ingest reads an AF database's: CPSC 2021's header statement gives the rhythm before the first change."""
    starts, length, fs = _windows(pred, task)
    statement = cpsc_statement(_comments(pred.record)) if pred.record else None
    spans, flutter = reference_rhythm(ann, int(starts[-1]) + length, statement, fs)
    if not spans:
        raise ValueError(f"{path}: no rhythm annotation of the {task.name} task's classes (beats only?)")
    called = pred.probs.argmax(axis=1)[: len(starts)]
    return rhythm_windows(starts, called, length, spans, task, fs, flutter)


FLUTTER = "(AFL"  # atrial flutter: EC57 takes the reference's out of the AF episodes called (epicmp)
AF_CODE = "(AFIB"


def reference_rhythm(
    ann: wfdb.Annotation, end: int, statement: str | None, fs: float
) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """The rhythm episodes of `ann` up to sample `end` (at `fs`) as the ingest reads an AF database's
    (`read_rhythm`), and its stretches of atrial flutter (which the task reads as another rhythm)."""
    spans = read_rhythm(ann, end, statement, True, fs)
    flutter = [(a, b) for a, b, r in read_rhythm(ann, end, statement, True, fs, {FLUTTER: FLUTTER}) if r == FLUTTER]
    return spans, flutter


def rhythm_windows(
    starts: np.ndarray,
    called: np.ndarray,
    length: int,
    spans: list[tuple[int, int, str]],
    task: TaskSpec,
    fs: float,
    flutter: list[tuple[int, int]] | None = None,
) -> Agreement:
    """`compare_windows`, and each of the task's focus rhythms episode by episode over the stretches both
    read: windows classified (not called noisy) where the reference states a rhythm. `flutter`: the
    reference's atrial flutter, left out of called AF episodes."""
    out = compare_windows(starts, called, length, spans, task.classes)
    codes = task.annotation_codes or {}
    noisy = tuple(task.classes.index(c) for c, code in codes.items() if code == NOISE)
    stated = spans_of([(a, b) for a, b, _ in spans])
    episodes = []
    for rhythm in task.focus_classes:
        cls = task.classes.index(rhythm)
        called_episodes, classified = window_episodes(starts, called, length, cls, noisy)
        reference = spans_of([(a, b) for a, b, r in spans if r == rhythm])
        excluded = spans_of(flutter) if flutter and codes.get(rhythm) == AF_CODE else None
        compared = intersect(classified, stated)
        episodes.append(compare_episodes(reference, called_episodes, compared, fs, rhythm, excluded))
    return replace(out, episodes=tuple(episodes))


def _comments(record: Path) -> list[str]:
    """The comments of the record's header (none for an EDF record, or a header wfdb cannot read as it is)."""
    import wfdb

    try:
        return list(wfdb.rdheader(str(record)).comments or []) if Path(f"{record}.hea").is_file() else []
    except (ValueError, OSError):
        return []


def compare_windows(
    starts: np.ndarray, called: np.ndarray, length: int, spans: list[tuple[int, int, str]], classes: tuple[str, ...]
) -> Agreement:
    """Windows (first samples `starts`, `length` samples each, class `called`) against rhythm episodes
    (start, stop, class): a window's reference is the episode that holds all of it, as a training window's
    label is; one across a change, or outside every episode, has none and is counted apart."""
    k = len(classes)
    reference = np.full(len(starts), -1, dtype=np.int64)
    for begin, end, rhythm in spans:
        inside = (starts >= begin) & (starts + length <= end)
        reference[inside] = classes.index(rhythm)
    cm = np.zeros((k + 1, k + 1), dtype=np.int64)
    known = reference >= 0
    np.add.at(cm, (reference[known], called[known]), 1)
    return Agreement(classes, cm, int((~known).sum()), "window", row_reference=reference)


def compare_beats(
    ref_samples: np.ndarray,
    ref_class: np.ndarray,
    samples: np.ndarray,
    called: np.ndarray,
    classes: tuple[str, ...],
    fs: float,
    numbers: np.ndarray | None = None,
    runs: dict[str, tuple[str, ...]] | None = None,
) -> Agreement:
    """Reference beats (samples, class indices) against predicted ones (samples, class called; `numbers`:
    each one's number among the record's beats), both in time order at `fs`: one to one, each reference beat
    with the nearest predicted beat within `MATCH_WINDOW_S` that no nearer reference beat claims (wfdb's
    EC57 matcher); and each kind of ectopic run in `runs` (name -> its classes) run by run (rxr's)."""
    from wfdb.processing import compare_annotations

    window = max(1, round(MATCH_WINDOW_S * fs))
    unscored = _unscored(ref_samples, samples, numbers, window)
    ref_samples, ref_class = ref_samples[~unscored], ref_class[~unscored]
    k = len(classes)
    match = compare_annotations(ref_samples, samples, window).matching_sample_nums  # -1: none
    cm = np.zeros((k + 1, k + 1), dtype=np.int64)
    found = match >= 0
    np.add.at(cm, (ref_class[found], called[match[found]]), 1)
    np.add.at(cm[:, k], ref_class[~found], 1)  # missed: the "no beat" column
    row_reference = np.full(len(called), -1, dtype=np.int64)
    row_reference[match[found]] = ref_class[found]
    np.add.at(cm[k], called[row_reference < 0], 1)  # extra: the "no beat" row
    kept = np.flatnonzero(~unscored)  # a stretch not scored ends a reference run, as unreadable signal does
    ref_follows = np.diff(kept, prepend=-2) == 1
    follows = np.diff(numbers, prepend=-2) == 1 if numbers is not None else np.arange(len(samples)) > 0
    by_run = tuple(
        compare_runs(
            kind,
            ref_samples,
            np.isin(ref_class, [classes.index(c) for c in members]),
            ref_follows,
            samples,
            np.isin(called, [classes.index(c) for c in members]),
            follows,
            window,
        )
        for kind, members in (runs or {}).items()
    )
    return Agreement(classes, cm, int(unscored.sum()), row_reference=row_reference, runs=by_run)


def _unscored(ref: np.ndarray, samples: np.ndarray, numbers: np.ndarray | None, window: int) -> np.ndarray:
    """Reference beats the prediction did not score: beyond a match window outside its first and last beats
    (a beat too near the record's edges for its window), or between two scored beats that a dropout parted
    (a gap in their numbers among the record's beats)."""
    out = (ref < samples[0] - window) | (ref > samples[-1] + window)
    if numbers is not None and len(numbers) > 1:
        for i in np.flatnonzero(np.diff(numbers) > 1):
            out |= (ref > samples[i] + window) & (ref < samples[i + 1] - window)
    return out
