"""`make demo`: run the main job on the configured sources and print what it left, and where.

Environment: ECGNET_DATA (source folders), ECGNET_HOME (workspace), ECGNET_STAGES (asset groups).
Exit status: 0 the run succeeded (a quality gate that refused to promote is a valid outcome); 2 it ran,
but a blocking asset check failed (see the summary); 1 a step or the run crashed, or the server
profile's Dagster storage did not open (disk full and an unreachable database are each said in one line).
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import dagster as dg
import polars as pl

from feature_store.raw_store import RawStore
from feature_store.sources.registry import check_folders, folder_state
from feature_store.summary import markdown_table, quarantine_reasons, totals
from feature_store.workspace import Workspace, default_sources, inbox_root
from feature_store.writer import WorkspaceBusy, writing

from .environment import refused_environment
from .stale_runs import close_dead_runs, owner_tags
from .workspace import StorageUnavailable, prepare_dagster_home

STAGE_ORDER = ("ingest", "features", "training")
EXIT_OK, EXIT_CRASHED, EXIT_CHECK_FAILED, EXIT_BUSY = 0, 1, 2, 3
DISK_FULL = ("No space left on device", "database or disk is full", "Disk quota exceeded")


def selected_groups(defs: dg.Definitions, stages: str | None) -> list[str]:
    """Asset groups to run: ECGNET_STAGES (comma list), default every group that exists."""
    graph = defs.resolve_asset_graph()
    # the stages of the main job (the champions' scoring of their inboxes is the `score` job's)
    existing = {graph.get(key).group_name for key in graph.get_all_asset_keys()} & set(STAGE_ORDER)
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


def never_materialized(
    defs: dg.Definitions, selection: set[dg.AssetKey], instance: dg.DagsterInstance
) -> dict[str, list[str]]:
    """Stage -> assets outside `selection` that it reads and this workspace has never materialized, and
    what those read in turn: a stage run alone on a fresh workspace (ECGNET_STAGES=training) would fail on
    each of them, in Dagster's words."""
    graph = defs.resolve_asset_graph()
    missing: dict[str, list[str]] = {}
    seen, todo = set(selection), list(selection)
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent in seen:
                continue
            seen.add(parent)
            if instance.get_latest_materialization_event(parent) is None:  # made once: its inputs were too
                missing.setdefault(graph.get(parent).group_name or "", []).append(parent.to_user_string())
                todo.append(parent)
    return {stage: sorted(keys) for stage, keys in missing.items()}


def run(stages: str | None = None) -> dg.ExecuteInProcessResult:
    prepare_dagster_home()
    # after DAGSTER_HOME is set, so resources see the workspace; and after main checked the environment,
    # which these read on import (ECGNET_SHARDS)
    from .assets.ingest import INGEST_ASSETS
    from .definitions import defs
    from .partitions import every_shard_tags

    groups = selected_groups(defs, stages)
    selection = dg.AssetSelection.groups(*groups).resolve(defs.resolve_asset_graph())
    print(f"ecgnet demo: stages {groups}, sources {default_sources()}, workspace {Workspace.default().home}")
    job = defs.resolve_job_def("ecgnet")
    with dg.DagsterInstance.get() as instance:
        # before anything is changed: a refused selection leaves the sources' state as it was
        if missing := never_materialized(defs, set(selection), instance):
            first = [g for g in STAGE_ORDER if g in missing or g in groups]
            raise SystemExit(
                f"ECGNET_STAGES={','.join(groups)} reads what this workspace has never made: "
                + "; ".join(
                    f"{stage} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
                    for stage, keys in missing.items()
                )
                + f"; fix: run those stages first, e.g. ECGNET_STAGES={','.join(first)}, or unset ECGNET_STAGES"
            )
        ingest, state = {name for name, _ in INGEST_ASSETS.values()}, Workspace.default().sources_state
        ingests = ingest <= {key.to_user_string() for key in selection}
        folders = [Path(f) for f in default_sources()]
        if ingests:  # said once, before Dagster fails each ingest step on it with a traceback
            try:
                check_folders(folders)
            except ValueError as err:
                raise SystemExit(f"error: {err}") from None
            state.unlink(missing_ok=True)  # written again only when this ingest succeeds
        # a file changed during the run is new to the sensor
        before = folder_state(folders)
        for run_id in close_dead_runs(instance):
            print(f"run {run_id} was left STARTED by a process that is gone; marked failed")
        result = job.execute_in_process(
            instance=instance,
            asset_selection=list(selection),
            raise_on_error=False,
            tags=owner_tags() | every_shard_tags(),
        )
    if ingests and not ingest & set(step_errors(result)):
        state.write_text(before)  # `make ui`'s sensor need not ingest them again
    return result


