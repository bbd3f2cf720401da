"""Data-quality checks on the raw store; each reports the expected and the actual value."""

import dagster as dg
import polars as pl

from feature_store.accounting import beat_accounting
from feature_store.ingest import POLICY_CODES
from feature_store.summary import markdown_table

from .assets.ingest import INGEST_ASSETS
from .resources import EcgnetStore, IngestSettings


def build_quarantine_check(kind: str) -> dg.AssetChecksDefinition:
    asset_name = INGEST_ASSETS[kind][0]

    @dg.asset_check(asset=asset_name, name="check_quarantine_fraction", blocking=True,
                    description="Fails when more than max_quarantine_fraction of records failed "
                                "validation (policy exclusions such as paced records do not count).")
    def _check(store: EcgnetStore, ingest: IngestSettings) -> dg.AssetCheckResult:
        raw = store.raw()
        quarantine = raw.scan_quarantine((kind,)).collect()
        failed = quarantine.filter(~pl.col("reason_code").is_in(list(POLICY_CODES)))
        landed = raw.scan_records((kind,)).select(pl.len()).collect().item()
        total = landed + len(failed)
        fraction = len(failed) / total if total else 0.0
        reasons = quarantine.group_by("reason_code").agg(records=pl.len()).sort("reason_code")
        return dg.AssetCheckResult(
            passed=fraction <= ingest.max_quarantine_fraction,
            metadata={"expected": f"<= {ingest.max_quarantine_fraction}",
                      "actual": round(fraction, 4), "failed_records": len(failed),
                      "landed_records": landed, "excluded_by_policy": len(quarantine) - len(failed),
                      "reasons": dg.MetadataValue.md(markdown_table(reasons))})

    return _check


@dg.asset_check(asset="annotated_beats", name="check_beats_accounted", blocking=True,
                description="Every annotated beat of every landed record is in the beat table "
                            "or counted as too close to a record edge.")
def check_beats_accounted(store: EcgnetStore) -> dg.AssetCheckResult:
    table = beat_accounting(store.raw())
    bad = table.filter(~pl.col("ok"))
    return dg.AssetCheckResult(
        passed=bad.is_empty(),
        metadata={"expected_beats": int(table["annotated"].sum()),
                  "actual_beats": int(table["accounted"].sum()),
                  "records_checked": len(table), "records_off": len(bad),
                  "off": dg.MetadataValue.md(markdown_table(bad.drop("path", "ok")))})


ingest_checks = [build_quarantine_check(kind) for kind in INGEST_ASSETS] + [check_beats_accounted]
