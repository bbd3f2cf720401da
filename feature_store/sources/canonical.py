"""The canonical record row every source produces, and header-comment helpers they share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..transforms.dropouts import lead_masks, runs
from ..transforms.resample import resample
from .wfdb_record import WfdbSignal


@dataclass
class RecordRow:
    record_id: str
    patient_id: str
    source: str  # source kind: ptbxl | challenge | annotated | wfdb
    dataset: str  # the source folder's name, e.g. "mitdb"
    path: str  # record path without extension
    fs: float  # Hz, after resampling to the task's rate
    lead_names: list[str]
    signal: np.ndarray  # (leads, samples) float32, mV
    split: str
    labels: list[str] = field(default_factory=list)  # superclasses (records) or AAMI classes seen
    label_codes: list[str] = field(default_factory=list)  # codes as written in the source
    unmapped_codes: list[str] = field(default_factory=list)  # codes that gave no label
    recorded_at: dt.datetime | None = None
    age: float | None = None
    sex: str | None = None
    n_beats: int | None = None  # beats in the beat table (beat-annotated sources)
    edge_beat_labels: list[str] = field(default_factory=list)  # beats too close to an edge or a dropout
    # rhythm episodes (start, stop, class) in samples at `fs`: AF databases that annotate them (CPSC 2021)
    rhythm_spans: list[tuple[int, int, str]] = field(default_factory=list)
    notes: tuple[str, ...] = ()  # what was read leniently (stored, and the first of them logged by ingest)
    # those of edge_beat_labels whose window reaches a dropout (not stored: ingest's report tells them apart)
    dropout_beat_labels: list[str] = field(default_factory=list)
    # (lead, start, stop): where a dropout's stand-in line (WfdbSignal.dropouts) reaches the stored signal,
    # samples at `fs`, resampling's spread included; no row is cut from there
    dropouts: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[-1])


def comment_fields(comments: list[str]) -> dict[str, str]:
    """'# Age: 59' style header comments as {'age': '59'} (keys lower-cased)."""
    fields: dict[str, str] = {}
    for line in comments:
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def parse_age(value: str | None) -> float | None:
    try:
        age = float(value) if value is not None else None
    except ValueError:
        return None
    return age if age is not None and 0 <= age < 130 else None


def parse_sex(value: str | None) -> str | None:
    v = (value or "").strip().lower()
    return {"male": "M", "m": "M", "female": "F", "f": "F"}.get(v)


def parse_comment_date(value: str | None) -> dt.datetime | None:
    """'01/10/1990' (dd/mm/yyyy, PTB Diagnostic) or ISO dates from header comments."""
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime((value or "").strip(), fmt)
        except ValueError:
            continue
    return None


def base_row(
    sig: WfdbSignal,
    *,
    source: str,
    folder: Path,
    target_fs: float,
    split: str,
    patient_id: str | None = None,
    record_id: str | None = None,
) -> RecordRow:
    """A row with the signal resampled to `target_fs`; sources then add labels and demographics."""
    signal, fs = resample(sig.signal, fs=sig.fs, target_fs=target_fs)
    fields = comment_fields(sig.comments)
    record_id = record_id or sig.record_id
    spans = {lead: sig.dropout_spans([lead]) for lead in dict.fromkeys(d.lead for d in sig.dropouts)}
    masks = lead_masks(spans, signal.shape[-1], fs=sig.fs, target_fs=fs)
    dropouts = [(lead, a, b) for lead, mask in masks.items() for a, b in runs(mask)]
    return RecordRow(
        record_id=record_id,
        patient_id=patient_id or record_id,
        source=source,
        dataset=folder.name,
        path=str(sig.path),
        fs=fs,
        lead_names=sig.lead_names,
        signal=signal,
        split=split,
        recorded_at=sig.recorded_at or parse_comment_date(fields.get("ecg date")),
        age=parse_age(fields.get("age")),
        sex=parse_sex(fields.get("sex")),
        notes=sig.notes + _dropouts_said(dropouts, fs),
        dropouts=dropouts,
    )


def _dropouts_said(dropouts: list[tuple[str, int, int]], fs: float) -> tuple[str, ...]:
    if not dropouts:
        return ()
    leads = ", ".join(dict.fromkeys(lead for lead, _, _ in dropouts))
    seconds = sum(b - a for _, a, b in dropouts) / fs
    return (f"{len(dropouts)} dropout(s) in {leads} ({seconds:.2f} s of the stored signal): no row is cut from them",)
