"""What a source kind is: a reference to a record, and the rows that loading it gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import IngestConfig
from .canonical import RecordRow
from .header_text import named_files


def clock(seconds: float) -> str:
    """A time in a record as h:mm:ss."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


@dataclass(frozen=True)
class RecordRef:
    kind: str
    path: Path  # record path without extension
    folder: Path  # the source folder it was found under
    meta: dict = field(default_factory=dict, hash=False, compare=False)  # e.g. a PTB-XL table row

    @property
    def record_key(self) -> str:
        """The id the record is expected to land under, before it is read: PTB-XL's `ecg_id`, else its
        name (a header may name it otherwise; quarantine entries and shard buckets use this one)."""
        return str(self.meta.get("ecg_id") or self.path.name)

    @property
    def problem(self) -> str | None:
        """Why discovery already knows this ref names no readable record (a broken PTB-XL table row, a
        signal file no header names: the ref quarantines itself when read), or None."""
        return self.meta.get("row_problem")

    @property
    def problem_code(self) -> str:
        """The quarantine reason code of `problem` (a table row's, unless discovery said otherwise)."""
        return str(self.meta.get("problem_code", "bad_table_row"))

    def files(self) -> list[Path]:
        """The record's files (`record_files`), for its fingerprint."""
        return record_files(self.path)


def record_files(path: Path) -> list[Path]:
    """A record's files (header, signal, annotation; an EDF file): those named after it and those its header
    names (signal files of other names, a multi-segment record's segments)."""
    own = set(path.parent.glob(path.name + ".*"))
    return sorted(own | set(named_files(path.with_name(path.name + ".hea"))))


@dataclass
class BeatBatch:
    """The beats of one record; `windows` are context windows centred on each R peak."""

    r_peak: np.ndarray  # (B,) int64, sample index in the record at `fs`
    symbol: list[str]  # annotation symbol as written
    label: list[str]  # AAMI class N/S/V/F/Q
    rr_prev_s: np.ndarray  # (B,) float32 s to the previous beat, NaN for the first
    rr_next_s: np.ndarray  # (B,) float32 s to the next beat, NaN for the last
    windows: np.ndarray  # (B, leads, context samples) float32, mV
    beat_span: tuple[int, int]  # (start, stop) of the beat window inside each context window
    # per beat, the leads whose dropout its window reaches (their stand-in line is in it): a task that reads
    # one of them leaves the beat out (views.inputs.load_beats); empty: none for any beat
    dropout_leads: list[list[str]] = field(default_factory=list)


@dataclass
class Landed:
    record: RecordRow
    beats: BeatBatch | None = None


class Source(Protocol):
    kind: str
    # bumped when the reader learns to land records it quarantined before: a workspace reads again the
    # records an earlier revision quarantined, though their files did not change (landed ones stay)
    revision: int

    def load(self, ref: RecordRef, cfg: IngestConfig) -> Landed:
        """Read and validate one record; raise RecordError naming the file and the fix."""
        ...
