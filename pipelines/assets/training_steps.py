"""What the training assets do when they run (pipelines.assets.training declares them): split the task
data, train a variant, compare the variants, move the champion alias.

Imported by each asset's step, never by the code location's load: this module brings torch, MLflow and
scikit-learn, which the UI's code server, the daemon and the runs that train nothing then never import.
"""

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import dagster as dg
import polars as pl
from mlflow.exceptions import MlflowException

from ecgnet.comparison import VariantResult, select, train_variant
from ecgnet.data import SPLITS, TaskData, load_task_data
from ecgnet.describe import (
    CHAMPION,
    VariantNote,
    champion_note,
    compact_table,
    comparison_note,
    experiment_note,
    model_version_note,
    registered_model_note,
    variant_note,
)
from ecgnet.plots import training_png
from ecgnet.promotion import Candidate
from ecgnet.published import (
    comparable,
    not_compared,
    published_metrics,
    published_plot,
    published_summary,
    published_table,
)
from ecgnet.report import (
    AGREEMENT,
    agreement_metrics,
    calibration_plot,
    chosen_concentration,
    chosen_metrics,
    chosen_per_patient,
    comparison_plot,
    comparison_table,
    per_patient_plot,
    per_patient_table,
    ranking_agreement,
    ranking_agreement_interval,
    reliability_plot,
    shares_plot,
)
from ecgnet.results import load_result, save_result
from ecgnet.show import ComparisonSummary, best_on_validation, comparison_summary, readable, verdict_lines
from ecgnet.tracking import Tracker, model_name, run_page
from ecgnet.variants import VARIANTS
from feature_store.summary import markdown_table
from feature_store.tasks import TaskSpec
from feature_store.views.families import FAMILIES
from feature_store.views.store import ViewRef

from ..metadata import png
from ..naming import TaskAssets
from ..resources import EcgnetStore, MlflowTracking, TrainingSettings
from ..split_classes import CHECK, classes_check_result, classes_per_split
from .training import ModelRef, TrainingRun


def training_data(
    context: dg.AssetExecutionContext,
    spec: TaskSpec,
    store: EcgnetStore,
    mlflow: MlflowTracking,
    training: TrainingSettings,
    check: dg.AssetCheckSpec,
) -> Iterator[dg.Output[TrainingRun] | dg.AssetCheckResult]:
    """The task's views read and split once, saved in the comparison's folder, with its MLflow parent
    run; nothing where the views hold no rows of the task. Then the classes check, where it is selected."""
    names = TaskAssets(spec)
    views = _whole_views(context, spec, store)
    if all(r.entry().rows == 0 for r in views.values()):
        context.log.warning(
            f"no {spec.unit}s in the {spec.name} feature views, so its models are "
            f"skipped; fix: ingest {spec.sources_hint or spec.source_kinds} to train them"
        )
        return
    versions = {r.name: r.version for r in views.values()}
    data = load_task_data(store.features(), spec, versions=versions, seed=training.seed)
    tracker = mlflow.tracker()
    parent = tracker.start_comparison(
        spec.name, training.config(spec), data.versions, {**data.split_params(), **_data_params(spec, data)}
    )
    tracker.describe_experiment(spec.name, experiment_note(spec))
    tracker.log_views(parent, [v.entry() for v in views.values()])
    run = TrainingRun.of(store, spec.name, versions, parent)
    data.save(run.data_dir)
    context.log.info(
        f"comparison {parent}: train {len(data.train)}, val {len(data.val)}, test {len(data.test)} {spec.unit}s"
    )
    table = classes_per_split(data)
    yield dg.Output(
        run,
        output_name=names.training_data,
        metadata={
            "mlflow_parent_run": parent,
            "tracking_uri": tracker.uri,
            "classes_per_split": table,
            **_data_params(spec, data),
            "patients": dg.MetadataValue.json({s: sorted(set(data.split(s).groups.tolist())) for s in SPLITS}),
        },
    )
    if check.key in context.selected_asset_check_keys:
        yield classes_check_result(spec, data, training.folds > 1, table)


