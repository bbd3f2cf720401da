"""Data-quality checks and the promotion gate; each reports the expected and the actual value."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from ecgnet.promotion import Candidate, gate
from feature_store.accounting import beat_accounting, patients_in_two_splits
from feature_store.ingest import POLICY_CODES
from feature_store.shards import Shard
from feature_store.sources.files import under_folders
from feature_store.summary import markdown_table
from feature_store.tasks import TaskSpec, view_name
from feature_store.views.families import FAMILIES
from feature_store.views.inputs import raw_rows
from feature_store.views.quality import non_finite, schema_problems

from .assets.ingest import INGEST_ASSETS
from .naming import TaskAssets
from .partitions import checked_shards
from .resources import EcgnetStore, IngestSettings, MlflowTracking, TrainingSettings


def build_quarantine_check(kind: str) -> dg.AssetChecksDefinition:
    asset_name = INGEST_ASSETS[kind][0]

    @dg.asset_check(
        asset=asset_name,
        name="check_quarantine_fraction",
        blocking=True,
        description="Fails when more than max_quarantine_fraction of the records under this run's source "
        "folders failed validation (policy exclusions such as paced records do not count; records the store "
        "keeps from folders not read this time are listed, not counted).",
    )
    def _check(store: EcgnetStore, ingest: IngestSettings) -> dg.AssetCheckResult:
        raw = store.raw()
        folders = ingest.folders()
        quarantine = raw.scan_quarantine((kind,)).collect()
        read = under_folders(quarantine["path"].to_list(), folders)
        quarantine = quarantine.with_columns(read=pl.Series(read, dtype=pl.Boolean))
        landed_paths = raw.scan_records((kind,)).select("path").collect()["path"].to_list()
        landed_here = sum(under_folders(landed_paths, folders))
        counted = quarantine.filter(pl.col("read"))
        failed = counted.filter(~pl.col("reason_code").is_in(list(POLICY_CODES)))
        total = landed_here + len(failed)
        fraction = len(failed) / total if total else 0.0
        reasons = quarantine.group_by("reason_code", "read").agg(records=pl.len()).sort("reason_code", "read")
        reasons = reasons.rename({"read": "read_this_run"})
        elsewhere = (len(landed_paths) - landed_here, len(quarantine) - len(counted))
        passed = fraction <= ingest.max_quarantine_fraction
        return dg.AssetCheckResult(
            passed=passed,
            description=None
            if passed
            else f"{len(failed)} of {total} {kind} records quarantined ({fraction:.1%}) in this run's source "
            f"folders, above the limit {ingest.max_quarantine_fraction:.1%}; fix: see the quarantine reasons, or "
            "raise the limit with ECGNET_MAX_QUARANTINE",
            metadata={
                "expected": f"<= {ingest.max_quarantine_fraction}",
                "actual": round(fraction, 4),
                "failed_records": len(failed),
                "landed_records": landed_here,
                "excluded_by_policy": len(counted) - len(failed),
                # kept by design (the store holds what every folder ever ingested still has on disk), not
                # this run's doing: a stale `duplicate_id` of a folder since dropped from ECGNET_DATA must
                # not stop the runs of the folders that remain
                "other_folders_landed": elsewhere[0],
                "other_folders_quarantined": elsewhere[1],
                "reasons": dg.MetadataValue.md(markdown_table(reasons)),
            },
        )

    return _check


@dg.asset_check(
    asset="annotated_beats",
    name="check_beats_accounted",
    blocking=True,
    description="Every annotated beat of every record the run's shards hold is in the beat table "
    "or counted as too close to a record edge or a dropout.",
)
def check_beats_accounted(context: dg.AssetCheckExecutionContext, store: EcgnetStore) -> dg.AssetCheckResult:
    raw = store.raw()
    shards = checked_shards(context.op_execution_context)
    table = beat_accounting(raw, record_ids=[r for s in shards for r in raw.snapshot("annotated", s).record_ids])
    bad = table.filter(~pl.col("ok"))
    return dg.AssetCheckResult(
        passed=bad.is_empty(),
        metadata={
            "expected_beats": int(table["annotated"].sum()),
            "actual_beats": int(table["accounted"].sum()),
            "records_checked": len(table),
            "records_off": len(bad),
            "off": dg.MetadataValue.md(markdown_table(bad.drop("path", "ok"))),
        },
    )


def build_patient_check(kind: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=INGEST_ASSETS[kind][0],
        name="check_patients_in_one_split",
        blocking=True,
        description="Fails when a patient's records lie in two splits (train/val/test, DS1/DS2): a model "
        "would be tested on a patient it trained on. Published protocols' own overlaps are reported, not failed.",
    )
    def _check(store: EcgnetStore) -> dg.AssetCheckResult:
        records = store.raw().scan_records((kind,)).select("dataset", "patient_id", "record_id", "split").collect()
        leaks, protocol = patients_in_two_splits(records)
        as_text = lambda t: t.with_columns(pl.col("splits", "record_ids").list.join(", "))  # noqa: E731
        return dg.AssetCheckResult(
            passed=leaks.is_empty(),
            metadata={
                "expected": "0 patients in two splits",
                "actual": len(leaks),
                "patients": records.select("dataset", "patient_id").n_unique(),
                "leaks": dg.MetadataValue.md(markdown_table(as_text(leaks))),
                "protocol_overlaps": dg.MetadataValue.md(markdown_table(as_text(protocol))),
            },
        )

    return _check


ingest_checks = (
    [build_quarantine_check(kind) for kind in INGEST_ASSETS]
    + [build_patient_check(kind) for kind in INGEST_ASSETS]
    + [check_beats_accounted]
)

# each view check, and what it guards, as the check's page in the UI says it
VIEW_CHECKS = {
    "check_schema": "Every part of every shard holds the key columns and each feature column at the type and "
    "shape the view's catalog entry declares, so the shards union into one training set.",
    "check_finite_values": "No NaN or infinite value in any feature column of any shard: one would reach "
    "training and every figure after it.",
    "check_rows_match_raw": "Each shard holds one row per raw row of the task (record or beat) but those it "
    "counted as excluded, by reason (metadata `excluded`): no row is lost without a count.",
}


def _view_results(
    spec: TaskSpec, family: str, asset_name: str, store: EcgnetStore, shards: list[Shard]
) -> Iterator[dg.AssetCheckResult]:
    """The view checks over the shards this run materialized, each shard's figures side by side."""
    raw, features, per_shard = store.raw(), store.features(), {}
    for shard in shards:
        snapshots = raw.snapshots(spec.source_kinds, shard)
        entry = features.shard_entry(spec, family, snapshots)
        if entry is None:  # records ingested since the view was made: what a check run alone can meet
            raise dg.Failure(
                f"{asset_name}: shard {shard.key} has no view of its current records to check; fix: materialize "
                f"{asset_name} for shard {shard.key}"
            )
        per_shard[shard.key] = (entry, raw_rows(spec, snapshots))
    key, view = dg.AssetKey(asset_name), view_name(spec.name, family)
    problems = {k: p for k, (e, _) in per_shard.items() if (p := schema_problems(e))}
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name="check_schema",
        passed=not problems,
        # a part changed after it was written (by hand, a copy from elsewhere): materializing the shard
        # again finds its bytes differ from the catalog's and computes the same version anew
        description=f"{asset_name}'s parts in {_shards(problems)} differ from its catalog entry "
        f"({_first(problems)}); fix: materialize {asset_name} again for {_shards(problems)}, which computes the "
        "changed parts anew"
        if problems
        else None,
        metadata={
            "expected": dg.MetadataValue.json({k: list(v) for k, v in _columns(per_shard).items()}),
            "problems": dg.MetadataValue.json(problems),
        },
    )
    bad = {k: b for k, (e, _) in per_shard.items() if any((b := non_finite(e)).values())}
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name="check_finite_values",
        passed=not bad,
        # computing again gives the same values: records that passed ingest's validation and that a
        # transform cannot take, so the fix is to find them
        description=f"{asset_name}'s parts in {_shards(bad)} hold NaN or infinite values in {_bad_columns(bad)}; "
        f"fix: find their records (FeatureStore.scan('{view}') filtered on those columns) and quarantine them, "
        "or report the transform"
        if bad
        else None,
        metadata={
            "expected": 0,
            "actual": sum(sum(b.values()) for b in bad.values()),
            "per_shard_column": dg.MetadataValue.json(bad),
        },
    )
    off = {k: {"expected": n - e.excluded_rows, "actual": e.rows} for k, (e, n) in per_shard.items()}
    wrong = {k: v for k, v in off.items() if v["expected"] != v["actual"]}
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name="check_rows_match_raw",
        passed=not wrong,
        description=f"{asset_name} holds other rows than the raw store after exclusions ({_counts(wrong)}); fix: "
        f"materialize {asset_name} again for {_shards(wrong)}"
        if wrong
        else None,
        metadata={
            "expected": sum(v["expected"] for v in off.values()),
            "actual": sum(v["actual"] for v in off.values()),
            "raw_rows": sum(n for _, n in per_shard.values()),
            "shards_off": dg.MetadataValue.json(wrong),
            "excluded": dg.MetadataValue.json({k: e.lineage.excluded for k, (e, _) in per_shard.items()}),
        },
    )


