"""Ingest assets, one per source kind: source folders -> validated raw store + quarantine."""

import dagster as dg
import polars as pl

from feature_store.ingest import IngestReport, ingest_kind
from feature_store.raw_store import (
    BEAT_SCHEMA,
    COLUMN_NOTES,
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    RawSnapshot,
    RawStore,
    signals_of,
)
from feature_store.sources.annotated import signal_from_windows
from feature_store.sources.registry import discover
from feature_store.summary import class_counts, quarantine_reasons

from ..metadata import arrow_columns, md, png
from ..partitions import shards_def, step_shards
from ..resources import EcgnetStore, IngestSettings

INGEST_ASSETS = {
    "ptbxl": ("ptbxl_records", "PTB-XL records (ptbxl_database.csv layout), five superclasses."),
    "challenge": (
        "challenge_records",
        "Records whose header states the diagnosis: PhysioNet/CinC Challenge (SNOMED CT) and PTB Diagnostic "
        "(reason for admission) -> superclasses.",
    ),
    "annotated": (
        "annotated_beats",
        "Annotated records (.atr): a row per beat, AAMI class (MIT-BIH); the rhythm episodes of AF databases "
        "(CPSC 2021, AFDB).",
    ),
    "wfdb": (
        "wfdb_records",
        "Any other WFDB or EDF records: unlabelled, or rhythm classes from a CinC 2017 REFERENCE.csv; and what looks "
        "like a record's file but no record reads (a signal file no header names, BDF), quarantined by name.",
    ),
}
LOGGED_RECORDS = 20  # a run's quarantined records, and those landed read leniently, logged one by one
# where each kind's patients, and so its patient-wise splits, come from (feature_store.sources.splits)
PATIENTS_FROM = {
    "ptbxl": "Patients and splits from the table's patient_id and strat_fold.",
    "*": "Patients (and so splits) from MIT-BIH's DS1/DS2 table, the database's layout, or a PATIENTS.csv "
    "(record,patient) beside the records or above them.",
}
PREVIEW_RECORDS = 3
PREVIEW_SECONDS = 5.0


def build_ingest_asset(kind: str) -> dg.AssetsDefinition:
    name, description = INGEST_ASSETS[kind]

    @dg.asset(
        name=name,
        group_name="ingest",
        description=f"{description} {PATIENTS_FROM.get(kind, PATIENTS_FROM['*'])} Partitioned by shard (a stable "
        "hash bucket of the record id).",
        kinds={"parquet"},
        partitions_def=shards_def,
        metadata=_tables(kind),
        code_version=f"raw-schema-{SCHEMA_VERSION}",  # a store of another schema version is ingested again
    )
    def _ingest(context: dg.AssetExecutionContext, store: EcgnetStore, ingest: IngestSettings) -> dg.MaterializeResult:
        cfg, raw, shards = ingest.config(), store.raw(), step_shards(context)
        refs = discover(ingest.folders(), cfg)[kind]
        context.log.info(f"{name}: {len(refs)} {kind} records under {ingest.sources}, shards {[s.key for s in shards]}")
        reports = [ingest_kind(kind, refs, raw, cfg, shard=s) for s in shards]
        _log_records(context, reports)
        for report in reports:
            _log(context, name, report)
        snapshots = [raw.snapshot(kind, s) for s in shards]
        for snapshot in snapshots:  # each shard's own figures on its own partition's materialization
            context.add_asset_metadata(_shard_metadata(kind, snapshot), partition_key=snapshot.shard)
        return dg.MaterializeResult(metadata=_metadata(kind, reports, snapshots, raw, store, name))

    return _ingest


def _tables(kind: str) -> dict[str, dg.TableSchema]:
    """The asset's tables for the Columns tab: annotated records are read through their beats table, so
    the beats lead and their records follow; every other kind writes records only."""
    records = arrow_columns(RECORD_SCHEMA, COLUMN_NOTES)
    if kind == "annotated":
        return {"dagster/column_schema": arrow_columns(BEAT_SCHEMA, COLUMN_NOTES), "records_table": records}
    return {"dagster/column_schema": records}


def _shard_metadata(kind: str, snapshot: RawSnapshot) -> dict:
    """Rows in the shard's table (beats for annotated records) and the snapshot downstream views read."""
    scan = snapshot.scan_beats() if kind == "annotated" else snapshot.scan_records()
    rows = scan.select(pl.len()).collect().item() if snapshot.record_ids else 0
    return {"dagster/row_count": rows, "records": len(snapshot.record_ids), "snapshot": snapshot.fingerprint}