def classes_of_latest(
    context: dg.AssetExecutionContext, spec: TaskSpec, store: EcgnetStore, training: TrainingSettings
) -> dg.AssetCheckResult:
    """The classes check on the split of the training data's latest materialization, as its catalog
    page shows it (the UI's Execute on the check alone): nothing is split again, no MLflow run starts."""
    name = TaskAssets(spec).training_data
    event = context.instance.get_latest_materialization_event(dg.AssetKey(name))
    materialization = event.asset_materialization if event else None
    if materialization is None or "mlflow_parent_run" not in materialization.metadata:
        raise dg.Failure(
            f"{CHECK} reads the split of {name}'s latest materialization, and it has none; fix: materialize {name}"
        )
    run = TrainingRun.of(store, spec.name, {}, str(materialization.metadata["mlflow_parent_run"].value))
    if not run.data_dir.is_dir():
        raise dg.Failure(
            f"{CHECK}: the split of {name}'s latest materialization, {run.data_dir}, is gone; fix: materialize {name}"
        )
    data = TaskData.load(run.data_dir, spec)
    return classes_check_result(spec, data, training.folds > 1, classes_per_split(data))


def _data_params(spec: TaskSpec, data: TaskData) -> dict:
    """How the training rows were made beyond the views: the S-dominant-reference copies (ecgnet.stress)."""
    if spec.reference_stress is None or data.extra is None:
        return {}
    stress = spec.reference_stress
    return {
        "reference_stress": f"{stress.beat_class} to {stress.share:.0%} of records with >= {stress.min_beats}",
        "training_copies": len(data.extra),
    }


def _whole_views(context: dg.AssetExecutionContext, spec: TaskSpec, store: EcgnetStore) -> dict[str, ViewRef]:
    """Family -> the whole view over every shard as the raw store holds it now (registered once in the
    catalog, its parts the shard views): what this comparison trains on."""
    shards, features = store.raw().shard_snapshots(spec.source_kinds), store.features()
    views = {}
    for family in FAMILIES:
        entry = features.union(spec, family, shards)
        context.log.info(f"{entry.name} {entry.version}: {entry.rows} rows over {len(entry.parts)} shards")
        views[family] = ViewRef(entry.name, entry.version, str(features.store_root), features.root.uri)
    return views


def train_model(
    spec: TaskSpec,
    store: EcgnetStore,
    mlflow: MlflowTracking,
    training: TrainingSettings,
    run: TrainingRun,
    variant: str,
    upstream: dict[str, ModelRef],
) -> dg.Output[ModelRef]:
    data, cfg, directory = TaskData.load(run.data_dir, spec), training.config(spec), Path(run.directory)
    trained = {n: load_result(r.variant, data, cfg, Path(r.directory)) for n, r in upstream.items()}
    # per-epoch progress comes from the `ecgnet` logger, which dagster.yaml hands to the run's log
    tracker = mlflow.tracker()
    run_id = tracker.open_variant(run.parent_run_id, spec.name, variant, VARIANTS[variant].kind)
    curves = tracker.epoch_curves(run_id)  # MLflow's charts follow the epochs as they end
    try:
        with tracker.system_metrics(run_id):  # the run's System metrics tab: CPU, memory, disk while it trains
            result = train_variant(
                variant, data, cfg, upstream=trained, checkpoint_dir=directory / "checkpoints", on_epoch=curves
            )
        save_result(result, directory)
        reliability = reliability_plot(result, data)  # drawn once: MLflow's plots/ and the asset show it
        version = tracker.log_variant(run_id, result, data, cfg, curves, {"reliability_test.png": reliability})
    except BaseException:  # an interrupt too: the run says it failed instead of staying RUNNING
        tracker.fail_run(run_id)
        raise
    v = result.variant
    features = store.features()
    tracker.log_views(run_id, [features.entry(name, version) for name, version in run.versions.items()])
    tracker.describe_model(
        spec.name,
        variant,
        version,
        model_version_note(spec, variant, v.kind, v.description, run_id, result.val),
        registered_model_note(spec, variant, v.kind, v.description),
    )
    ref = ModelRef(variant, run_id, version, str(directory))
    experiment = tracker.experiment(spec.name)
    return dg.Output(ref, metadata=_model_metadata(spec, result, reliability, ref, store, mlflow, experiment))


