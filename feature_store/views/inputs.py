"""Task inputs: the raw rows of a task as one fixed-shape batch (rows, leads, samples) for the
transforms, built the way the task's windowing says (beat windows or record crops)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from ..raw_store import RawSnapshot, iter_signals, signals_of
from ..sources.leads import pick_leads
from ..tasks import BeatWindows, RecordWindows, TaskSpec

KEYS = ("entity_id", "record_id", "patient_id", "split", "labels", "recorded_at")
KEY_SCHEMA = {
    "entity_id": pl.String,
    "record_id": pl.String,
    "patient_id": pl.String,
    "split": pl.String,
    "labels": pl.List(pl.String),
    "recorded_at": pl.Datetime("us"),
}


@dataclass
class TaskInput:
    task: str
    keys: pl.DataFrame  # KEYS columns, one row per entity
    signal: np.ndarray  # (rows, leads, samples) float32, mV
    fs: float
    lead_names: list[str]  # per channel, the lead (or slot, for beats: ingest picks a substitute by name)
    unit: str  # "beat" | "record"
    train_splits: tuple[str, ...] = ()  # statistics are fitted on these splits only
    crop: tuple[int, int] | None = None  # beats: the beat window inside the context window
    beats: pl.DataFrame | None = None  # beats: record_id, r_peak, rr_prev_s, rr_next_s
    excluded: dict[str, int] = field(default_factory=dict)  # rows left out, per reason
    notes: list[str] = field(default_factory=list)  # e.g. which lead a substitute filled (online rows)

    @property
    def train_mask(self) -> np.ndarray:
        return self.keys["split"].is_in(list(self.train_splits)).to_numpy()


def load_input(spec: TaskSpec, snapshots: list[RawSnapshot]) -> TaskInput:
    """The rows of `spec` from the raw snapshots of its source kinds, windowed as the spec says."""
    return LOADERS[type(spec.window)](spec, snapshots)


def load_beats(spec: TaskSpec, snapshots: list[RawSnapshot]) -> TaskInput:
    window: BeatWindows = spec.window
    n_leads = window.n_leads
    frames = [s.scan_beats().collect() for s in snapshots if s.record_ids]
    beats = pl.concat(frames) if frames else pl.DataFrame()
    if beats.is_empty():
        return empty_input(spec, n_leads)
    fs_values, spans = beats["fs"].unique().to_list(), beats.select("beat_start", "beat_stop").unique()
    if len(fs_values) > 1 or len(spans) > 1:
        raise ValueError(
            f"beat rows have several rates {fs_values} or windows {spans.rows()}; fix: "
            "ingest every beat source with one IngestConfig (beat_fs, windows)"
        )
    distinct = beats["lead_names"].unique().to_list()
    picks = pl.DataFrame(
        {"lead_names": distinct, "lead_index": [pick_leads(window.leads, names) for names in distinct]},
        schema={"lead_names": pl.List(pl.String), "lead_index": pl.List(pl.Int64)},
    )
    beats = beats.join(picks, on="lead_names", how="left")
    missing = beats["lead_index"].is_null()
    other = ~missing & ~beats["label"].is_in(list(spec.classes))
    beats = beats.filter(~missing & ~other).sort("record_id", "r_peak")
    signal = signals_of(beats.select(pl.col("signal").list.gather(pl.col("lead_index"))).to_arrow())
    keys = beats.select(
        entity_id="beat_id",
        record_id="record_id",
        patient_id="patient_id",
        split="split",
        labels=pl.concat_list("label"),
        recorded_at=pl.lit(None, dtype=pl.Datetime("us")),
    )
    excluded = {"missing_leads": int(missing.sum())} | ({"other_class": int(other.sum())} if other.any() else {})
    return TaskInput(
        spec.name,
        keys,
        signal,
        float(fs_values[0]),
        [slot.name for slot in window.leads],
        spec.unit,
        spec.splits.train,
        crop=spans.row(0),
        beats=beats.select("record_id", "r_peak", "rr_prev_s", "rr_next_s"),
        excluded=excluded,
    )


def load_records(spec: TaskSpec, snapshots: list[RawSnapshot]) -> TaskInput:
    window: RecordWindows = spec.window
    leads = window.leads
    frames = [s.scan_records().collect() for s in snapshots if s.record_ids]
    records = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    if records.is_empty():
        return empty_input(spec, len(leads))
    has_leads = records["lead_names"].list.eval(pl.element().is_in(list(leads))).list.sum() == len(leads)
    # a single-label task scores rows with exactly one of its classes (plain WFDB records carry none)
    one_class = records["labels"].list.eval(pl.element().is_in(list(spec.classes))).list.sum() == 1
    labelled = one_class if not spec.multilabel else pl.Series([True] * len(records))
    excluded = {"missing_leads": int((~has_leads).sum())} | (
        {} if spec.multilabel else {"unlabelled": int((has_leads & ~labelled).sum())}
    )
    records = records.filter(has_leads & labelled).sort("record_id")
    if records.is_empty():  # every row left out: an empty view that still accounts for them
        return replace(empty_input(spec, len(leads)), excluded=excluded)
    fs_values = records["fs"].unique().to_list()
    if len(fs_values) > 1:
        raise ValueError(f"records have several rates {fs_values}; fix: ingest with one record_fs")
    fs = float(fs_values[0])
    n = int(round(window.duration_s * fs))
    signal = np.zeros((len(records), len(leads), n), dtype=np.float32)
    rows = zip(records["lead_names"].to_list(), iter_signals(records.select("signal").to_arrow()))
    for i, (names, sig) in enumerate(rows):
        x = sig[[names.index(lead) for lead in leads], :n]
        signal[i, :, : x.shape[1]] = x  # shorter records are zero-padded at the end
    keys = records.select(
        entity_id="record_id",
        record_id="record_id",
        patient_id="patient_id",
        split="split",
        labels="labels",
        recorded_at="recorded_at",
    )
    return TaskInput(
        spec.name,
        keys,
        signal,
        fs,
        list(leads),
        spec.unit,
        spec.splits.train,
        excluded=excluded,
    )


def empty_input(spec: TaskSpec, leads: int) -> TaskInput:
    return TaskInput(
        spec.name,
        pl.DataFrame(schema=KEY_SCHEMA),
        np.zeros((0, leads, 0), np.float32),
        0.0,
        [],
        spec.unit,
        spec.splits.train,
    )


def raw_rows(spec: TaskSpec, snapshots: list[RawSnapshot]) -> int:
    """Rows in the raw store behind a task's views: beats or records of the snapshots' records."""
    return sum(spec.window.raw_rows(s).select(pl.len()).collect().item() for s in snapshots if s.record_ids)


LOADERS = {BeatWindows: load_beats, RecordWindows: load_records}