def _log_records(context: dg.AssetExecutionContext, reports: list[IngestReport]) -> None:
    """The records quarantined and those landed read leniently by this run, the first of each by name."""
    quarantined = [f"quarantined {q.path} [{q.code}]: {q.reason}" for r in reports for q in r.quarantined]
    _log_first(context, quarantined, "quarantined", "each is a row of the quarantine table, with its reason and fix")
    by_record: dict[str, list[str]] = {}
    for path, note in (n for r in reports for n in r.notes):
        by_record.setdefault(path, []).append(note)
    lenient = [f"landed {path}, read leniently: {'; '.join(notes)}" for path, notes in by_record.items()]
    _log_first(context, lenient, "landed read leniently", "each one's notes are in the records table's notes column")


def _log(context: dg.AssetExecutionContext, name: str, report: IngestReport) -> None:
    for path in report.removed:
        context.log.warning(f"{path}: its files were deleted from the source folder; its rows left the store")
    removed = f", {len(report.removed)} removed" if report.removed else ""
    context.log.info(
        f"{name}{report.where}: {report.found} found, {len(report.landed)} landed, {report.unchanged} unchanged, "
        f"{len(report.quarantined)} quarantined{removed} in {report.seconds:.1f} s "
        f"({report.records_per_s:.1f} records/s)"
    )
    if report.beats or report.edge_beats:
        context.log.info(
            f"{name}{report.where}: beats landed now {dict(report.beats)}, "
            f"too close to an edge or a dropout in every lead {dict(report.edge_beats)}"
            + (f", of them reaching a dropout {dict(report.dropout_beats)}" if report.dropout_beats else "")
            + (
                f"; landed with a lead a dropout reaches marked {dict(report.marked_beats)}"
                if report.marked_beats
                else ""
            )
        )
    if report.episode_s:
        minutes = {rhythm: round(s / 60, 1) for rhythm, s in sorted(report.episode_s.items())}
        context.log.info(f"{name}{report.where}: rhythm episodes landed now, minutes {minutes}")


def _log_first(context: dg.AssetExecutionContext, lines: list[str], what: str, where: str) -> None:
    """The first `LOGGED_RECORDS` lines one by one, the rest counted: a full database can read thousands of
    records leniently (CinC 2021's Ningbo records with flat leads), a warning each would bury the run's log."""
    for line in lines[:LOGGED_RECORDS]:
        context.log.warning(line)
    if len(lines) > LOGGED_RECORDS:
        context.log.warning(
            f"... and {len(lines) - LOGGED_RECORDS} more records {what}, not logged one by one; {where}"
        )


def _metadata(
    kind: str, reports: list[IngestReport], snapshots: list[RawSnapshot], raw: RawStore, store: EcgnetStore, name: str
) -> dict:
    seconds, read = sum(r.seconds for r in reports), sum(len(r.landed) + len(r.quarantined) for r in reports)
    meta = {
        "shards": ", ".join(s.shard for s in snapshots),
        "records_found": sum(r.found for r in reports),
        "records_landed_now": sum(len(r.landed) for r in reports),
        "records_unchanged": sum(r.unchanged for r in reports),
        "quarantined_now": sum(len(r.quarantined) for r in reports),
        "removed_now": sum(len(r.removed) for r in reports),
        "records_in_shards": sum(len(s.record_ids) for s in snapshots),
        "seconds": round(seconds, 2),
        "records_per_s": round(read / seconds, 1) if seconds else 0.0,
        # beats of records landed now whose window reaches a dropout in every lead (counted in edge_beats too)
        "dropout_beats_now": sum(sum(r.dropout_beats.values()) for r in reports),
        # and those stored with the leads a dropout reaches marked (a task that reads one leaves them out)
        "marked_beats_now": sum(sum(r.marked_beats.values()) for r in reports),
        "snapshots": dg.MetadataValue.json({s.shard: s.fingerprint for s in snapshots}),
        "store": dg.MetadataValue.path(str(raw.root)),
        "class_counts": md(class_counts(raw, kind)),
        "quarantine": md(quarantine_reasons(raw, kind).drop("source")),
    }
    live = [s for s in snapshots if s.record_ids]
    if not live:
        return meta
    lenient = _lenient(live)
    meta["records_read_leniently"] = lenient.height
    meta["read_leniently"] = md(lenient.head(LOGGED_RECORDS))
    if kind == "annotated":
        meta["beats_in_shards"] = sum(s.scan_beats().select(pl.len()).collect().item() for s in live)
        meta["edge_beats"] = md(_edge_beats(live))
        episodes = rhythm_episodes(live)
        if not episodes.is_empty():  # AF databases' records (CPSC 2021, AFDB): what the af task cuts windows from
            meta["rhythm_episodes"] = md(episodes)
    if kind == "challenge":
        meta["unmapped_codes"] = md(_unmapped(live))
    meta.update(_preview(live[0], store, name))
    return meta


