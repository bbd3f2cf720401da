"""Task inputs: the raw rows of a task as one fixed-shape batch (rows, leads, samples) for the
transforms, built the way the task's windowing says (beat windows or record crops)."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from ..raw_store import COLUMN_NOTES, RawSnapshot, iter_signals, signals_of
from ..sources.leads import pick_leads
from ..tasks import BeatWindows, RecordWindows, TaskSpec
from ..transforms.dropouts import clear_windows, dropout_mask, first_clear
from ..transforms.resample import rate_ratio, resample, resample_spread_s, resampled_length

log = logging.getLogger(__name__)
KEYS = ("entity_id", "record_id", "patient_id", "split", "labels", "recorded_at")
KEY_SCHEMA: dict[str, type[pl.DataType] | pl.DataType] = {
    "entity_id": pl.String,
    "record_id": pl.String,
    "patient_id": pl.String,
    "split": pl.String,
    "labels": pl.List(pl.String),
    "recorded_at": pl.Datetime("us"),
}
# the key columns a view does not share with the raw tables, or means otherwise there
_VIEW_KEY_NOTES = {
    "entity_id": "The row's id: a beat id (beat tasks), a record id (record tasks) or a record's window.",
    "labels": "The row's classes in the task's label set (a beat's AAMI class, a record's superclasses).",
}
KEY_NOTES = {key: _VIEW_KEY_NOTES.get(key) or COLUMN_NOTES[key] for key in KEYS}


@dataclass(frozen=True)
class RecordBeats:
    """Every beat of one record too long to read whole, as a whole read's rows would hold them (those whose
    context window fits in the record, in time order), found section by section (`sectioned_beats.record_beats`):
    what the beat rows of one section are read against, the record's rhythm and median beat."""

    r_peak: np.ndarray  # (beats,) at the rows' rate, from the record's start
    sample: np.ndarray  # (beats,) the R peak in the record as stored
    rr_prev_s: np.ndarray  # (beats,) float32, NaN where unknown (the first; across a stretch no beat was seen in)
    rr_next_s: np.ndarray
    clear: np.ndarray | None  # (beats,) False where a dropout reaches the beat's window; None: none does
    pick_rows: np.ndarray  # the beats (sorted) that the record's median beats are made of
    pick_signal: np.ndarray  # (picks, leads, samples): their context windows, as the rows' signal holds them
    notes: list[str] = field(default_factory=list)  # how the record was read, said once for all its sections
    first: int = 0  # the first of these beats that a section's rows hold (`TaskInput.record`)

    def rows(self, n: int) -> slice:
        """The beats that a section's `n` rows are, from `first`."""
        return slice(self.first, self.first + n)


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
    starts: np.ndarray | None = None  # online rhythm windows: each row's first sample in the record as stored
    record_fs: float | None = None  # online rows: the rate of the record as stored (of `starts`, beats' `sample`)
    record_start: dt.datetime | None = None  # online rows: when the record began, where its file says
    # beats: False for a row that a dropout in a lead the task reads reaches, made only as its neighbours'
    # context and dropped once the features are (`kept`); None: every row is scored
    scored: np.ndarray | None = None
    # beats of one section of a record too long to read whole: the whole record's beats they are read against
    record: RecordBeats | None = None

    @property
    def train_mask(self) -> np.ndarray:
        """The rows statistics are fitted on: the train splits' scored rows."""
        train = self.keys["split"].is_in(list(self.train_splits)).to_numpy()
        return train if self.scored is None else train & self.scored

    @property
    def kept_keys(self) -> pl.DataFrame:
        """The keys of the scored rows: a row made only as its neighbours' context (a dropout reaches it)
        leaves once the features are made (`kept`)."""
        return self.keys if self.scored is None else self.keys.filter(pl.Series(self.scored))

    def kept(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """`columns` (rows first, in this input's row order) of the scored rows only (`kept_keys`)."""
        return columns if self.scored is None else {name: a[self.scored] for name, a in columns.items()}


CROP_MARGIN_S = 1.0  # s of the record on either side of a window while it is resampled (`_crop`)
CHUNK_ENV = "ECGNET_CHUNK_MB"  # stored Parquet per chunk of records, in MB (default 48)
CHUNK_BYTES = 48 * 2**20  # a few hundred MB of rows in memory at most


def chunked_inputs(spec: TaskSpec, snapshots: list[RawSnapshot], max_bytes: int | None = None) -> Iterator[TaskInput]:
    """The rows of `spec`, a run of whole records at a time (per-record features such as RR and the
    record's median beat see all of a record's beats), so no step holds the whole database."""
    for snapshot in snapshots:
        for chunk in snapshot.chunks(max_bytes or chunk_bytes()):
            yield load_input(spec, [chunk])


def chunk_bytes() -> int:
    """ECGNET_CHUNK_MB in bytes, else CHUNK_BYTES: smaller chunks, less memory per step."""
    value = os.environ.get(CHUNK_ENV)
    try:
        mb = float(value) if value else CHUNK_BYTES / 2**20
    except ValueError:
        mb = 0.0
    if mb <= 0:
        raise ValueError(f"{CHUNK_ENV}={value!r}; fix: megabytes of stored records per chunk, e.g. 48")
    return int(mb * 2**20)


def load_input(spec: TaskSpec, snapshots: list[RawSnapshot]) -> TaskInput:
    """The rows of `spec` from the raw snapshots of its source kinds, windowed as the spec says."""
    return LOADERS[type(spec.window)](spec, snapshots)


def load_beats(spec: TaskSpec, snapshots: list[RawSnapshot]) -> TaskInput:
    window = spec.window
    if not isinstance(window, BeatWindows):
        raise ValueError(f"task {spec.name!r} has {type(window).__name__} rows, not beats; fix: call load_input")
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
    # a beat whose window holds a dropout's stand-in line in a lead the task reads
    read = pl.col("lead_names").list.gather(pl.col("lead_index"))
    reaches = beats.select((read.list.set_intersection("dropout_leads").list.len() > 0).fill_null(False)).to_series()
    spoiled = ~missing & ~other & reaches
    # a beat a dropout spoils stays a row until its neighbours' features are made (their rhythm context, the
    # record's median beat read as `predict` reads them), then leaves (`scored`; FeatureStore.materialize)
    beats = beats.with_columns(scored=~reaches).filter(~missing & ~other).sort("record_id", "r_peak")
    excluded = {"missing_leads": int(missing.sum())} | ({"other_class": int(other.sum())} if other.any() else {})
    excluded |= {"dropouts": int(spoiled.sum())} if spoiled.any() else {}
    if beats.is_empty():  # every beat left out (a source without the task's leads): an empty view that counts them
        return replace(empty_input(spec, n_leads), excluded=excluded)
    signal = signals_of(beats.select(pl.col("signal").list.gather(pl.col("lead_index"))).to_arrow())
    keys = beats.select(
        entity_id="beat_id",
        record_id="record_id",
        patient_id="patient_id",
        split="split",
        labels=pl.concat_list("label"),
        recorded_at=pl.lit(None, dtype=pl.Datetime("us")),
    )
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
        scored=beats["scored"].to_numpy() if spoiled.any() else None,
    )


