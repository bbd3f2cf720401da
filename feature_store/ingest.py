"""Incremental ingest: discovered records -> raw store or quarantine, one record at a time.

A record whose files, metadata and ingest configuration are unchanged since the last run is
skipped without being read; a failing record is quarantined with its reason and the run goes on.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .config import IngestConfig
from .raw_store import (
    SCHEMA_VERSION,
    RawStore,
    beat_table,
    manifest_fingerprint,
    quarantine_table,
    record_table,
    write_atomic,
)
from .shards import Shard, shard_label
from .sources.base import Landed, RecordRef
from .sources.errors import RecordError
from .sources.files import check_readable, file_digest
from .sources.registry import SOURCES

log = logging.getLogger(__name__)
# Exclusions are policy (AAMI's paced records; MIT-BIH's x_mitdb extracts of its own records), not bad
# data: they do not count as failures.
POLICY_CODES = frozenset({"excluded_paced", "excluded_extract"})


@dataclass(frozen=True)
class Quarantined:
    record_id: str
    path: str
    code: str
    reason: str


@dataclass
class IngestReport:
    kind: str
    found: int = 0
    shard: str = ""  # the shard key ingested; "" for the whole kind
    landed: list[str] = field(default_factory=list)  # record ids written by this run
    unchanged: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)  # quarantined by this run
    beats: Counter = field(default_factory=Counter)  # AAMI class -> beats written by this run
    edge_beats: Counter = field(default_factory=Counter)  # AAMI class -> beats too near an edge or a dropout
    # AAMI class -> those of edge_beats that reach a dropout in every lead (a beat that reaches one in some
    # leads is stored, those leads marked: BeatBatch.dropout_leads)
    dropout_beats: Counter = field(default_factory=Counter)
    # AAMI class -> beats written with a lead a dropout reaches marked (a task that reads it leaves them out)
    marked_beats: Counter = field(default_factory=Counter)
    episode_s: dict[str, float] = field(default_factory=dict)  # rhythm -> seconds of rhythm episodes written
    seconds: float = 0.0
    snapshot: str = ""  # fingerprint of every record of this kind now in the raw store
    record_ids: tuple[str, ...] = ()  # every record of this kind now in the raw store
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, note): landed, read leniently
    removed: list[str] = field(default_factory=list)  # paths whose record files are gone: dropped from the store

    @property
    def where(self) -> str:
        return shard_label(self.shard)

    @property
    def records_per_s(self) -> float:
        read = len(self.landed) + len(self.quarantined)
        return read / self.seconds if self.seconds > 0 else 0.0


def fingerprint(ref: RecordRef, cfg: IngestConfig) -> str:
    """The record's files, metadata and ingest settings, hashed; RecordError for a file that must not
    be read (not a regular file, or a link out of the data folder)."""
    files = ref.files()
    check_readable(files, ref.folder, outside_links=cfg.outside_links)
    prefix = f"{ref.kind}|{SCHEMA_VERSION}|{cfg.fingerprint()}|{json.dumps(ref.meta, sort_keys=True)}"
    return file_digest(files, prefix.encode())


def ingest_kind(
    kind: str, refs: list[RecordRef], store: RawStore, cfg: IngestConfig, shard: Shard | None = None
) -> IngestReport:
    """Ingest `refs` of one source kind into `store` (with `shard`: those of `refs` in that shard, kept in
    the shard's own manifest); returns what happened, record by record."""
    if shard is not None:
        refs = [r for r in refs if shard.holds(r.record_key)]
    with store.manifest_lock(kind, shard):  # a second ingest of this kind (shard) waits instead of losing entries
        return _ingest_locked(kind, refs, store, cfg, shard)


def _ingest_locked(
    kind: str, refs: list[RecordRef], store: RawStore, cfg: IngestConfig, shard: Shard | None
) -> IngestReport:
    report, start = IngestReport(kind, found=len(refs), shard=shard.key if shard else ""), time.perf_counter()
    manifest = store.load_manifest(kind, shard)
    owners = {
        e["record_id"]: path
        for path, e in manifest.items()
        if e["status"] == "landed" and Path(path + ".hea").is_file()
    }
    _drop_deleted(kind, {str(r.path) for r in refs}, manifest, store, report)
    last_log = start
    for i, ref in enumerate(refs, 1):
        key = str(ref.path)
        try:
            fp = fingerprint(ref, cfg)
        except (RecordError, OSError) as err:
            _forget(store, kind, manifest.get(key, {}))
            manifest[key] = _quarantine(ref, "", _as_record_error(err, key), store, report)
            continue
        entry = manifest.get(key, {})
        if entry.get("fingerprint") == fp and _intact(store, kind, entry) and not _older_reader(entry, kind):
            report.unchanged += 1
            continue
        _forget(store, kind, manifest.get(key, {}))
        manifest[key] = _ingest_one(ref, fp, store, cfg, owners, report)
        if time.perf_counter() - last_log > 5:
            last_log = time.perf_counter()
            log.info("%s%s: %d/%d records, %.1f records/s", kind, report.where, i, len(refs), i / (last_log - start))
    store.save_manifest(kind, manifest, shard)
    report.seconds = time.perf_counter() - start
    report.snapshot = manifest_fingerprint(manifest)
    report.record_ids = tuple(sorted(e["record_id"] for e in manifest.values() if e["status"] == "landed"))
    return report


def _ingest_one(
    ref: RecordRef, fp: str, store: RawStore, cfg: IngestConfig, owners: dict[str, str], report: IngestReport
) -> dict:
    key = str(ref.path)
    try:
        landed = SOURCES[ref.kind].load(ref, cfg)
        record_id = landed.record.record_id
        if owners.get(record_id, key) != key:
            raise RecordError(
                "duplicate_id",
                f"{key}: record id {record_id!r} was already ingested "
                f"from {owners[record_id]}; fix: rename or remove one of the two",
            )
    except Exception as err:  # noqa: BLE001 - one broken record never stops the others: anything is quarantined
        return _quarantine(ref, fp, _as_record_error(err, key), store, report)
    _write_landed(landed, store)
    owners[record_id] = key
    report.landed.append(record_id)
    report.notes += [(key, note) for note in landed.record.notes]
    report.edge_beats.update(landed.record.edge_beat_labels)
    report.dropout_beats.update(landed.record.dropout_beat_labels)
    if landed.beats is not None:
        report.beats.update(landed.beats.label)
        report.marked_beats.update(
            label for label, leads in zip(landed.beats.label, landed.beats.dropout_leads) if leads
        )
    for start, stop, rhythm in landed.record.rhythm_spans:
        report.episode_s[rhythm] = report.episode_s.get(rhythm, 0.0) + (stop - start) / landed.record.fs
    return {"fingerprint": fp, "record_id": record_id, "status": "landed"}


def _intact(store: RawStore, kind: str, entry: dict) -> bool:
    """A landed record's stored files are whole; one cut short (a crash, a full disk) is read again."""
    if entry.get("status") != "landed" or store.landed_intact(kind, entry["record_id"]):
        return True
    log.warning("%s: the stored files of %s are damaged; reading the record again", kind, entry["record_id"])
    return False


def _older_reader(entry: dict, kind: str) -> bool:
    """Quarantined by an earlier revision of its kind's reader, which may land it now: read again."""
    return entry.get("status") == "quarantined" and entry.get("revision", 0) < SOURCES[kind].revision


def _drop_deleted(kind: str, found: set[str], manifest: dict, store: RawStore, report: IngestReport) -> None:
    """Records whose header is gone from its folder leave the store (rows, quarantine entry, manifest):
    the store holds what the data folders hold. Records of folders not ingested this time stay."""
    for key in [k for k in manifest if k not in found and not os.path.lexists(k + ".hea")]:
        _forget(store, kind, manifest[key])
        store.quarantine_file(kind, key).unlink(missing_ok=True)
        del manifest[key]
        report.removed.append(key)
        # the caller says it once, with its shard (the ingest asset warns): a second line here was the same news
        log.debug("%s: %s was deleted from its folder; its rows left the store", kind, key)


def _as_record_error(err: Exception, key: str) -> RecordError:
    if isinstance(err, RecordError):
        return err
    log.warning("%s: unexpected %s while reading it", key, type(err).__name__, exc_info=err)
    return RecordError(
        "unreadable",
        f"{key}: reading it failed with {type(err).__name__}: {err}; fix: check the record with "
        f"wfdb.rdrecord('{key}') and repair or remove its files (the other records were ingested)",
    )


def _quarantine(ref: RecordRef, fp: str, err: RecordError, store: RawStore, report: IngestReport) -> dict:
    key, record_id = str(ref.path), ref.record_key
    entry = Quarantined(record_id, key, err.code, str(err))
    table = quarantine_table(record_id, ref.kind, key, err.code, entry.reason)
    write_atomic(table, store.quarantine_file(ref.kind, key))
    report.quarantined.append(entry)
    log.debug("%s: quarantined %s [%s] %s", ref.kind, key, err.code, err)
    revision = SOURCES[ref.kind].revision  # a later reader may land it (_older_reader)
    return {
        "fingerprint": fp,
        "record_id": record_id,
        "status": "quarantined",
        "reason_code": err.code,
        "revision": revision,
    }


def _write_landed(landed: Landed, store: RawStore) -> None:
    row = landed.record
    write_atomic(record_table(row), store.records_file(row.source, row.record_id))
    if landed.beats is not None:
        write_atomic(beat_table(row, landed.beats), store.beats_file(row.source, row.record_id))
    store.quarantine_file(row.source, row.path).unlink(missing_ok=True)


def _forget(store: RawStore, kind: str, entry: dict) -> None:
    """Drop what an earlier version of a changed record left, so no stale row survives."""
    if entry.get("status") == "landed":
        store.records_file(kind, entry["record_id"]).unlink(missing_ok=True)
        store.beats_file(kind, entry["record_id"]).unlink(missing_ok=True)
