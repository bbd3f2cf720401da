"""Training assets, per task: training data -> three single models -> fusion variants -> comparison ->
champion (promoted only when the blocking quality gate on the comparison passes).

Beats (MIT-BIH, AAMI classes): beat_training_data -> beat_<variant>_model -> fusion_comparison ->
champion_model. Records (PTB-XL superclasses, multi-label): the same with record_ names.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl

from ecgnet.comparison import VariantResult, comparison_plot, comparison_table, load_result, save_result, train_variant
from ecgnet.data import TaskData, load_task_data
from ecgnet.fusion import VARIANTS
from ecgnet.plots import training_png
from feature_store.summary import markdown_table
from feature_store.views.families import FAMILIES
from feature_store.views.store import FeatureStore, ViewRef

from ..jobs import TRAINER_TAG
from ..metadata import png
from ..resources import EcgnetStore, TrainingSettings
from .features import TASK_ASSET, feature_asset_name


@dataclass(frozen=True)
class TrainingTask:
    """One task's training assets: names and the feature views they read."""

    task: str  # "beats" | "records"
    prefix: str  # asset-name prefix, as the feature assets use
    comparison: str  # asset names; the beats ones keep their original, unprefixed names
    champion: str
    unit: str  # what a row is, for logs and metadata
    source: str  # what to ingest to train this task

    @property
    def training_data(self) -> str:
        return f"{self.prefix}_training_data"

    def model(self, variant: str) -> str:
        return f"{self.prefix}_{variant}_model"

    def views(self) -> dict[str, str]:
        """Input name -> feature asset, for the three families."""
        return {f"{family}_view": feature_asset_name(self.task, family) for family in FAMILIES}


TASKS = {
    "beats": TrainingTask("beats", TASK_ASSET["beats"], "fusion_comparison", "champion_model", "beat",
                          "an annotated beat database (MIT-BIH layout)"),
    "records": TrainingTask("records", TASK_ASSET["records"], "record_fusion_comparison",
                            "record_champion_model", "record", "a PTB-XL or Challenge 2021 folder"),
}


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


def _data(store: EcgnetStore, training: TrainingSettings, task: str, versions: dict) -> TaskData:
    return load_task_data(FeatureStore(store.raw().root), task, versions=versions,
                          val_fraction=training.val_fraction, seed=training.seed)


def build_training_data(t: TrainingTask) -> dg.AssetsDefinition:
    # output_required=False: with no rows of this task (say, MIT-BIH alone), its models are skipped
    @dg.asset(name=t.training_data, group_name="training", output_required=False,
              ins={name: dg.AssetIn(asset) for name, asset in t.views().items()},
              description=f"Aligned {t.unit} features of the three views, split by patient "
                          f"({'DS1 train/val, DS2 test' if t.task == 'beats' else 'stored train/val/test'}), "
                          "and the MLflow parent run of this comparison.")
    def _training_data(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
                       time_view: ViewRef, spectral_view: ViewRef, spectrogram_view: ViewRef):
        views = (time_view, spectral_view, spectrogram_view)
        if all(r.entry()["rows"] == 0 for r in views):
            context.log.warning(f"no {t.unit}s in the {t.task} feature views, so its models are "
                                f"skipped; fix: ingest {t.source} to train them")
            return
        versions = {r.name: r.version for r in views}
        data = _data(store, training, t.task, versions)
        tracker = training.tracker(store.home)
        parent = tracker.start_comparison(t.task, training.config(t.task), data.versions)
        directory = Path(store.home) / "training" / parent
        context.log.info(f"comparison {parent}: train {len(data.train)}, val {len(data.val)}, "
                         f"test {len(data.test)} {t.unit}s")
        per_class = {s: (getattr(data, s).y.sum(axis=0).astype(int).tolist() if data.multilabel else
                         [int((getattr(data, s).y == i).sum()) for i in range(len(data.classes))])
                     for s in ("train", "val", "test")}
        counts = pl.DataFrame({"class": list(data.classes), **per_class})
        yield dg.Output(TrainingRun(t.task, versions, parent, str(directory)), metadata={
            "mlflow_parent_run": parent, "tracking_uri": tracker.uri,
            "classes_per_split": dg.MetadataValue.md(markdown_table(counts)),
            "patients": dg.MetadataValue.json({s: sorted(set(getattr(data, s).groups.tolist()))
                                               for s in ("train", "val", "test")})})
    return _training_data


def _train(context, store: EcgnetStore, training: TrainingSettings, run: TrainingRun, variant: str,
           singles: list[ModelRef]) -> dg.Output[ModelRef]:
    data, cfg = _data(store, training, run.task, run.versions), training.config(run.task)
    directory = Path(run.directory)
    trained = {VARIANTS[r.variant].modality: load_result(r.variant, data, cfg, directory) for r in singles}
    # per-epoch progress comes from the `ecgnet` logger, which dagster.yaml hands to the run's log
    result = train_variant(variant, data, cfg, singles=trained, checkpoint_dir=directory / "checkpoints")
    save_result(result, directory)
    run_id, version = training.tracker(store.home).log_variant(run.parent_run_id, result, data, cfg)
    ref = ModelRef(variant, run_id, version)
    (directory / f"{variant}.ref.json").write_text(json.dumps(ref.__dict__))
    return dg.Output(ref, metadata=_model_metadata(result, ref, store, TASKS[run.task]))