def _shards(failing: dict) -> str:
    return ("shard " if len(failing) == 1 else "shards ") + ", ".join(sorted(failing))


def _first(problems: dict[str, list[str]]) -> str:
    """The first problem and how many more: one line for the check's row (its metadata lists them all)."""
    listed = [p for found in problems.values() for p in found]
    return listed[0] + (f", and {len(listed) - 1} more" if len(listed) > 1 else "")


def _bad_columns(bad: dict[str, dict[str, int]]) -> str:
    return ", ".join(sorted({column for counts in bad.values() for column, n in counts.items() if n}))


def _counts(wrong: dict[str, dict[str, int]]) -> str:
    return "; ".join(f"shard {k}: {v['actual']} rows, {v['expected']} expected" for k, v in sorted(wrong.items()))


def _columns(per_shard: dict) -> dict:
    filled = [e for e, _ in per_shard.values() if e.rows]
    return filled[0].columns if filled else {}


def build_view_checks(spec: TaskSpec, family: str) -> dg.AssetChecksDefinition:
    name = TaskAssets(spec).feature(family)

    @dg.multi_asset_check(
        specs=[dg.AssetCheckSpec(c, asset=name, blocking=True, description=d) for c, d in VIEW_CHECKS.items()],
        name=f"{name}_quality",
    )
    def _checks(context: dg.AssetCheckExecutionContext, store: EcgnetStore) -> Iterator[dg.AssetCheckResult]:
        yield from _view_results(spec, family, name, store, checked_shards(context.op_execution_context))

    return _checks