def load_records(spec: TaskSpec, snapshots: list[RawSnapshot]) -> TaskInput:
    window = spec.window
    if not isinstance(window, RecordWindows):
        raise ValueError(f"task {spec.name!r} has {type(window).__name__} rows, not records; fix: call load_input")
    slots = window.leads
    usable = _usable(window)
    scans = [s.scan_records() for s in snapshots if s.record_ids]
    skipped = sum(scan.filter(~usable).select(pl.len()).collect().item() for scan in scans)
    frames = [scan.filter(usable).collect() for scan in scans]
    records = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    if skipped:  # not rows of this task (raw_rows counts none for them): said, not counted as excluded;
        # DEBUG, as every shard of every view reads them again (16 lines a demo run at INFO)
        log.debug("%s: %d beat-annotated record(s) without rhythm episodes give no rows", spec.name, skipped)
    if records.is_empty():
        return empty_input(spec, len(slots))
    distinct = records["lead_names"].unique().to_list()
    picks = pl.DataFrame(
        {"lead_names": distinct, "lead_index": [pick_leads(slots, names) for names in distinct]},
        schema={"lead_names": pl.List(pl.String), "lead_index": pl.List(pl.Int64)},
    )
    records = records.join(picks, on="lead_names", how="left", maintain_order="left").sort("record_id")
    has_leads = records["lead_index"].is_not_null()
    fs = window.fs or _one_rate(records.filter(has_leads))
    # counted in rows: a record without the leads loses its row, or each of its episode windows
    lost = records.filter(~has_leads).select("source", "fs", "rhythm_spans").iter_rows(named=True)
    rows, excluded = [], {"missing_leads": sum(_rows_of(r, window, spec.classes) for r in lost)}
    records = records.filter(has_leads)
    # rows as dicts without their signal: a 10 h record's as Python floats would take a GB
    meta = records.drop("signal").iter_rows(named=True)
    for rec, sig in zip(meta, iter_signals(records.select("signal").to_arrow())):
        x, read = sig[rec["lead_index"]], [rec["lead_names"][i] for i in rec["lead_index"]]
        if rec["source"] == "annotated":
            made, spoiled = _episode_windows(rec, x, window, fs, spec.classes, _reach(rec, read, fs))
            rows += made
            if spoiled:
                excluded["dropouts"] = excluded.get("dropouts", 0) + spoiled
        elif not (spec.multilabel or sum(label in spec.classes for label in rec["labels"]) == 1):
            # a single-label task scores rows with exactly one of its classes (plain WFDB records carry none)
            excluded["unlabelled"] = excluded.get("unlabelled", 0) + 1
        elif (start := row_start(rec, read, window, fs)) is None:
            excluded["dropouts"] = excluded.get("dropouts", 0) + 1
        else:
            rows.append((rec["record_id"], rec, rec["labels"], _crop(x, rec["fs"], start, window, fs)))
    if not rows:  # every row left out: an empty view that still accounts for them
        return replace(empty_input(spec, len(slots)), excluded=excluded)
    keys = pl.DataFrame(
        {
            "entity_id": [entity for entity, *_ in rows],
            "record_id": [rec["record_id"] for _, rec, *_ in rows],
            "patient_id": [rec["patient_id"] for _, rec, *_ in rows],
            "split": [rec["split"] for _, rec, *_ in rows],
            "labels": [labels for _, _, labels, _ in rows],
            "recorded_at": [rec["recorded_at"] for _, rec, *_ in rows],
        },
        schema=KEY_SCHEMA,
    )
    signal = np.stack([x for *_, x in rows])
    leads = list(window.lead_names)
    return TaskInput(spec.name, keys, signal, fs, leads, spec.unit, spec.splits.train, excluded=excluded)