def _model_metadata(
    spec: TaskSpec,
    result: VariantResult,
    reliability: bytes,
    ref: ModelRef,
    store: EcgnetStore,
    mlflow: MlflowTracking,
    experiment: str,
) -> dict:
    meta = {
        "mlflow_run": ref.run_id,
        "registered_model": f"{model_name(spec.name, ref.variant)} v{ref.model_version}",
        "val_metric": round(result.val.value, 4),
        "params": result.n_params,
        f"latency_ms_per_{spec.unit}": round(result.latency_ms, 4),
        "seconds": round(result.seconds, 1),
        **{f"test_{k}": str(v) for k, v in result.test.items() if not k.startswith(("auc_", "f1_"))},
        "fitted": dg.MetadataValue.json(result.fitted),
        "mlflow_ui": mlflow.runs_url(experiment),
        "mlflow_run_page": mlflow.run_url(experiment, ref.run_id),
    }
    if result.history:
        meta.update(
            png(
                training_png(result.history, ref.variant),
                store.workspace().plots / f"{spec.asset_prefix}_{ref.variant}.png",
                "training_curves",
            )
        )
    meta.update(  # the test reliability diagram, beside the test figures above
        png(reliability, store.workspace().plots / f"{spec.asset_prefix}_{ref.variant}_reliability.png", "reliability")
    )
    if result.explained:
        meta["explainability"] = dg.MetadataValue.json(result.explained.metrics())
    if result.explained and result.explained.strongest:  # in the words of its MLflow description
        said = (f"- {cls}: {', '.join(names)}" for cls, names in result.explained.strongest.items())
        meta["reads_most"] = dg.MetadataValue.md("\n".join(said))
    for file, picture in result.pictures.items():  # attribution_<view>.png
        stem = file.removesuffix(".png")
        meta.update(png(picture, store.workspace().plots / f"{spec.asset_prefix}_{ref.variant}_{stem}.png", stem))
    return meta


def compare(
    context: dg.AssetExecutionContext,
    spec: TaskSpec,
    store: EcgnetStore,
    mlflow: MlflowTracking,
    training: TrainingSettings,
    run: TrainingRun,
    models: dict[str, ModelRef],
) -> dg.Output[Candidate]:
    """Every variant side by side, the candidate chosen on validation alone, all of it logged to the
    comparison's MLflow parent run."""
    data, cfg = TaskData.load(run.data_dir, spec), training.config(spec)
    results = {v: load_result(v, data, cfg, Path(models[v].directory)) for v in cfg.variants}
    selection = select(results, data, cfg)  # validation only
    table, best = comparison_table(results, data, cfg, selection), selection.chosen
    candidate = Candidate(
        spec.name, best, models[best].model_version, results[best].val, run.parent_run_id, spec.metric_key
    )
    tau = ranking_agreement(results, data)
    tau_lo, tau_hi = ranking_agreement_interval(results, data, cfg)
    plot = comparison_plot(results, data, best, (tau, tau_lo, tau_hi))
    shares = shares_plot(results, data)  # None unless the variants were explained
    patients, val_patients = per_patient_table(results, data), per_patient_table(results, data, "val", cfg)
    per_patient = per_patient_plot(patients, data, best)
    val_per_patient = per_patient_plot(val_patients, data, best, split="val")
    calibrated = calibration_plot(results, data, best)
    plots = {"comparison.png": plot, "calibration.png": calibrated} | (
        {"modality_shares.png": shares} if shares else {}
    )
    plots |= {"per_patient.png": per_patient} if per_patient else {}
    plots |= {"val_per_patient.png": val_per_patient} if val_per_patient else {}
    tracker = mlflow.tracker()
    tables = {"per_patient.csv": patients} if per_patient else {}  # patients with one row each say nothing
    tables |= {"val_per_patient.csv": val_patients} if val_per_patient else {}
    test_patients = len(set(data.test.groups.tolist()))
    published = published_table(spec, best, results[best].test, test_patients)  # empty unless comparable
    tables |= {"published.csv": published}
    against_plot = published_plot(published)
    plots |= {"published.png": against_plot} if against_plot else {}
    dominant = chosen_concentration(results, data, best)  # is a pooled figure one patient's?
    tables |= {"concentration.csv": pl.DataFrame([asdict(c) for c in dominant])} if dominant else {}
    agreement = agreement_metrics(tau, tau_lo, tau_hi)
    tracker.finish_comparison(
        run.parent_run_id,
        table,
        candidate,
        plots,
        agreement
        | chosen_metrics(results[best], spec)
        | published_metrics(published)
        | {k: v for c in dominant for k, v in c.metrics().items()},
        tables,
        {k: v for c in dominant for k, v in c.tags().items()},
    )
    summary = _describe(context.log, tracker, spec, results, models, candidate)
    # the run's log says what MLflow's description and `python -m ecgnet show` say, in the same words
    verdict = verdict_lines(summary, spec) if summary else [f"chosen on validation alone: {best}"]
    for line in verdict:
        context.log.info(f"comparison {run.parent_run_id}: {line}")
    against = published_summary(published)
    if spec.published and not comparable(spec, test_patients):
        against = [not_compared(spec, test_patients)]  # in the verdict's words
    experiment = tracker.experiment(spec.name)
    return dg.Output(
        candidate,
        metadata={
            "verdict": dg.MetadataValue.md("\n".join(f"- {line}" for line in verdict)),
            # what the choice read, then the test figures, first: the every-column table is too wide to read
            "comparison_compact": dg.MetadataValue.md(compact_table(table, spec, best)),
            "comparison": dg.MetadataValue.md(markdown_table(readable(table))),
            "candidate": best,
            AGREEMENT: dg.MetadataValue.float(tau),
            f"{AGREEMENT}_interval": f"[{tau_lo:+.2f}, {tau_hi:+.2f}]",
            **png(plot, store.workspace().plots / f"{spec.asset_prefix}_comparison.png", "comparison_plot"),
            **png(calibrated, store.workspace().plots / f"{spec.asset_prefix}_calibration.png", "calibration_plot"),
            **(
                png(shares, store.workspace().plots / f"{spec.asset_prefix}_modality_shares.png", "modality_shares")
                | {"explain_seconds": sum(r.explained.seconds for r in results.values() if r.explained)}
                if shares
                else {}
            ),
            **(
                png(per_patient, store.workspace().plots / f"{spec.asset_prefix}_per_patient.png", "per_patient")
                | {"chosen_per_patient": dg.MetadataValue.md(markdown_table(chosen_per_patient(patients, best)))}
                if per_patient
                else {}
            ),
            **(
                {"chosen_val_per_patient": dg.MetadataValue.md(markdown_table(chosen_per_patient(val_patients, best)))}
                if val_per_patient
                else {}
            ),
            **({"against_published": dg.MetadataValue.md("\n".join(f"- {a}" for a in against))} if against else {}),
            **(
                {"concentration": dg.MetadataValue.md("\n".join(f"- {best} on test, {c}" for c in dominant))}
                if dominant
                else {}
            ),
            **(
                png(against_plot, store.workspace().plots / f"{spec.asset_prefix}_published.png", "published_plot")
                if against_plot
                else {}
            ),
            "task": spec.name,
            "mlflow_parent_run": run.parent_run_id,
            "tracking_uri": tracker.uri,
            "mlflow_ui": mlflow.runs_url(experiment),
            "mlflow_comparison": mlflow.run_url(experiment, run.parent_run_id),
        },
    )


