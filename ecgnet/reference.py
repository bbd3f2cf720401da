"""A scored record against its reference beat annotations (`predict --reference`), as ANSI/AAMI EC57's
beat-by-beat comparison (WFDB's bxb) reads one: each reference beat matched to the predicted beat within
150 ms of it, then the classes of the matched pairs, the reference beats no predicted beat matched (missed)
and the predicted beats no reference beat matched (extra). Beats of a stretch the prediction did not score
(a dropout, the record's edges) are counted apart, as EC57 leaves unreadable stretches out. What a site
validating the champion on its own annotated recordings reads first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from feature_store.sources.annotated import AAMI, read_annotations, read_beats
from feature_store.sources.errors import RecordError
from feature_store.tasks import TaskSpec

from .evaluate import MacroF1, figure_label

if TYPE_CHECKING:
    from .predict import Prediction

MATCH_WINDOW_S = 0.15  # EC57: a predicted beat within 150 ms of a reference beat is its match


@dataclass(frozen=True)
class BeatAgreement:
    """Beats of one record (or several, summed: EC57's gross statistics) against their reference."""

    classes: tuple[str, ...]
    # (classes + 1) square: rows the reference class, columns the predicted one; the last row and column
    # "no beat": a missed reference beat counts in its class's row, an extra predicted beat in its column
    confusion: np.ndarray
    unscored: int  # reference beats in stretches the prediction did not score: left out of every figure
    records: int = 1
    # one record's: each predicted beat's matched reference class (index; -1: none, an extra beat)
    row_reference: np.ndarray | None = None

    @property
    def matched(self) -> int:
        return int(self.confusion[:-1, :-1].sum())

    @property
    def missed(self) -> int:
        return int(self.confusion[:-1, -1].sum())

    @property
    def extra(self) -> int:
        return int(self.confusion[-1, :-1].sum())

    def __add__(self, other: BeatAgreement) -> BeatAgreement:
        return BeatAgreement(
            self.classes, self.confusion + other.confusion, self.unscored + other.unscored, self.records + other.records
        )

    def reference_column(self) -> list[str | None]:
        """One record's predicted beats' reference classes, for its table (None: no reference beat matched)."""
        rows = self.row_reference if self.row_reference is not None else np.zeros(0, dtype=np.int64)
        return [self.classes[i] if i >= 0 else None for i in rows.tolist()]

    def figures(self, task: TaskSpec) -> dict[str, float]:
        """Detection (every reference beat found, every predicted one a beat: `qrs_se`, `qrs_pp`), accuracy
        over matched beats, the task's headline and each focus class's Se and +P, a missed beat of the class
        counting against its Se and an extra one called it against its +P (EC57's reading)."""
        cm, k = self.confusion, len(self.classes)
        reference, called = self.matched + self.missed, self.matched + self.extra
        out = {
            "qrs_se": self.matched / reference if reference else float("nan"),
            "qrs_pp": self.matched / called if called else float("nan"),
            "accuracy": float(np.trace(cm[:k, :k]) / self.matched) if self.matched else float("nan"),
            task.metric_key: MacroF1(task.metric_labels or tuple(range(k))).of_confusion(cm),
        }
        for name in task.focus_classes:
            c = self.classes.index(name)
            tp, truth, said = cm[c, c], cm[c].sum(), cm[:, c].sum()
            out[f"se_{name}"] = float(tp / truth) if truth else float("nan")
            out[f"pp_{name}"] = float(tp / said) if said else float("nan")
        return out

    def line(self, task: TaskSpec, source: str) -> str:
        """One line for the terminal: what was compared, then the figures."""
        counts = (
            f"{self.matched + self.missed:,} reference beat(s): {self.matched:,} matched within "
            f"{MATCH_WINDOW_S * 1000:.0f} ms, {self.missed:,} missed, {self.extra:,} extra"
        )
        if self.unscored:
            counts += f", {self.unscored:,} in stretches not scored (left out)"
        headline = f"macro-F1 {','.join(task.metric_classes)}" if task.metric_classes else task.metric_key
        labels = {"qrs_se": "beats Se", "qrs_pp": "beats +P", task.metric_key: headline}
        figures = ", ".join(f"{labels.get(k, figure_label(k))} {v:.3f}" for k, v in self.figures(task).items())
        return f"against {source} ({counts}): {figures}"


def beat_agreement(pred: Prediction, task: TaskSpec, annotator: str = "atr") -> BeatAgreement:
    """`pred`'s beats against the record's `<record>.<annotator>` beat annotations (AAMI classes of MIT-BIH's
    symbols). ValueError naming the file where there is none, or none of its annotations is a beat."""
    if pred.record is None or pred.samples is None or not pred.record_fs:
        raise ValueError("a prediction without its record's beats in time has nothing to compare")
    path = Path(f"{pred.record}.{annotator}")
    if not path.is_file():
        raise ValueError(f"{path}: no reference annotations; fix: name the annotator of the record's reference")
    ref_samples, symbols = read_beats(read_annotations(pred.record, annotator), pred.record_fs)
    if not len(ref_samples):
        raise ValueError(f"{path}: no beat annotation among its {annotator} annotations (rhythm changes only?)")
    if (np.diff(ref_samples) < 0).any():
        raise RecordError("annotation_unreadable", f"{path}: annotations out of time order; fix: restore the file")
    ref_class = np.array([task.classes.index(AAMI[s]) for s in symbols])
    called = pred.probs.argmax(axis=1)
    return compare_beats(ref_samples, ref_class, pred.samples, called, task.classes, pred.record_fs, pred.beat_numbers)


def compare_beats(
    ref_samples: np.ndarray,
    ref_class: np.ndarray,
    samples: np.ndarray,
    called: np.ndarray,
    classes: tuple[str, ...],
    fs: float,
    numbers: np.ndarray | None = None,
) -> BeatAgreement:
    """Reference beats (samples, class indices) against predicted ones (samples, class called; `numbers`:
    each one's number among the record's beats), both in time order at `fs`: one to one, each reference beat
    with the nearest predicted beat within `MATCH_WINDOW_S` that no nearer reference beat claims (wfdb's
    EC57 matcher)."""
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
    return BeatAgreement(classes, cm, int(unscored.sum()), row_reference=row_reference)


def _unscored(ref: np.ndarray, samples: np.ndarray, numbers: np.ndarray | None, window: int) -> np.ndarray:
    """Reference beats the prediction did not score: beyond a match window outside its first and last beats
    (a beat too near the record's edges for its window), or between two scored beats that a dropout parted
    (a gap in their numbers among the record's beats)."""
    out = (ref < samples[0] - window) | (ref > samples[-1] + window)
    if numbers is not None and len(numbers) > 1:
        for i in np.flatnonzero(np.diff(numbers) > 1):
            out |= (ref > samples[i] + window) & (ref < samples[i + 1] - window)
    return out