def _usable(window: RecordWindows) -> pl.Expr:
    """Raw records that can give a record task rows: beat-annotated ones only through their rhythm
    episodes (the others are counted, never read: a beat database's signals are hundreds of MB)."""
    plain = pl.col("source") != "annotated"
    return plain | (pl.col("rhythm_spans").list.len() > 0) if window.rhythm_windows else plain


def _one_rate(records: pl.DataFrame) -> float:
    fs_values = records["fs"].unique().to_list()
    if len(fs_values) > 1:
        raise ValueError(f"records have several rates {fs_values}; fix: ingest with one record_fs")
    return float(fs_values[0]) if fs_values else 0.0


def row_start(rec: dict, leads: list[str], window: RecordWindows, fs: float) -> int | None:
    """Where a record's one row starts (samples at its stored rate): at 0, or, where its first
    `window.duration_s` touch a dropout of `leads` (or the edges of resampling it to `fs` would reach one),
    at the first stretch that long clear of them, as `predict` places a new record's row; None without
    one (a 10 s record with a dropout)."""
    mask = _reach(rec, leads, fs)
    return 0 if mask is None else first_clear(mask, int(round(window.duration_s * rec["fs"])))


def _reach(rec: dict, leads: list[str], fs: float) -> np.ndarray | None:
    """Where the dropouts of `leads` reach in a stored record (samples at its rate), widened by how far
    resampling it to `fs` spreads a sample; None where those leads have none."""
    spans = [(d["start"], d["stop"]) for d in rec.get("dropouts") or [] if d["lead"] in leads]
    if not spans:
        return None
    margin = int(np.ceil(resample_spread_s(rec["fs"], fs) * rec["fs"]))
    return dropout_mask(np.array(spans), rec["n_samples"], margin=margin)