def gate_refusals(result: dg.ExecuteInProcessResult) -> dict[str, list[str]]:
    """Comparison asset -> reasons, for each quality gate that refused to promote its candidate."""
    return {
        # the gate writes its reasons as a JSON list of strings (pipelines.checks)
        e.asset_check_evaluation_data.asset_key.to_user_string(): cast(
            list[str], e.asset_check_evaluation_data.metadata["reasons"].value
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "check_quality_gate"
        and not e.asset_check_evaluation_data.passed
    }


@dataclass(frozen=True)
class FailedCheck:
    """An asset check that did not pass, as the summary lists it: `asset:check: why`, a check of severity
    WARN (nothing stopped) marked `(warning)`."""

    asset: str
    check: str
    why: str
    warning: bool

    def __str__(self) -> str:
        said = f"{self.asset}:{self.check}" + (f": {self.why}" if self.why else "")
        return f"(warning) {said}" if self.warning else said


def failed_checks(result: dg.ExecuteInProcessResult) -> list[FailedCheck]:
    """Each asset check of the run that failed, quality gates that refused included."""
    out = []
    for e in result.all_events:
        data = e.asset_check_evaluation_data if e.event_type_value == "ASSET_CHECK_EVALUATION" else None
        if data is not None and not data.passed:
            meta = data.metadata
            why = data.description or (
                f"actual {meta['actual'].value}, expected {meta['expected'].value}" if "actual" in meta else ""
            )
            warning = data.severity == dg.AssetCheckSeverity.WARN
            out.append(FailedCheck(data.asset_key.to_user_string(), data.check_name, why, warning))
    return out


def step_errors(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Failed step -> what raised: the innermost error first (Dagster wraps it), one line each."""
    out: dict[str, str] = {}
    for e in result.all_events:
        if e.event_type_value == "STEP_FAILURE" and e.step_key is not None:  # a step's event names its step
            chain: list[str] = []
            error = e.step_failure_data.error
            while error is not None:
                # a serialized error names its class only where it was a Python exception
                line = error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name
                chain.append(line or "(no message)")
                error = error.cause or error.context
            out[e.step_key] = " <- ".join(reversed(chain))
    return out


def exit_status(result: dg.ExecuteInProcessResult) -> int:
    """EXIT_OK when every step succeeded or the only failures are quality gates that refused (nothing
    promoted: a valid outcome); EXIT_CHECK_FAILED when the failed steps are blocking checks; else
    EXIT_CRASHED."""
    refused = {f"{asset}_check_quality_gate" for asset in gate_refusals(result)}
    failed = set(step_errors(result))
    if result.success or failed <= refused:
        return EXIT_OK
    return EXIT_CHECK_FAILED if failed <= _check_steps(result) else EXIT_CRASHED


def _check_steps(result: dg.ExecuteInProcessResult) -> set[str]:
    """Steps that evaluated an asset check (a failed one of these failed by its result, not a crash)."""
    return {
        e.step_key
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.step_key is not None  # always: a step emits it
    }


def demo_succeeded(result: dg.ExecuteInProcessResult) -> bool:
    return exit_status(result) == EXIT_OK


def disk_full(message: str) -> bool:
    return any(marker in message for marker in DISK_FULL)


def disk_full_line(where: Path) -> str:
    """One line for a full disk: where, how much is free, what to do."""
    free = shutil.disk_usage(where).free / 2**20 if where.exists() else float("nan")
    return (
        f"ecgnet demo: the disk holding {where} is full ({free:.0f} MB free); nothing half-written was kept. "
        "Fix: free space there, or set ECGNET_HOME to a folder on a bigger disk, and run again"
    )


def slowest_steps(instance: dg.DagsterInstance, run_id: str, limit: int = 8) -> pl.DataFrame:
    """The run's `limit` longest steps, longest first, with their share of all steps' time: where a run
    against a time budget (`make bench-mitdb`'s 60 minutes) spends it, without reading the log."""
    steps = [
        {"step": s.step_key, "status": s.status.value if s.status else "", "seconds": s.end_time - s.start_time}
        for s in instance.get_run_step_stats(run_id)
        if s.start_time is not None and s.end_time is not None
    ]
    if not steps:
        return pl.DataFrame()
    table = pl.DataFrame(steps).sort("seconds", descending=True)
    total = float(table["seconds"].sum()) or 1.0
    return table.head(limit).with_columns(
        pl.col("seconds").round(1), share=(pl.col("seconds") / total * 100).round(1).cast(pl.Utf8) + " %"
    )


def summary(result: dg.ExecuteInProcessResult, seconds: float) -> str:
    raw = RawStore(Workspace.default().store)
    with dg.DagsterInstance.get() as instance:
        steps = slowest_steps(instance, result.run_id)
    checks = [
        (
            e.asset_check_evaluation_data.check_name,
            e.asset_check_evaluation_data.asset_key,
            e.asset_check_evaluation_data.passed,
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    failed = failed_checks(result)
    warned = sum(f.warning for f in failed)
    check_steps = _check_steps(result)
    crashed = {step: msg for step, msg in step_errors(result).items() if step not in check_steps}
    refusals = [
        f"\nQuality gate on {asset} refused promotion (the champion stays as it was): {reasons}"
        for asset, reasons in gate_refusals(result).items()
    ]
    labelled = Workspace.default().home / "annotations"
    lines = [
        f"\n== ecgnet demo: run {result.run_id} {'succeeded' if demo_succeeded(result) else 'FAILED'} "
        f"in {seconds:.1f} s",
        "\nSlowest steps (seconds, share of all steps' time):",
        markdown_table(steps),
        "\nRaw store per source (records landed, beats, records quarantined):",
        markdown_table(totals(raw)),
        "\nQuarantined, per reason:",
        markdown_table(quarantine_reasons(raw).select("source", "reason_code", "records")),
        *_quarantined_records(raw),
        "\nFeature views, per shard (reused = unchanged records, parameters and train statistics: nothing computed):",
        markdown_table(_views(result)),
        f"\nAsset checks: {len(checks) - len(failed)} passed, {len(failed) - warned} failed"
        + (f", {warned} warned (a warning stops nothing)" if warned else ""),
        *[f"  - {line}" for line in failed],
        *[f"\nStep {step} crashed: {msg or '(no message)'}" for step, msg in crashed.items()],
        *comparison_lines(result),
        *refusals,
        f"\nStore:        {raw.root}  (polars.scan_parquet('{raw.root}/raw/beats/**/*.parquet'))",
        f"Dagster home: {os.environ['DAGSTER_HOME']}",
        "Open the UIs: make ui   (Dagster on http://127.0.0.1:3000, MLflow on http://127.0.0.1:5000)",
        "In a terminal: .venv/bin/python -m ecgnet show [--task records]   (the latest comparison, from MLflow)",
        f"Score a record: .venv/bin/python -m ecgnet predict data/sample/mitdb/232 --reference --annotations {labelled}"
        f"   (a test record: its beats against its .atr, and {labelled}/232.ecgnet for WFDB viewers)",
        f"New records: drop them into {inbox_root(Workspace.default())}/<task>/ while make ui runs: the inbox "
        "sensor has each champion score them",
    ]
    return "\n".join(lines)


def _views(result: dg.ExecuteInProcessResult) -> pl.DataFrame:
    """One row per view: a run over every shard records the step's figures on each shard's partition."""
    keys = ("view", "computed_shards", "reused_shards", "rows", "mb", "backend", "seconds_this_run")
    seen: dict[dg.AssetKey, dict[str, object]] = {}
    for m in result.get_asset_materialization_events():
        meta = m.materialization.metadata
        if "view" in meta:
            seen.setdefault(m.materialization.asset_key, {k: meta[k].value for k in keys})
    return pl.DataFrame(list(seen.values())).sort("view") if seen else pl.DataFrame()


def _markdown(meta: Mapping[str, dg.MetadataValue], key: str) -> str:
    """The text of a metadata entry the comparison asset writes with MetadataValue.md."""
    return cast(str, meta[key].value)


def comparison_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    lines: list[str] = []
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        if "comparison" in meta:
            lines += [
                f"\nFusion comparison, {meta['task'].value} (test metrics with 95 % patient-bootstrap "
                "intervals; every choice made on validation):\n",
                # the compact tables, as MLflow's description; the asset's `comparison` metadata has every column
                _markdown(meta, "comparison_compact"),
                "\nEvery column: comparison.csv in the MLflow run below, or "
                f".venv/bin/python -m ecgnet show --task {meta['task'].value} --wide",
                # the verdict in the words of MLflow's description and `ecgnet show`: the choice and why, the
                # chosen variant on test, the ranking agreement, published results, who decides a pooled figure
                "\nThe verdict:",
                _markdown(meta, "verdict"),
                f"\nMLflow parent run {meta['mlflow_parent_run'].value} in {meta['tracking_uri'].value}",
                f"MLflow runs table (after `make ui`): {meta['mlflow_ui'].value}",
                f"The comparison's page, its verdict and table on top: {meta['mlflow_comparison'].value}",
            ]
            if "chosen_per_patient" in meta:  # where the pooled sensitivity is won or lost
                lines += [
                    f"\nChosen variant per test patient (plot: {meta['per_patient_file'].value}):",
                    _markdown(meta, "chosen_per_patient"),
                ]
            if "calibration_plot_file" in meta:
                lines.append(f"Reliability diagrams, every variant (test): {meta['calibration_plot_file'].value}")
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
    if refused_environment():  # nothing ran
        return EXIT_CRASHED
    pl.Config.set_fmt_str_lengths(120)
    start = time.perf_counter()
    home = Workspace.default().home
    try:
        with writing(home, "make demo", on_wait=lambda h: print(h.waiting(), flush=True)):
            result = run(os.environ.get("ECGNET_STAGES"))
    except WorkspaceBusy as err:  # nothing ran
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BUSY
    except StorageUnavailable as err:  # nothing ran: the server profile's database is not up
        print(f"error: {err}", file=sys.stderr)
        return EXIT_CRASHED
    except Exception as err:  # the instance itself failed (its SQLite, a full disk): say so in one line
        if (isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)) or disk_full(str(err)):
            print(disk_full_line(home), file=sys.stderr)
            return EXIT_CRASHED
        raise
    if any(disk_full(msg) for msg in step_errors(result).values()):
        print(disk_full_line(home), file=sys.stderr)
        return EXIT_CRASHED
    print(summary(result, time.perf_counter() - start))
    return exit_status(result)


if __name__ == "__main__":
    sys.exit(main())