def _describe(
    log: dg.DagsterLogManager,
    tracker: Tracker,
    spec: TaskSpec,
    results: dict[str, VariantResult],
    models: dict[str, ModelRef],
    candidate: Candidate,
) -> ComparisonSummary | None:
    """The comparison's verdict as its run's MLflow description, and each variant's row as its run's, read
    back from what the comparison logged (as `python -m ecgnet show` reads it); the summary they were
    written from (None where it could not be read back)."""
    try:
        summary = comparison_summary(tracker, spec, candidate.parent_run_id)
    except (ValueError, MlflowException) as err:  # words about what is logged: the comparison stands without
        log.warning(f"comparison {candidate.parent_run_id} gets no MLflow description: {err}")
        return None
    before, previous = tracker.previous_comparison(spec.name, candidate.parent_run_id), None
    try:
        previous = comparison_summary(tracker, spec, before.info.run_id) if before else None
    except (ValueError, MlflowException):  # an earlier comparison that never logged its table
        before = None
    experiment = tracker.experiment(spec.name)
    earlier = run_page(experiment, before.info.run_id) if before else ""
    verdict = comparison_note(summary, spec, candidate.version, previous, earlier)
    tracker.describe_run(candidate.parent_run_id, verdict)
    rows = {r["variant"]: r for r in summary.table.iter_rows(named=True)}
    best = best_on_validation(summary.table) or summary.candidate
    parent = run_page(experiment, candidate.parent_run_id)
    for name, result in results.items():
        if name in rows and name in models:
            v = result.variant
            strongest = result.explained.strongest if result.explained else {}
            note = VariantNote(
                name, v.kind, v.description, rows[name], summary.candidate, best, parent, summary.one_patient, strongest
            )
            tracker.describe_run(models[name].run_id, variant_note(note, spec))
    return summary


def crown(
    context: dg.AssetExecutionContext, spec: TaskSpec, mlflow: MlflowTracking, candidate: Candidate
) -> dg.MaterializeResult:
    """The champion alias moved to the candidate's registered model version."""
    tracker = mlflow.tracker()
    previous = tracker.current_champion(spec.name)
    tracker.set_champion(spec.name, candidate.variant, candidate.version)
    tracker.describe_run(candidate.parent_run_id, champion_note(candidate, previous), section=CHAMPION)
    context.log.info(f"champion for {spec.name}: {candidate.variant} v{candidate.version}")
    return dg.MaterializeResult(metadata={"champion": candidate.variant, "model_version": candidate.version})