def _crop(x: np.ndarray, fs_in: float, start: int, window: RecordWindows, fs: float) -> np.ndarray:
    """`window.duration_s` of `x` (leads, samples at `fs_in`) from `start`, at `fs`, zero-padded at the end.
    A window inside a record is resampled with up to `CROP_MARGIN_S` of the record on either side, so that
    its edges are filtered as its inside is: resampled alone, a slice of a lead with an offset starts and
    ends on a step (CPSC 2021's leads sit 5 mV off zero: 2 mV of ringing at each window's start)."""
    n_in, n = int(round(window.duration_s * fs_in)), int(round(window.duration_s * fs))
    ratio = rate_ratio(fs_in, fs)
    # the margin before is whole polyphase periods, so the output grid still starts at `start`
    before = min(start, int(CROP_MARGIN_S * fs_in)) // ratio.denominator * ratio.denominator
    after = int(CROP_MARGIN_S * fs_in)
    piece, _ = resample(x[:, start - before : start + n_in + after], fs=fs_in, target_fs=fs)
    skip = before * ratio.numerator // ratio.denominator
    keep = resampled_length(min(n_in, x.shape[-1] - start), ratio)  # what the slice alone gives
    piece = piece[:, skip : skip + keep]
    out = np.zeros((x.shape[0], n), np.float32)
    out[:, : min(n, piece.shape[1])] = piece[:, :n]
    return out


def episode_windows(rec: dict, window: RecordWindows, classes: tuple[str, ...]) -> list[tuple[int, str]]:
    """(first sample at the stored rate, rhythm) of each whole window inside a rhythm episode of one of
    the task's classes, laid end to end from the episode's start."""
    n_in = int(round(window.duration_s * rec["fs"]))
    return [
        (start, span["rhythm"])
        for span in rec["rhythm_spans"] or []
        if span["rhythm"] in classes
        for start in range(span["start"], span["stop"] - n_in + 1, n_in)
    ]


def _episode_windows(
    rec: dict, x: np.ndarray, window: RecordWindows, fs: float, classes: tuple[str, ...], reach: np.ndarray | None
) -> tuple[list[tuple], int]:
    """(entity id, record, labels, signal) per episode window clear of the dropouts that `reach` (the read
    leads'), the id the record and its first sample; and how many windows reach one (no rows)."""
    starts = episode_windows(rec, window, classes)
    n_in = int(round(window.duration_s * rec["fs"]))
    clear = (
        np.ones(len(starts), bool) if reach is None else clear_windows(reach, np.array([a for a, _ in starts]), n_in)
    )
    made = [
        (f"{rec['record_id']}@{start}", rec, [rhythm], _crop(x, rec["fs"], start, window, fs))
        for (start, rhythm), ok in zip(starts, clear)
        if ok
    ]
    return made, int((~clear).sum())


def _rows_of(rec: dict, window: RecordWindows, classes: tuple[str, ...]) -> int:
    """Rows a raw record gives a record task: its episode windows if beat-annotated, else one."""
    return len(episode_windows(rec, window, classes)) if rec["source"] == "annotated" else 1


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
    """Rows in the raw store behind a task's views: beats, records, or (rhythm windows) each plain
    record and each episode window of the beat-annotated ones."""
    window, live = spec.window, [s for s in snapshots if s.record_ids]
    if isinstance(window, RecordWindows):
        usable = _usable(window)
        records = [s.scan_records().filter(usable).select("source", "fs", "rhythm_spans").collect() for s in live]
        return sum(_rows_of(r, window, spec.classes) for frame in records for r in frame.iter_rows(named=True))
    return sum(window.raw_rows(s).select(pl.len()).collect().item() for s in live)


LOADERS = {BeatWindows: load_beats, RecordWindows: load_records}
