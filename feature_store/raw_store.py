"""The raw store: validated records and beats as Parquet, plus a quarantine table.

Layout under `<home>/store/`:
    raw/records/<kind>/<record_id>.parquet   one row per record (signal: leads x samples, mV)
    raw/beats/<kind>/<record_id>.parquet     one row per beat (signal: leads x context window)
    raw/_manifest/<kind>.json                record path -> fingerprint, for incremental ingest
    raw/_manifest/<kind>/<n>-shards/<key>.json  the same, per shard (ingest of one shard of n)
    quarantine/<kind>/<key>.parquet          one row per record that failed, with the reason
One file per record keeps ingest incremental and every write atomic (temp file, then rename).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .beat_ids import beat_ids
from .location import Location
from .shards import Shard, all_shards
from .sources.base import BeatBatch
from .sources.canonical import RecordRow

log = logging.getLogger(__name__)
# 2: records carry rhythm_spans; 3: records their dropouts, beats the leads a dropout reaches; 4: the same
# columns, and a lead held at one value while another records is a dropout too (`lead_off_runs`); 5: an edge
# where a lead has no samples is its dropout, no longer trimmed off (which moved the signal against the .atr's
# sample numbers), a multi-frequency record's annotations are read in frames unless they state their resolution,
# and records keep their notes (a store of an older version is ingested again)
SCHEMA_VERSION = "5"
SIGNAL = pa.list_(pa.list_(pa.float32()))  # leads x samples
_STRINGS = pa.list_(pa.string())
RHYTHM_SPANS = pa.list_(pa.struct([("start", pa.int64()), ("stop", pa.int64()), ("rhythm", pa.string())]))
DROPOUTS = pa.list_(pa.struct([("lead", pa.string()), ("start", pa.int64()), ("stop", pa.int64())]))

RECORD_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("patient_id", pa.string()),
        ("source", pa.string()),
        ("dataset", pa.string()),
        ("path", pa.string()),
        ("fs", pa.float32()),
        ("lead_names", _STRINGS),
        ("n_samples", pa.int32()),
        ("signal", SIGNAL),
        ("labels", _STRINGS),
        ("label_codes", _STRINGS),
        ("unmapped_codes", _STRINGS),
        ("split", pa.string()),
        ("recorded_at", pa.timestamp("us")),
        ("age", pa.float32()),
        ("sex", pa.string()),
        ("n_beats", pa.int32()),
        ("edge_beat_labels", _STRINGS),
        ("rhythm_spans", RHYTHM_SPANS),
        ("dropouts", DROPOUTS),
        ("notes", _STRINGS),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ],
    metadata={"ecgnet.table": "records", "ecgnet.schema_version": SCHEMA_VERSION},
)

BEAT_SCHEMA = pa.schema(
    [
        ("beat_id", pa.string()),
        ("record_id", pa.string()),
        ("patient_id", pa.string()),
        ("source", pa.string()),
        ("fs", pa.float32()),
        ("lead_names", _STRINGS),
        ("r_peak", pa.int64()),
        ("symbol", pa.string()),
        ("label", pa.string()),
        ("rr_prev_s", pa.float32()),
        ("rr_next_s", pa.float32()),
        ("split", pa.string()),
        ("beat_start", pa.int32()),
        ("beat_stop", pa.int32()),
        ("dropout_leads", _STRINGS),
        ("signal", SIGNAL),
    ],
    metadata={"ecgnet.table": "beats", "ecgnet.schema_version": SCHEMA_VERSION},
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("source", pa.string()),
        ("path", pa.string()),
        ("reason_code", pa.string()),
        ("reason", pa.string()),
        ("detected_at", pa.timestamp("us", tz="UTC")),
    ],
    metadata={"ecgnet.table": "quarantine", "ecgnet.schema_version": SCHEMA_VERSION},
)


# What each stored column means, for people: Dagster's Columns tab and anything else that lists the tables.
# Kept apart from the schemas, whose bytes are the files' (field metadata would change every Parquet file).
COLUMN_NOTES: dict[str, str] = {
    "record_id": "Record id, unique in the workspace (the source folder's name and the record's path in it).",
    "patient_id": "Patient (subject) id; splits are drawn by patient, so a patient's records share a split.",
    "source": "Source kind that read the record: ptbxl, challenge, annotated or wfdb.",
    "dataset": "The source folder's name, e.g. mitdb.",
    "path": "The record's path without extension, as found under the source folder.",
    "fs": "Sampling frequency in Hz, after resampling to the ingest rate.",
    "lead_names": "Lead of each signal row, as the header names it.",
    "n_samples": "Samples per lead.",
    "signal": "The signal in mV, leads x samples (records) or leads x context window around the R peak (beats).",
    "labels": "Diagnostic superclasses (records) or the AAMI beat classes the record holds.",
    "label_codes": "Codes as written in the source (SCP, SNOMED CT, PTB Diagnostic reason, rhythm or beat symbols).",
    "unmapped_codes": "Source codes that map to no label; listed, never dropped silently.",
    "split": "Patient-wise split: train, val or test (DS1/DS2 for MIT-BIH).",
    "recorded_at": "Recording date and time, where the header gives one.",
    "age": "Age in years, where the header gives a plausible one.",
    "sex": "Sex as the header writes it, where it does.",
    "n_beats": "Beats stored in the beats table (beat-annotated sources).",
    "edge_beat_labels": "Labels of annotated beats too near an edge or a dropout for a window; counted, not stored.",
    "rhythm_spans": "Rhythm episodes (start, stop in samples at fs; rhythm class), where the source annotates them.",
    "dropouts": "Runs of invalid samples (lead, start, stop in samples at fs, resampling's reach included), bridged "
    "by a straight line in the signal; no row is cut from them.",
    "notes": "What was read leniently, each with its fix where one applies: signals left out, flat leads, gaps "
    "interpolated, dropouts, an unparsed date (ingest logs the first of them; every one is here).",
    "ingested_at": "When the row was written (UTC).",
    "beat_id": "Beat id: the record id and the R peak's sample.",
    "r_peak": "R peak's sample index in the record at fs.",
    "symbol": "Annotation symbol as written (WFDB beat code).",
    "label": "AAMI class: N, S, V, F or Q.",
    "rr_prev_s": "Seconds since the previous beat; null for the record's first.",
    "rr_next_s": "Seconds to the next beat; null for the record's last.",
    "beat_start": "First sample of the beat window inside the context window.",
    "beat_stop": "End (exclusive) of the beat window inside the context window.",
    "dropout_leads": "Leads whose dropout (invalid samples, bridged by a line) the context window reaches; a task "
    "that reads one of them leaves the beat out.",
    "reason_code": "Why the record was quarantined, as a stable code (e.g. header_unreadable, flat_lead).",
    "reason": "Why the record was quarantined, in words, with the fix.",
    "detected_at": "When ingest quarantined the record (UTC).",
}


def signal_column(signals: np.ndarray) -> pa.ListArray:
    """(rows, leads, samples) float32 -> list<list<float32>> without copying through Python."""
    rows, leads, samples = signals.shape
    values = pa.array(np.ascontiguousarray(signals, dtype=np.float32).reshape(-1))
    offsets = np.arange(rows * leads + 1, dtype=np.int32) * samples  # samples may be 0: a signal not stored
    inner = pa.ListArray.from_arrays(pa.array(offsets), values)
    return pa.ListArray.from_arrays(pa.array(np.arange(0, rows * leads + 1, leads, dtype=np.int32)), inner)


def signals_of(table: pa.Table) -> np.ndarray:
    """The `signal` column back as (rows, leads, samples) float32; rows must share one shape."""
    column = table.column("signal").combine_chunks()
    leads = column.value_lengths().unique().to_pylist()
    samples = column.flatten().value_lengths().unique().to_pylist()
    if len(leads) > 1 or len(samples) > 1:
        raise ValueError(
            f"rows have different shapes (leads {leads}, samples {samples}); read them one record at a time"
        )
    return column.flatten().flatten().to_numpy().reshape(len(table), leads[0], samples[0])


def iter_signals(table: pa.Table) -> Iterator[np.ndarray]:
    """Each row's `signal` as a (leads, samples) float32 view; rows may differ in shape."""
    column = table.column("signal").combine_chunks()
    inner = column.flatten()
    values = inner.flatten().to_numpy()
    outer_off, inner_off = column.offsets.to_numpy(), inner.offsets.to_numpy()
    for i in range(len(column)):
        first, last = outer_off[i], outer_off[i + 1]
        start, stop = inner_off[first], inner_off[last]
        yield values[start:stop].reshape(last - first, -1)


