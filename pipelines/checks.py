"""Data-quality checks on the raw store; each reports the expected and the actual value."""

import dagster as dg
import polars as pl

from feature_store.accounting import beat_accounting
from feature_store.ingest import POLICY_CODES
from feature_store.raw_store import RawSnapshot
from feature_store.summary import markdown_table
from feature_store.views.families import FAMILIES
from feature_store.views.quality import non_finite, raw_rows, schema_problems
from feature_store.views.store import ViewRef

from .assets.features import feature_asset_name
from .assets.ingest import INGEST_ASSETS
from .assets.training import TASKS
from .resources import EcgnetStore, IngestSettings, TrainingSettings


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


VIEW_CHECKS = ("check_schema", "check_finite_values", "check_rows_match_raw")


def _view_results(asset_name: str, view: ViewRef, snapshots: list[RawSnapshot]):
    entry = view.entry()
    key = dg.AssetKey(asset_name)
    problems = schema_problems(entry)
    yield dg.AssetCheckResult(asset_key=key, check_name="check_schema", passed=not problems,
                              metadata={"expected": dg.MetadataValue.json(entry["columns"]),
                                        "problems": dg.MetadataValue.json(problems)})
    bad = non_finite(entry)
    yield dg.AssetCheckResult(asset_key=key, check_name="check_finite_values",
                              passed=not any(bad.values()),
                              metadata={"expected": 0, "actual": sum(bad.values()),
                                        "per_column": dg.MetadataValue.json(bad)})
    raw = raw_rows(entry["task"], snapshots)
    excluded = sum(entry["lineage"]["excluded"].values())
    yield dg.AssetCheckResult(asset_key=key, check_name="check_rows_match_raw",
                              passed=entry["rows"] == raw - excluded,
                              metadata={"expected": raw - excluded, "actual": entry["rows"],
                                        "raw_rows": raw, "excluded": excluded})


def _specs(asset_name: str, raw_assets: list[str]) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(name, asset=asset_name, blocking=True, additional_deps=raw_assets)
            for name in VIEW_CHECKS]


def build_beat_view_checks(family: str) -> dg.AssetChecksDefinition:
    name = feature_asset_name("beats", family)

    @dg.multi_asset_check(specs=_specs(name, ["annotated_beats"]), name=f"{name}_quality",
                          ins={"view": dg.AssetIn(name), "annotated_beats": dg.AssetIn("annotated_beats")})
    def _checks(view: ViewRef, annotated_beats: RawSnapshot):
        yield from _view_results(name, view, [annotated_beats])

    return _checks


def build_record_view_checks(family: str) -> dg.AssetChecksDefinition:
    name = feature_asset_name("records", family)

    @dg.multi_asset_check(specs=_specs(name, ["ptbxl_records", "challenge_records"]),
                          name=f"{name}_quality",
                          ins={"view": dg.AssetIn(name), "ptbxl_records": dg.AssetIn("ptbxl_records"),
                               "challenge_records": dg.AssetIn("challenge_records")})
    def _checks(view: ViewRef, ptbxl_records: RawSnapshot, challenge_records: RawSnapshot):
        yield from _view_results(name, view, [ptbxl_records, challenge_records])

    return _checks


feature_checks = ([build_beat_view_checks(f) for f in FAMILIES]
                  + [build_record_view_checks(f) for f in FAMILIES])


def build_quality_gate(comparison: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=comparison, name="check_quality_gate", blocking=True,
                    description="The best variant (by validation metric) reaches the configured minimum "
                                "and is not worse than the current champion beyond its interval.")
    def _gate(store: EcgnetStore, training: TrainingSettings, candidate: dict) -> dg.AssetCheckResult:
        minimum = training.min_val(candidate["task"])
        decision = training.tracker(store.home).gate(candidate["task"], candidate, minimum)
        previous = decision["previous"] or {}
        return dg.AssetCheckResult(passed=decision["passed"], metadata={
            "expected": f">= {minimum} and not below champion "
                        f"{previous.get('name', '(none)')} at {previous.get('val_metric', float('nan')):.3f}",
            "actual": f"{decision['variant']}: {decision['val_metric']:.3f} (upper {decision['val_metric_hi']:.3f})",
            "reasons": dg.MetadataValue.json(decision["reasons"])})
    return _gate


training_checks = [build_quality_gate(t.comparison) for t in TASKS.values()]
