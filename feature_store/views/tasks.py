"""Learning tasks and their inputs: beats (MIT-BIH style) and records (PTB-XL style).

A task says which raw tables feed it, which split fits statistics, and how rows become one
fixed-shape batch (rows, leads, samples) for the transforms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..raw_store import RawSnapshot, iter_signals, signals_of
from ..sources.leads import STANDARD_12

KEYS = ("entity_id", "record_id", "patient_id", "split", "labels", "recorded_at")


@dataclass(frozen=True)
class Task:
    name: str
    kinds: tuple[str, ...]  # raw source kinds that feed it
    train_splits: tuple[str, ...]  # statistics are fitted on these splits only


TASKS = {
    "beats": Task("beats", ("annotated",), ("DS1", "train")),
    "records": Task("records", ("ptbxl", "challenge"), ("train",)),
}


@dataclass
class TaskInput:
    task: Task
    keys: pl.DataFrame  # KEYS columns, one row per entity
    signal: np.ndarray  # (rows, leads, samples) float32, mV
    fs: float
    lead_names: list[str]  # per channel; for beats the second channel differs across records
    crop: tuple[int, int] | None = None  # beats: the beat window inside the context window
    beats: pl.DataFrame | None = None  # beats: record_id, r_peak, rr_prev_s, rr_next_s
    excluded: dict[str, int] = field(default_factory=dict)  # rows left out, per reason

    @property
    def train_mask(self) -> np.ndarray:
        return self.keys["split"].is_in(list(self.task.train_splits)).to_numpy()


def load_beats(snapshots: list[RawSnapshot], *, n_leads: int = 2) -> TaskInput:
    frames = [s.scan_beats().collect() for s in snapshots if s.record_ids]
    beats = pl.concat(frames) if frames else pl.DataFrame()
    if beats.is_empty():
        return _empty(TASKS["beats"], n_leads, 0)
    fs_values, spans = beats["fs"].unique().to_list(), beats.select("beat_start", "beat_stop").unique()
    if len(fs_values) > 1 or len(spans) > 1:
        raise ValueError(f"beat rows have several rates {fs_values} or windows {spans.rows()}; fix: "
                         "ingest every beat source with one IngestConfig (beat_fs, windows)")
    few = beats["lead_names"].list.len() < n_leads
    beats = beats.filter(~few).sort("record_id", "r_peak")
    signal = signals_of(beats.select(pl.col("signal").list.head(n_leads)).to_arrow())
    keys = beats.select(entity_id="beat_id", record_id="record_id", patient_id="patient_id",
                        split="split", labels=pl.concat_list("label"),
                        recorded_at=pl.lit(None, dtype=pl.Datetime("us")))
    # MIT-BIH's first lead is MLII in 45 of 48 records; the second is V1, V2, V4 or V5
    return TaskInput(TASKS["beats"], keys, signal, float(fs_values[0]),
                     [f"lead {i + 1}" for i in range(n_leads)], crop=spans.row(0),
                     beats=beats.select("record_id", "r_peak", "rr_prev_s", "rr_next_s"),
                     excluded={"fewer_leads": int(few.sum())})


def load_records(snapshots: list[RawSnapshot], *, duration_s: float = 10.0,
                 leads: tuple[str, ...] = STANDARD_12) -> TaskInput:
    frames = [s.scan_records().collect() for s in snapshots if s.record_ids]
    records = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    if records.is_empty():
        return _empty(TASKS["records"], len(leads), 0)
    has_leads = records["lead_names"].list.eval(pl.element().is_in(list(leads))).list.sum() == len(leads)
    records = records.filter(has_leads).sort("record_id")
    fs_values = records["fs"].unique().to_list()
    if len(fs_values) > 1:
        raise ValueError(f"records have several rates {fs_values}; fix: ingest with one record_fs")
    fs = float(fs_values[0])
    n = int(round(duration_s * fs))
    signal = np.zeros((len(records), len(leads), n), dtype=np.float32)
    rows = zip(records["lead_names"].to_list(), iter_signals(records.select("signal").to_arrow()))
    for i, (names, sig) in enumerate(rows):
        x = sig[[names.index(lead) for lead in leads], :n]
        signal[i, :, :x.shape[1]] = x  # shorter records are zero-padded at the end
    keys = records.select(entity_id="record_id", record_id="record_id", patient_id="patient_id",
                          split="split", labels="labels", recorded_at="recorded_at")
    return TaskInput(TASKS["records"], keys, signal, fs, list(leads),
                     excluded={"missing_leads": int((~has_leads).sum())})


def _empty(task: Task, leads: int, samples: int) -> TaskInput:
    keys = pl.DataFrame(schema={"entity_id": pl.String, "record_id": pl.String, "patient_id": pl.String,
                                "split": pl.String, "labels": pl.List(pl.String),
                                "recorded_at": pl.Datetime("us")})
    return TaskInput(task, keys, np.zeros((0, leads, samples), np.float32), 0.0, [])


LOADERS = {"beats": load_beats, "records": load_records}