def build_quality_gate(spec: TaskSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=TaskAssets(spec).comparison,
        name="check_quality_gate",
        blocking=True,
        description=f"The best {spec.name} variant on validation reaches the minimum {spec.metric_key} "
        "and is not worse than the current champion beyond its interval.",
    )
    def _gate(training: TrainingSettings, mlflow: MlflowTracking, candidate: Candidate) -> dg.AssetCheckResult:
        from ecgnet.describe import GATE, gate_note  # with MLflow's: imported when the gate runs

        tracker = mlflow.tracker()
        decision = gate(candidate, training.minimum(spec), tracker.current_champion(spec.name))
        said = gate_note(decision)
        tracker.describe_run(candidate.parent_run_id, said, section=GATE)
        previous = decision.previous
        champion = f"{previous.identity} at {previous.val_metric:.3f}" if previous else "(no champion yet)"
        return dg.AssetCheckResult(
            passed=decision.passed,
            # a refusal in the check's own row, as MLflow's description says it (the run fails on it: the
            # candidate is kept out, which is the gate working, not a broken pipeline)
            description=None if decision.passed else f"{candidate.variant} {said}",
            metadata={
                "expected": f"{spec.metric_key} >= {decision.minimum} and not below champion {champion}",
                "actual": f"{candidate.variant}: {candidate.val}",
                "reasons": dg.MetadataValue.json(list(decision.reasons)),
                "notes": dg.MetadataValue.json(list(decision.notes)),
            },
        )

    return _gate


def build_feature_checks(specs: list[TaskSpec]) -> list[dg.AssetChecksDefinition]:
    return [build_view_checks(spec, f) for spec in specs for f in FAMILIES]


def build_training_checks(specs: list[TaskSpec]) -> list[dg.AssetChecksDefinition]:
    return [build_quality_gate(spec) for spec in specs]