def _model_metadata(result: VariantResult, ref: ModelRef, store: EcgnetStore, t: TrainingTask) -> dict:
    test = result.test
    meta = {"mlflow_run": ref.run_id, "registered_model": f"ecgnet-{t.task}-{ref.variant} v{ref.model_version}",
            "val_metric": round(result.val["val_metric"], 4), "params": result.n_params,
            f"latency_ms_per_{t.unit}": round(result.latency_ms, 4), "seconds": round(result.seconds, 1),
            **{f"test_{k}": f"{test[k]:.3f} [{test[k + '_lo']:.3f}, {test[k + '_hi']:.3f}]"
               for k in ("macro_auc", "macro_f1", "accuracy", "se_S", "pp_S", "se_V", "pp_V") if k in test},
            "fitted": dg.MetadataValue.json(result.fitted)}
    if result.history:
        meta.update(png(training_png(result.history, ref.variant),
                        store.plots_dir() / f"{t.prefix}_{ref.variant}.png", "training_curves"))
    return meta


def build_model_asset(t: TrainingTask, variant: str) -> dg.AssetsDefinition:
    v = VARIANTS[variant]
    ins = {"run": dg.AssetIn(t.training_data)}
    kwargs = dict(name=t.model(variant), group_name="training", op_tags=TRAINER_TAG,
                  description=f"{v.kind} variant '{variant}' ({t.task}): {v.description}.")
    if v.kind in ("single", "early"):
        @dg.asset(ins=ins, **kwargs)
        def _model(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
                   run: TrainingRun) -> dg.Output[ModelRef]:
            return _train(context, store, training, run, variant, [])
        return _model

    # intermediate variants warm-start from, and late variants combine, the three single models
    singles = {f"{m}_model": dg.AssetIn(t.model(m)) for m in ("time", "frequency", "spectrogram")}

    @dg.asset(ins={**ins, **singles}, **kwargs)
    def _fused(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
               run: TrainingRun, time_model: ModelRef, frequency_model: ModelRef,
               spectrogram_model: ModelRef) -> dg.Output[ModelRef]:
        return _train(context, store, training, run, variant, [time_model, frequency_model, spectrogram_model])
    return _fused


def build_comparison(t: TrainingTask) -> dg.AssetsDefinition:
    @dg.asset(name=t.comparison, group_name="training", ins={"run": dg.AssetIn(t.training_data)},
              deps=[t.model(v) for v in VARIANTS],
              description=f"Every {t.task} variant side by side: test metrics with 95 % patient-bootstrap "
                          "intervals, paired bootstrap against the best single model, size, latency, "
                          "explainability.")
    def _comparison(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
                    run: TrainingRun) -> dg.Output[dict]:
        directory = Path(run.directory)
        data, cfg = _data(store, training, run.task, run.versions), training.config(run.task)
        results = {n: load_result(n, data, cfg, directory) for n in VARIANTS if (directory / f"{n}.json").exists()}
        table = comparison_table(results, data, cfg)
        best = max(results.values(), key=lambda r: r.val["val_metric"])  # chosen on validation only
        ref = json.loads((directory / f"{best.variant.name}.ref.json").read_text())
        candidate = {"task": run.task, "variant": best.variant.name, "version": ref["model_version"],
                     "val_metric": best.val["val_metric"], "val_metric_hi": best.val["val_metric_hi"],
                     "parent_run_id": run.parent_run_id}
        plot = comparison_plot(results, data, best.variant.name)
        tracker = training.tracker(store.home)
        tracker.finish_comparison(run.parent_run_id, table, candidate, plot)
        context.log.info(f"comparison {run.parent_run_id}: best on validation is {best.variant.name}")
        return dg.Output(candidate, metadata={
            "comparison": dg.MetadataValue.md(markdown_table(table)), "candidate": best.variant.name,
            **png(plot, store.plots_dir() / f"{t.prefix}_comparison.png", "comparison_plot"),
            "task": run.task, "mlflow_parent_run": run.parent_run_id, "tracking_uri": tracker.uri,
            "mlflow_ui": f"make ui, then http://127.0.0.1:5000/#/experiments/{tracker.experiment(run.task)}"
                         "/runs?workflowType=machine_learning"})
    return _comparison


def build_champion(t: TrainingTask) -> dg.AssetsDefinition:
    @dg.asset(name=t.champion, group_name="training", ins={"comparison": dg.AssetIn(t.comparison)},
              description=f"Moves the 'champion' alias of the {t.task} models to the comparison's best "
                          f"variant; runs only when the blocking check_quality_gate on {t.comparison} passes.")
    def _champion(context: dg.AssetExecutionContext, store: EcgnetStore, training: TrainingSettings,
                  comparison: dict) -> dg.MaterializeResult:
        training.tracker(store.home).set_champion(comparison["task"], comparison["variant"], comparison["version"])
        context.log.info(f"champion for {comparison['task']}: {comparison['variant']} v{comparison['version']}")
        return dg.MaterializeResult(metadata={"champion": comparison["variant"],
                                              "model_version": comparison["version"]})
    return _champion


def build_training_assets(t: TrainingTask) -> list[dg.AssetsDefinition]:
    return [build_training_data(t), *[build_model_asset(t, v) for v in VARIANTS], build_comparison(t),
            build_champion(t)]


training_assets = [asset for t in TASKS.values() for asset in build_training_assets(t)]
