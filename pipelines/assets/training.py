"""Training assets (beats task): training data -> three single models -> fusion variants ->
fusion_comparison -> champion_model (promoted only when the blocking quality gate passes)."""

import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl

from ecgnet.comparison import VariantResult, comparison_table, load_result, save_result, train_variant
from ecgnet.data import TaskData, load_task_data
from ecgnet.fusion import VARIANTS
from ecgnet.plots import training_png
from feature_store.summary import markdown_table
from feature_store.views.store import FeatureStore, ViewRef

from ..metadata import png
from ..resources import EcgnetStore, TrainingSettings

TASK = "beats"
MODEL_ASSETS = {name: f"beat_{name}_model" for name in VARIANTS}


@dataclass(frozen=True)
class TrainingRun:
    """One comparison: which feature-view versions, which MLflow parent run, where files go."""

    task: str
    versions: dict
    parent_run_id: str
    directory: str


@dataclass(frozen=True)
class ModelRef:
    variant: str
    run_id: str
    model_version: str


def _data(store: EcgnetStore, training: TrainingSettings, run: TrainingRun) -> TaskData:
    return load_task_data(FeatureStore(store.raw().root), run.task, versions=run.versions,
                          val_fraction=training.val_fraction, seed=training.seed)


@dg.asset(group_name="training", description="Aligned beat features split by patient (DS1 train/val, DS2 "
          "test), and the MLflow parent run of this comparison.")
def beat_training_data(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
                       beat_time_features: ViewRef, beat_spectral_features: ViewRef,
                       beat_spectrogram_features: ViewRef) -> dg.Output[TrainingRun]:
    versions = {r.name: r.version for r in (beat_time_features, beat_spectral_features, beat_spectrogram_features)}
    data = load_task_data(FeatureStore(store.raw().root), TASK, versions=versions,
                          val_fraction=training.val_fraction, seed=training.seed)
    tracker = training.tracker(store.home)
    parent = tracker.start_comparison(TASK, training.config(TASK), data.versions)
    directory = Path(store.home) / "training" / parent
    context.log.info(f"comparison {parent}: train {len(data.train)}, val {len(data.val)}, test {len(data.test)} beats")
    counts = pl.DataFrame({"class": list(data.classes),
                           **{s: [int((getattr(data, s).y == i).sum()) for i in range(len(data.classes))]
                              for s in ("train", "val", "test")}})
    return dg.Output(TrainingRun(TASK, versions, parent, str(directory)), metadata={
        "mlflow_parent_run": parent, "tracking_uri": tracker.uri,
        "classes_per_split": dg.MetadataValue.md(markdown_table(counts)),
        "patients": dg.MetadataValue.json({s: sorted(set(getattr(data, s).groups.tolist()))
                                           for s in ("train", "val", "test")})})


def _train(context, store: EcgnetStore, training: TrainingSettings, run: TrainingRun, variant: str,
           singles: list[ModelRef]) -> dg.Output[ModelRef]:
    data, cfg, directory = _data(store, training, run), training.config(run.task), Path(run.directory)
    trained = {VARIANTS[r.variant].modality: load_result(r.variant, data, cfg, directory) for r in singles}
    # per-epoch progress comes from the `ecgnet` logger, which dagster.yaml hands to the run's log
    result = train_variant(variant, data, cfg, singles=trained, checkpoint_dir=directory / "checkpoints")
    save_result(result, directory)
    run_id, version = training.tracker(store.home).log_variant(run.parent_run_id, result, data, cfg)
    ref = ModelRef(variant, run_id, version)
    (directory / f"{variant}.ref.json").write_text(json.dumps(ref.__dict__))
    return dg.Output(ref, metadata=_model_metadata(result, ref, store))