def record_table(row: RecordRow) -> pa.Table:
    now = dt.datetime.now(dt.UTC)
    columns = {
        name: [getattr(row, name)] for name in RECORD_SCHEMA.names if name not in ("signal", "n_samples", "ingested_at")
    }
    columns.update(n_samples=[row.n_samples], ingested_at=[now], signal=signal_column(row.signal[None]))
    columns["rhythm_spans"] = [[{"start": a, "stop": b, "rhythm": r} for a, b, r in row.rhythm_spans]]
    columns["dropouts"] = [[{"lead": lead, "start": a, "stop": b} for lead, a, b in row.dropouts]]
    columns["notes"] = [list(row.notes)]
    return pa.table({name: columns[name] for name in RECORD_SCHEMA.names}, schema=RECORD_SCHEMA)


def beat_table(row: RecordRow, beats: BeatBatch) -> pa.Table:
    n = len(beats.r_peak)
    repeat = lambda value: [value] * n  # noqa: E731 - per-record constants on every beat row
    return pa.table(
        {
            "beat_id": beat_ids(row.record_id, beats.r_peak.tolist()),
            "record_id": repeat(row.record_id),
            "patient_id": repeat(row.patient_id),
            "source": repeat(row.source),
            "fs": repeat(row.fs),
            "lead_names": repeat(row.lead_names),
            "r_peak": beats.r_peak,
            "symbol": beats.symbol,
            "label": beats.label,
            "rr_prev_s": pa.array(beats.rr_prev_s, from_pandas=True),  # NaN -> null at the ends
            "rr_next_s": pa.array(beats.rr_next_s, from_pandas=True),
            "split": repeat(row.split),
            "beat_start": repeat(beats.beat_span[0]),
            "beat_stop": repeat(beats.beat_span[1]),
            "dropout_leads": beats.dropout_leads or repeat([]),
            "signal": signal_column(beats.windows),  # (B, leads, context samples); B may be 0 (AFDB)
        },
        schema=BEAT_SCHEMA,
    )


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write Parquet next to `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=1, use_byte_stream_split=True)
    os.replace(tmp, path)


def write_json_atomic(obj: object, path: Path) -> None:
    Location.of(path).write_json(obj)


def read_json(path: Path, default: object, rebuilt: str) -> object:
    """The JSON at `path`, `default` when absent; a damaged file is moved aside (`Location.read_json`)."""
    return Location.of(path).read_json(default, rebuilt)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (a lock file) for the block: processes that update the same
    manifest take turns instead of each writing back what it read (the last writer lost the others')."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def file_key(name: str) -> str:
    """A file name for a record id: ids may hold '/' (sub-folders) or other odd characters."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return safe if safe == name else f"{safe}-{hashlib.blake2b(name.encode(), digest_size=4).hexdigest()}"


@dataclass(frozen=True)
class RawStore:
    root: Path  # <home>/store

    def records_file(self, kind: str, record_id: str) -> Path:
        return self.root / "raw" / "records" / kind / f"{file_key(record_id)}.parquet"

    def beats_file(self, kind: str, record_id: str) -> Path:
        return self.root / "raw" / "beats" / kind / f"{file_key(record_id)}.parquet"

    def landed_intact(self, kind: str, record_id: str) -> bool:
        """The record's stored row (and beats, where it has them) are whole Parquet files."""
        beats = self.beats_file(kind, record_id)
        intact = Location.of(self.records_file(kind, record_id)).parquet_intact()
        return intact and (not beats.exists() or Location.of(beats).parquet_intact())

    def quarantine_file(self, kind: str, path: str) -> Path:
        key = hashlib.blake2b(path.encode(), digest_size=6).hexdigest()
        return self.root / "quarantine" / kind / f"{file_key(Path(path).name)}-{key}.parquet"

    def manifest_file(self, kind: str, shard: Shard | None = None) -> Path:
        base = self.root / "raw" / "_manifest"
        return base / f"{kind}.json" if shard is None else base / kind / f"{shard.count}-shards" / f"{shard.key}.json"

    def load_manifest(self, kind: str, shard: Shard | None = None) -> dict[str, dict]:
        return cast(
            "dict[str, dict]", read_json(self.manifest_file(kind, shard), {}, f"so every {kind} record is read again")
        )

    def manifest_lock(self, kind: str, shard: Shard | None = None) -> AbstractContextManager[None]:
        """Held by an ingest of `kind` (its shard) from reading its manifest to writing it back."""
        return locked(self.manifest_file(kind, shard).with_suffix(".lock"))

    def save_manifest(self, kind: str, manifest: dict[str, dict], shard: Shard | None = None) -> None:
        write_json_atomic(manifest, self.manifest_file(kind, shard))

    def snapshot(self, kind: str, shard: Shard | None = None) -> RawSnapshot:
        """What the last ingest of `kind` (its shard) left, read from its manifest."""
        manifest = self.load_manifest(kind, shard)
        landed = sorted(e["record_id"] for e in manifest.values() if e["status"] == "landed")
        return RawSnapshot(
            kind, str(self.root), manifest_fingerprint(manifest), tuple(landed), shard.key if shard else ""
        )

    def shard_snapshots(self, kinds: tuple[str, ...], count: int | None = None) -> dict[str, list[RawSnapshot]]:
        """Shard key -> the snapshots of `kinds` in that shard, for every shard of the workspace."""
        return {s.key: self.snapshots(kinds, s) for s in all_shards(count)}

    def snapshots(self, kinds: tuple[str, ...], shard: Shard | None = None) -> list[RawSnapshot]:
        """The snapshots of `kinds` (in that shard): a task's raw input."""
        return [self.snapshot(kind, shard) for kind in kinds]

    def _scan(self, table: str, kinds: tuple[str, ...] | None, schema: pa.Schema) -> pl.LazyFrame:
        base = self.root / table
        files = sorted(f for kind in (kinds or _dirs(base)) for f in (base / kind).glob("*.parquet"))
        if not files:
            empty = cast(pl.DataFrame, pl.from_arrow(schema.empty_table()))  # a Table converts to a DataFrame
            return pl.LazyFrame(schema=empty.schema)
        return pl.scan_parquet(files)

    def scan_records(self, kinds: tuple[str, ...] | None = None) -> pl.LazyFrame:
        return self._scan("raw/records", kinds, RECORD_SCHEMA)

    def scan_beats(self, kinds: tuple[str, ...] | None = None) -> pl.LazyFrame:
        return self._scan("raw/beats", kinds, BEAT_SCHEMA)

    def scan_quarantine(self, kinds: tuple[str, ...] | None = None) -> pl.LazyFrame:
        return self._scan("quarantine", kinds, QUARANTINE_SCHEMA)


def _dirs(base: Path) -> list[str]:
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def quarantine_table(record_id: str, kind: str, path: str, code: str, reason: str) -> pa.Table:
    now = dt.datetime.now(dt.UTC)
    return pa.table(
        {
            "record_id": [record_id],
            "source": [kind],
            "path": [path],
            "reason_code": [code],
            "reason": [reason],
            "detected_at": [now],
        },
        schema=QUARANTINE_SCHEMA,
    )


def manifest_fingerprint(manifest: dict[str, dict]) -> str:
    """Changes whenever a landed record of the manifest is added, removed or changed."""
    landed = sorted((e["record_id"], e["fingerprint"]) for e in manifest.values() if e["status"] == "landed")
    return hashlib.blake2b(json.dumps(landed).encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class RawSnapshot:
    """Which records of a kind (of one shard, or all), at which fingerprint: what features read."""

    kind: str
    store_root: str
    fingerprint: str  # changes whenever any landed record of this kind (shard) changes
    record_ids: tuple[str, ...]
    shard: str = ""  # the shard key; "" for a kind ingested whole

    def chunks(self, max_bytes: int) -> list[RawSnapshot]:
        """The snapshot cut into runs of whole records whose stored files hold about `max_bytes` at most
        (one record more when a single record is larger), so features stream with bounded memory."""
        store, out, size = self.store(), [], 0
        ids: list[str] = []
        for record_id in self.record_ids:
            files = (store.records_file(self.kind, record_id), store.beats_file(self.kind, record_id))
            nbytes = sum(f.stat().st_size for f in files if f.exists())
            if ids and size + nbytes > max_bytes:
                out.append(replace(self, record_ids=tuple(ids)))
                ids, size = [], 0
            ids.append(record_id)
            size += nbytes
        if ids:
            out.append(replace(self, record_ids=tuple(ids)))
        return out

    def store(self) -> RawStore:
        return RawStore(Path(self.store_root))

    def scan_records(self) -> pl.LazyFrame:
        return self.store().scan_records((self.kind,)).filter(pl.col("record_id").is_in(list(self.record_ids)))

    def scan_beats(self) -> pl.LazyFrame:
        return self.store().scan_beats((self.kind,)).filter(pl.col("record_id").is_in(list(self.record_ids)))
