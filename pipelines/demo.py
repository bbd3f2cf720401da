"""`make demo`: run the main job on the configured sources and print what it left, and where.

Environment: ECGNET_DATA (source folders), ECGNET_HOME (workspace), ECGNET_STAGES (asset groups).
"""

from __future__ import annotations

import os
import sys
import time

import dagster as dg
import polars as pl

from feature_store.raw_store import RawStore
from feature_store.summary import markdown_table, quarantine_reasons, totals
from feature_store.workspace import Workspace, default_sources

from .stale_runs import close_dead_runs, owner_tags
from .workspace import prepare_dagster_home

STAGE_ORDER = ("ingest", "features", "training")


def selected_groups(defs: dg.Definitions, stages: str | None) -> list[str]:
    """Asset groups to run: ECGNET_STAGES (comma list), default every group that exists."""
    graph = defs.resolve_asset_graph()
    existing = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    if not stages:
        return [g for g in STAGE_ORDER if g in existing]
    wanted = [s.strip() for s in stages.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in existing]
    if unknown:
        raise SystemExit(
            f"ECGNET_STAGES names {unknown}, which have no assets; choose from "
            f"{[g for g in STAGE_ORDER if g in existing]}"
        )
    return wanted


def run(stages: str | None = None) -> dg.ExecuteInProcessResult:
    prepare_dagster_home()
    from .definitions import defs  # after DAGSTER_HOME is set, so resources see the workspace

    groups = selected_groups(defs, stages)
    selection = dg.AssetSelection.groups(*groups).resolve(defs.resolve_asset_graph())
    print(f"ecgnet demo: stages {groups}, sources {default_sources()}, workspace {Workspace.default().home}")
    job = defs.resolve_job_def("ecgnet")
    with dg.DagsterInstance.get() as instance:
        for run_id in close_dead_runs(instance):
            print(f"run {run_id} was left STARTED by a process that is gone; marked failed")
        return job.execute_in_process(
            instance=instance, asset_selection=list(selection), raise_on_error=False, tags=owner_tags()
        )


def gate_refusals(result: dg.ExecuteInProcessResult) -> dict[str, list[str]]:
    """Comparison asset -> reasons, for each quality gate that refused to promote its candidate."""
    return {
        e.asset_check_evaluation_data.asset_key.to_user_string(): e.asset_check_evaluation_data.metadata[
            "reasons"
        ].value
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "check_quality_gate"
        and not e.asset_check_evaluation_data.passed
    }


def demo_succeeded(result: dg.ExecuteInProcessResult) -> bool:
    """Success, or every failed step is a quality gate that refused (a valid outcome: nothing promoted)."""
    refused = {f"{asset}_check_quality_gate" for asset in gate_refusals(result)}
    failed = {e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    return result.success or failed <= refused


def summary(result: dg.ExecuteInProcessResult, seconds: float) -> str:
    raw = RawStore(Workspace.default().store)
    checks = [
        (
            e.asset_check_evaluation_data.check_name,
            e.asset_check_evaluation_data.asset_key,
            e.asset_check_evaluation_data.passed,
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    failed = [f"{key.to_user_string()}:{name}" for name, key, passed in checks if not passed]
    refusals = [
        f"\nQuality gate on {asset} refused promotion (the champion stays as it was): {reasons}"
        for asset, reasons in gate_refusals(result).items()
    ]
    lines = [
        f"\n== ecgnet demo: run {result.run_id} {'succeeded' if demo_succeeded(result) else 'FAILED'} "
        f"in {seconds:.1f} s",
        "\nRaw store per source (records landed, beats, records quarantined):",
        markdown_table(totals(raw)),
        "\nQuarantined, per reason:",
        markdown_table(quarantine_reasons(raw).select("source", "reason_code", "records")),
        *_quarantined_records(raw),
        "\nFeature views (reused = unchanged inputs and parameters, nothing recomputed):",
        markdown_table(_views(result)),
        f"\nAsset checks: {len(checks) - len(failed)} passed, {len(failed)} failed {failed or ''}",
        *_comparisons(result),
        *refusals,
        f"\nStore:        {raw.root}  (polars.scan_parquet('{raw.root}/raw/beats/**/*.parquet'))",
        f"Dagster home: {os.environ['DAGSTER_HOME']}",
        "Open the UIs: make ui   (Dagster on http://127.0.0.1:3000, MLflow on http://127.0.0.1:5000)",
    ]
    return "\n".join(lines)


def _views(result: dg.ExecuteInProcessResult) -> pl.DataFrame:
    keys = ("view", "version", "reused", "rows", "mb", "backend", "seconds_this_run")
    rows = [
        {k: m.materialization.metadata[k].value for k in keys}
        for m in result.get_asset_materialization_events()
        if "view" in m.materialization.metadata
    ]
    return pl.DataFrame(rows).sort("view") if rows else pl.DataFrame()


def _comparisons(result: dg.ExecuteInProcessResult) -> list[str]:
    lines = []
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        if "comparison" in meta:
            lines += [
                f"\nFusion comparison, {meta['task'].value} (test metrics with 95 % patient-bootstrap "
                "intervals; every choice made on validation):",
                meta["comparison"].value,
                f"\nBest on validation: {meta['candidate'].value}; validation ranking vs test ranking: "
                f"Kendall tau {meta['kendall_tau_val_test'].value:+.2f}; MLflow parent run "
                f"{meta['mlflow_parent_run'].value} in {meta['tracking_uri'].value}",
                f"MLflow runs table (after `make ui`): {meta['mlflow_ui'].value}",
            ]
            if "modality_shares_file" in meta:  # the variants were explained (TrainingSettings.explain_rows)
                lines.append(
                    f"Modality shares per variant: {meta['modality_shares_file'].value} (explanations took "
                    f"{meta['explain_seconds'].value:.0f} s of the run)"
                )
    return lines


def _quarantined_records(raw: RawStore, limit: int = 10) -> list[str]:
    table = raw.scan_quarantine().select("reason").sort("reason").collect()
    lines = [f"  - {reason}" for reason in table["reason"].head(limit)]
    return lines + ([f"  ... and {len(table) - limit} more"] if len(table) > limit else [])


def main() -> int:
    pl.Config.set_fmt_str_lengths(120)
    start = time.perf_counter()
    result = run(os.environ.get("ECGNET_STAGES"))
    print(summary(result, time.perf_counter() - start))
    return 0 if demo_succeeded(result) else 1


if __name__ == "__main__":
    sys.exit(main())