def _model_metadata(result: VariantResult, ref: ModelRef, store: EcgnetStore) -> dict:
    t = result.test
    meta = {"mlflow_run": ref.run_id, "registered_model": f"ecgnet-{TASK}-{ref.variant} v{ref.model_version}",
            "val_metric": round(result.val["val_metric"], 4), "params": result.n_params,
            "latency_ms_per_beat": round(result.latency_ms, 4), "seconds": round(result.seconds, 1),
            **{f"test_{k}": f"{t[k]:.3f} [{t[k + '_lo']:.3f}, {t[k + '_hi']:.3f}]"
               for k in ("macro_auc", "macro_f1", "accuracy", "se_S", "pp_S", "se_V", "pp_V") if k in t},
            "fitted": dg.MetadataValue.json(result.fitted)}
    if result.history:
        meta.update(png(training_png(result.history, ref.variant), store.plots_dir() / f"{ref.variant}.png",
                        "training_curves"))
    return meta


def build_model_asset(variant: str) -> dg.AssetsDefinition:
    v = VARIANTS[variant]
    kwargs = dict(name=MODEL_ASSETS[variant], group_name="training",
                  description=f"{v.kind} variant '{variant}': {v.description}.")
    if v.kind in ("single", "early"):
        @dg.asset(**kwargs)
        def _model(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
                   beat_training_data: TrainingRun) -> dg.Output[ModelRef]:
            return _train(context, store, training, beat_training_data, variant, [])
        return _model

    # intermediate variants warm-start from, and late variants combine, the three single models
    @dg.asset(**kwargs)
    def _fused(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
               beat_training_data: TrainingRun, beat_time_model: ModelRef, beat_frequency_model: ModelRef,
               beat_spectrogram_model: ModelRef) -> dg.Output[ModelRef]:
        return _train(context, store, training, beat_training_data, variant,
                      [beat_time_model, beat_frequency_model, beat_spectrogram_model])
    return _fused


@dg.asset(group_name="training", deps=list(MODEL_ASSETS.values()),
          description="Every variant side by side: test metrics with 95 % patient-bootstrap intervals, "
                      "paired bootstrap against the best single model, size, latency, explainability.")
def fusion_comparison(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
                      beat_training_data: TrainingRun) -> dg.Output[dict]:
    run, directory = beat_training_data, Path(beat_training_data.directory)
    data, cfg = _data(store, training, run), training.config(run.task)
    results = {n: load_result(n, data, cfg, directory) for n in VARIANTS if (directory / f"{n}.json").exists()}
    table = comparison_table(results, data, cfg)
    best = max(results.values(), key=lambda r: r.val["val_metric"])  # chosen on validation only
    ref = json.loads((directory / f"{best.variant.name}.ref.json").read_text())
    candidate = {"task": run.task, "variant": best.variant.name, "version": ref["model_version"],
                 "val_metric": best.val["val_metric"], "val_metric_hi": best.val["val_metric_hi"],
                 "parent_run_id": run.parent_run_id}
    tracker = training.tracker(store.home)
    tracker.finish_comparison(run.parent_run_id, table, candidate)
    context.log.info(f"comparison {run.parent_run_id}: best on validation is {best.variant.name}")
    return dg.Output(candidate, metadata={
        "comparison": dg.MetadataValue.md(markdown_table(table)), "candidate": best.variant.name,
        "mlflow_parent_run": run.parent_run_id, "tracking_uri": tracker.uri,
        "mlflow_ui": f"make ui, then http://127.0.0.1:5000/#/experiments/{tracker.experiment(run.task)}/runs"
                     "?workflowType=machine_learning"})


@dg.asset(group_name="training", description="Moves the 'champion' alias to the comparison's best variant; "
          "runs only when the blocking check_quality_gate on fusion_comparison passes.")
def champion_model(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
                   fusion_comparison: dict) -> dg.MaterializeResult:
    tracker = training.tracker(store.home)
    tracker.set_champion(fusion_comparison["task"], fusion_comparison["variant"], fusion_comparison["version"])
    context.log.info(f"champion for {fusion_comparison['task']}: {fusion_comparison['variant']} "
                     f"v{fusion_comparison['version']}")
    return dg.MaterializeResult(metadata={"champion": fusion_comparison["variant"],
                                          "model_version": fusion_comparison["version"]})


training_assets = [beat_training_data, *[build_model_asset(v) for v in VARIANTS], fusion_comparison,
                   champion_model]
