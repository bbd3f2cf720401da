"""A record's predictions as a WFDB annotation file (`predict --annotations`): each beat's class at its R
peak, or a rhythm task's changes of rhythm, where the record's reference `.atr` would have them. WFDB's
viewers (WAVE, LightWAVE, `wfdb.plot_wfdb`) draw it over the signal, and its comparison tools (bxb for beats,
rxr and epicmp for rhythm: ANSI/AAMI EC57) read it against the reference annotations."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from feature_store.tasks import RecordWindows, TaskSpec, in_time

if TYPE_CHECKING:  # torch loads only when a record is scored
    from .predict import Prediction

ANNOTATOR = "ecgnet"  # the annotation file's extension: <record>.ecgnet beside <record>.atr, never over it
NOISE = "~"  # WFDB's signal quality change; subtype -1: every signal unreadable, 0: every signal clean
UNREADABLE, CLEAN = -1, 0


@dataclass(frozen=True)
class Events:
    """WFDB annotations in time order: sample, symbol, subtype and note of each."""

    sample: np.ndarray  # int64, in the record's samples at its rate
    symbol: list[str]
    subtype: np.ndarray  # int64
    aux_note: list[str]

    def __len__(self) -> int:
        return len(self.sample)


def _events(rows: list[tuple[int, str, int, str]]) -> Events:
    return Events(
        np.array([r[0] for r in rows], dtype=np.int64),
        [r[1] for r in rows],
        np.array([r[2] for r in rows], dtype=np.int64),
        [r[3] for r in rows],
    )


def beat_events(
    predicted: np.ndarray, samples: np.ndarray, codes: tuple[str, ...], numbers: np.ndarray | None = None
) -> Events:
    """Each beat's code at its R peak. Where beats between two scored ones were not scored (a gap in their
    `numbers` among the record's beats: a dropout), the stretch between is marked unreadable, so that a
    reader (and bxb) does not take the missing labels for beats the model missed."""
    rows: list[tuple[int, str, int, str]] = []
    for i, (cls, sample) in enumerate(zip(predicted.tolist(), samples.tolist())):
        skipped = 0 if numbers is None or i == 0 else int(numbers[i] - numbers[i - 1]) - 1
        if skipped > 0:
            rows.append((int(samples[i - 1]) + 1, NOISE, UNREADABLE, f"{skipped} beat(s) not scored"))
            rows.append((sample - 1, NOISE, CLEAN, ""))
        rows.append((sample, codes[cls], 0, ""))
    return _events(rows)


def rhythm_events(
    predicted: np.ndarray, starts: np.ndarray, codes: tuple[str, ...], window: int | None = None
) -> Events:
    """A rhythm task's windows (each from its first sample in `starts`, `window` samples long) as WFDB writes
    rhythm: a change `+` with the rhythm's code as its note where the rhythm changes, a noise annotation where
    windows are too noisy to classify (code `~`) and where windows were not scored (a stretch between two
    windows, or before the first: a dropout), and a clean one where scored signal resumes. A rhythm holds
    across noise, as in MIT-BIH's own annotations."""
    rows: list[tuple[int, str, int, str]] = []
    rhythm, unreadable = None, False
    if window is not None and len(starts) and starts[0] > 0:  # the record's first windows were not scored
        rows.append((0, NOISE, UNREADABLE, "not scored"))
        unreadable = True
    for i, (cls, start) in enumerate(zip(predicted.tolist(), starts.tolist())):
        end_before = None if window is None or i == 0 else int(starts[i - 1]) + window
        if end_before is not None and start > end_before and not unreadable:
            rows.append((end_before, NOISE, UNREADABLE, "not scored"))
            unreadable = True
        code = codes[cls]
        if code == NOISE:
            if not unreadable:
                rows.append((start, NOISE, UNREADABLE, "too noisy to classify"))
                unreadable = True
            continue
        if unreadable:
            rows.append((start, NOISE, CLEAN, ""))
            unreadable = False
        if code != rhythm:
            rows.append((start, "+", 0, code))
            rhythm = code
    return _events(rows)


def write_annotations(path: Path, events: Events, fs: float | None) -> None:
    """`events` as the WFDB annotation file `path` (<record>.ecgnet), stating its time resolution `fs` so
    that a multi-frequency record's readers need not guess it. Written aside and moved into place: a file
    half written is never left under the name."""
    import wfdb

    path.parent.mkdir(parents=True, exist_ok=True)
    # wfdb names the file from a record name of letters, digits, - and _; an EDF record's may hold others
    ann = wfdb.Annotation(
        "annotations",
        ANNOTATOR,
        events.sample,
        symbol=events.symbol,
        subtype=events.subtype,
        chan=np.zeros(len(events), dtype=np.int64),
        num=np.zeros(len(events), dtype=np.int64),
        aux_note=events.aux_note,
        fs=fs,
    )
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".ecgnet-annotations-") as aside:
        ann.wrann(write_fs=fs is not None, write_dir=aside)
        os.replace(Path(aside) / f"annotations.{ANNOTATOR}", path)


def prediction_events(pred: Prediction, task: TaskSpec) -> Events:
    """A scored record's rows as annotations of `task`'s codes: beats at their R peaks; a rhythm task's
    windows (a record of one row: its rhythm from the first sample)."""
    in_time(task, "annotations")
    codes, predicted = task.class_codes, pred.probs.argmax(axis=1)
    if task.unit == "beat":
        if pred.samples is None:
            raise ValueError(f"{pred.record}: its beats have no R-peak samples to annotate")
        return beat_events(predicted, pred.samples, codes, pred.beat_numbers)
    if pred.samples is None:
        return rhythm_events(predicted[:1], np.zeros(1, dtype=np.int64), codes)
    window = task.window
    length = round(window.duration_s * pred.record_fs) if isinstance(window, RecordWindows) and pred.record_fs else None
    return rhythm_events(predicted, pred.samples, codes, length)
