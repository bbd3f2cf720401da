"""Ingest assets, one per source kind: source folders -> validated raw store + quarantine."""

import dagster as dg
import polars as pl

from feature_store.ingest import IngestReport, ingest_kind
from feature_store.plots import records_png
from feature_store.raw_store import RawSnapshot, RawStore
from feature_store.sources.registry import discover
from feature_store.summary import class_counts, quarantine_reasons

from ..metadata import md, png
from ..resources import EcgnetStore, IngestSettings

INGEST_ASSETS = {
    "ptbxl": ("ptbxl_records", "PTB-XL records (ptbxl_database.csv layout), five superclasses."),
    "challenge": ("challenge_records", "PhysioNet/CinC Challenge records, SNOMED CT -> superclasses."),
    "annotated": ("annotated_beats", "Beat-annotated records (MIT-BIH .atr): a row per beat, AAMI class."),
    "wfdb": ("wfdb_records", "Any other WFDB records, unlabelled."),
}
PREVIEW_RECORDS = 3


def build_ingest_asset(kind: str) -> dg.AssetsDefinition:
    name, description = INGEST_ASSETS[kind]

    @dg.asset(name=name, group_name="ingest", description=description, kinds={"parquet"})
    def _ingest(
        context: dg.AssetExecutionContext, store: EcgnetStore, ingest: IngestSettings
    ) -> dg.Output[RawSnapshot]:
        cfg, raw = ingest.config(), store.raw()
        refs = discover(ingest.folders(), cfg)[kind]
        context.log.info(f"{name}: {len(refs)} {kind} records under {ingest.sources}")
        report = ingest_kind(kind, refs, raw, cfg)
        for q in report.quarantined:
            context.log.warning(f"quarantined {q.path} [{q.code}]: {q.reason}")
        for path, note in report.notes:
            context.log.warning(f"landed {path}, read leniently: {note}")
        for path in report.removed:
            context.log.warning(f"{path}: its files were deleted from the source folder; its rows left the store")
        context.log.info(
            f"{name}: {len(report.landed)} landed, {report.unchanged} unchanged, "
            f"{len(report.quarantined)} quarantined in {report.seconds:.1f} s "
            f"({report.records_per_s:.1f} records/s)"
        )
        if report.beats or report.edge_beats:
            context.log.info(
                f"{name}: beats landed now {dict(report.beats)}, too close to an edge {dict(report.edge_beats)}"
            )
        snapshot = RawSnapshot(kind, str(raw.root), report.snapshot, report.record_ids)
        return dg.Output(snapshot, metadata=_metadata(report, snapshot, raw, store, name))

    return _ingest


def _metadata(report: IngestReport, snapshot: RawSnapshot, raw: RawStore, store: EcgnetStore, name: str) -> dict:
    meta = {
        "records_found": report.found,
        "records_landed_now": len(report.landed),
        "records_unchanged": report.unchanged,
        "quarantined_now": len(report.quarantined),
        "removed_now": len(report.removed),
        "records_in_store": len(snapshot.record_ids),
        "seconds": round(report.seconds, 2),
        "records_per_s": round(report.records_per_s, 1),
        "snapshot": snapshot.fingerprint,
        "store": dg.MetadataValue.path(str(raw.root)),
        "class_counts": md(class_counts(raw, report.kind)),
        "quarantine": md(quarantine_reasons(raw, report.kind).drop("source")),
    }
    if report.kind == "annotated":
        meta["beats_in_store"] = snapshot.scan_beats().select(pl.len()).collect().item()
        meta["edge_beats"] = md(_edge_beats(snapshot))
    if report.kind == "challenge":
        meta["unmapped_codes"] = md(_unmapped(snapshot))
    if snapshot.record_ids:
        meta.update(_preview(snapshot, store, name))
    return meta


def _edge_beats(snapshot: RawSnapshot) -> pl.DataFrame:
    """Beats too close to a record edge for a context window: counted, per class."""
    return (
        snapshot.scan_records()
        .select(label=pl.col("edge_beat_labels"))
        .explode("label")
        .drop_nulls()
        .group_by("label")
        .agg(beats=pl.len())
        .sort("label")
        .collect()
    )


def _unmapped(snapshot: RawSnapshot) -> pl.DataFrame:
    return (
        snapshot.scan_records()
        .select(code=pl.col("unmapped_codes"))
        .explode("code")
        .drop_nulls()
        .group_by("code")
        .agg(records=pl.len())
        .sort("records", descending=True)
        .head(15)
        .collect()
    )


def _preview(snapshot: RawSnapshot, store: EcgnetStore, name: str) -> dict:
    ids = list(snapshot.record_ids[:PREVIEW_RECORDS])
    records = (
        snapshot.scan_records()
        .filter(pl.col("record_id").is_in(ids))
        .select("record_id", "fs", "lead_names", "labels", "signal")
        .collect()
    )
    beats = None
    if snapshot.kind == "annotated":
        beats = (
            snapshot.scan_beats()
            .filter(pl.col("record_id").is_in(ids))
            .select("record_id", "r_peak", "label")
            .collect()
        )
    return png(records_png(records, beats=beats), store.workspace().plots / f"{name}.png", "preview")


ingest_assets = [build_ingest_asset(kind) for kind in INGEST_ASSETS]