def _records(snapshots: list[RawSnapshot]) -> pl.LazyFrame:
    return pl.concat([s.scan_records() for s in snapshots])


def _lenient(snapshots: list[RawSnapshot]) -> pl.DataFrame:
    """The shards' records read leniently, each with its notes (the records table's `notes`)."""
    return (
        _records(snapshots)
        .filter(pl.col("notes").list.len() > 0)
        .select("record_id", notes=pl.col("notes").list.join("; "))
        .sort("record_id")
        .collect()
    )


def _edge_beats(snapshots: list[RawSnapshot]) -> pl.DataFrame:
    """Beats too close to a record edge for a context window: counted, per class."""
    return (
        _records(snapshots)
        .select(label=pl.col("edge_beat_labels"))
        .explode("label")
        .drop_nulls()
        .group_by("label")
        .agg(beats=pl.len())
        .sort("label")
        .collect()
    )


def rhythm_episodes(snapshots: list[RawSnapshot]) -> pl.DataFrame:
    """Rhythm episodes landed (AF databases): episodes and their minutes, per rhythm and split."""
    span = pl.col("span").struct
    return (
        _records(snapshots)
        .select("split", "fs", span=pl.col("rhythm_spans"))
        .explode("span")
        .drop_nulls("span")
        .select(
            "split", rhythm=span.field("rhythm"), minutes=(span.field("stop") - span.field("start")) / pl.col("fs") / 60
        )
        .group_by("rhythm", "split")
        .agg(episodes=pl.len(), minutes=pl.col("minutes").sum().round(1))
        .sort("rhythm", "split")
        .collect()
    )


def _unmapped(snapshots: list[RawSnapshot]) -> pl.DataFrame:
    return (
        _records(snapshots)
        .select(code=pl.col("unmapped_codes"))
        .explode("code")
        .drop_nulls()
        .group_by("code")
        .agg(records=pl.len())
        .sort("records", descending=True)
        .head(15)
        .collect()
    )


def _drawn_from_beats(snapshot: RawSnapshot, records: pl.DataFrame, head: int) -> pl.DataFrame:
    """Beat records whose row keeps no signal (no rhythm episode, or too long) with their first `head`
    samples put back from their beats' context windows (gaps where no window reaches)."""
    bare = records.filter(pl.col("n_samples") == 0)["record_id"].to_list()
    if not bare:
        return records
    near = (
        snapshot.scan_beats()
        .filter(pl.col("record_id").is_in(bare) & (pl.col("r_peak") < 3 * head))  # windows reaching the head
        .select("record_id", "r_peak", "signal")
        .sort("record_id", "r_peak")
        .collect()
    )
    drawn = {}
    for (record_id,), beats in near.group_by("record_id"):
        windows = signals_of(beats.select("signal").to_arrow())
        drawn[record_id] = signal_from_windows(beats["r_peak"].to_numpy(), windows, head).tolist()
    column = [drawn.get(r, s) for r, s in zip(records["record_id"], records["signal"].to_list())]
    return records.with_columns(pl.Series("signal", column, dtype=pl.List(pl.List(pl.Float32))))


def _preview(snapshot: RawSnapshot, store: EcgnetStore, name: str) -> dict:
    ids = list(snapshot.record_ids[:PREVIEW_RECORDS])
    scan = snapshot.scan_records().filter(pl.col("record_id").is_in(ids))
    # the seconds shown only: a 10 h Holter's samples as Python floats would take a GB
    head = int(PREVIEW_SECONDS * (scan.select(pl.col("fs").max()).collect().item() or 0)) + 1
    signal = pl.col("signal").list.eval(pl.element().list.head(head))
    records = scan.select("record_id", "fs", "lead_names", "labels", "n_samples", "dropouts", signal).collect()
    beats = None
    if snapshot.kind == "annotated":
        beats = (
            snapshot.scan_beats()
            .filter(pl.col("record_id").is_in(ids))
            .select("record_id", "r_peak", "label")
            .collect()
        )
        records = _drawn_from_beats(snapshot, records, head)
    from feature_store.plots import records_png  # matplotlib, when a preview is drawn: not at the code location's load

    preview = records_png(records, seconds=PREVIEW_SECONDS, beats=beats)
    return png(preview, store.workspace().plots / f"{name}.png", "preview")


ingest_assets = [build_ingest_asset(kind) for kind in INGEST_ASSETS]
