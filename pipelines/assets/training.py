"""Training assets, per task: training data -> three single models -> fusion variants -> comparison ->
champion (promoted only when the blocking quality gate on the comparison passes).

`<prefix>_training_data` reads and splits the task's views once and keeps the split arrays in the
comparison's folder; every model step maps them in, and hands its result to the comparison as an
asset input (a ModelRef), never through files found again by name.

Each step imports its work from `training_steps` when it runs: declaring these assets needs neither
torch nor MLflow, so every process that loads the code location without training (the UI's code
server, the daemon, ingest and feature runs) starts without them.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from ecgnet.promotion import Candidate
from ecgnet.variants import VARIANTS, task_variants
from feature_store.tasks import TaskSpec

from ..jobs import RETRAINED_WITHIN, TRAINER_TAG
from ..naming import TaskAssets
from ..resources import EcgnetStore, MlflowTracking, TrainingSettings
from ..split_classes import classes_check_spec


@dataclass(frozen=True)
class TrainingRun:
    """One comparison: which feature-view versions, which MLflow parent run, where its files go."""

    task: str
    versions: dict
    parent_run_id: str
    directory: str  # <workspace>/training/<parent run>: task data, then each variant's result

    @property
    def data_dir(self) -> Path:
        return Path(self.directory) / "data"

    @classmethod
    def of(cls, store: EcgnetStore, task: str, versions: dict, parent_run_id: str) -> "TrainingRun":
        return cls(task, versions, parent_run_id, str(store.workspace().training / parent_run_id))


@dataclass(frozen=True)
class ModelRef:
    """What a model asset hands downstream: its saved result and its registered model version."""

    variant: str
    run_id: str
    model_version: str
    directory: str  # where save_result wrote it


def build_training_data(spec: TaskSpec) -> dg.AssetsDefinition:
    names, check = TaskAssets(spec), classes_check_spec(spec)

    # A multi-asset only for can_subset: with no rows of this task (say, MIT-BIH alone) it yields
    # neither the asset nor its classes check, its models are skipped, and Dagster requires neither.
    @dg.multi_asset(
        name=names.training_data,
        outs={
            names.training_data: dg.AssetOut(
                group_name="training",
                kinds={"numpy", "mlflow"},  # the split arrays; the comparison's parent run
                is_required=False,
                description=f"Aligned {spec.unit} features of the three views, split by patient "
                f"({spec.splits.described}), and the MLflow parent run of this comparison.",
            )
        },
        deps=list(names.views().values()),
        check_specs=[check],
        can_subset=True,
    )
    def _training_data(
        context: dg.AssetExecutionContext,
        store: EcgnetStore,
        mlflow: MlflowTracking,
        training: TrainingSettings,
    ) -> Iterator[dg.Output[TrainingRun] | dg.AssetCheckResult]:
        if dg.AssetKey(names.training_data) not in context.selected_asset_keys:  # the check executed alone
            from .training_steps import classes_of_latest

            yield classes_of_latest(context, spec, store, training)
            return
        from .training_steps import training_data

        yield from training_data(context, spec, store, mlflow, training, check)

    return _training_data


def build_model_asset(spec: TaskSpec, variant: str) -> dg.AssetsDefinition:
    names, v = TaskAssets(spec), VARIANTS[variant]
    # intermediate variants warm-start from, and late variants combine, the three single models; an
    # ensemble averages its members
    upstream = {n: names.model(n) for n in v.inputs}

    @dg.asset(
        name=names.model(variant),
        group_name="training",
        kinds={"scikitlearn" if v.kind == "classical" else "pytorch", "mlflow"},
        op_tags=TRAINER_TAG,
        ins={"run": dg.AssetIn(names.training_data), **{n: dg.AssetIn(a) for n, a in upstream.items()}},
        description=f"{v.kind} variant '{variant}' ({spec.name}): {v.description}.",
    )
    def _model(
        context: dg.AssetExecutionContext,
        store: EcgnetStore,
        mlflow: MlflowTracking,
        training: TrainingSettings,
        run: TrainingRun,
        **trained: ModelRef,
    ) -> dg.Output[ModelRef]:
        from .training_steps import train_model

        return train_model(spec, store, mlflow, training, run, variant, trained)

    return _model


def build_comparison(spec: TaskSpec) -> dg.AssetsDefinition:
    names = TaskAssets(spec)

    @dg.asset(
        name=names.comparison,
        group_name="training",
        kinds={"mlflow"},
        freshness_policy=RETRAINED_WITHIN,
        ins={"run": dg.AssetIn(names.training_data), **{v: dg.AssetIn(names.model(v)) for v in task_variants(spec)}},
        description=f"Every {spec.name} variant side by side: test metrics with 95 % patient-bootstrap "
        "intervals, paired bootstrap against the best single model, size, latency, "
        "explainability; the candidate is chosen on validation alone (TrainingSettings.selection).",
    )
    def _comparison(
        context: dg.AssetExecutionContext,
        store: EcgnetStore,
        mlflow: MlflowTracking,
        training: TrainingSettings,
        run: TrainingRun,
        **models: ModelRef,
    ) -> dg.Output[Candidate]:
        from .training_steps import compare

        return compare(context, spec, store, mlflow, training, run, models)

    return _comparison


def build_champion(spec: TaskSpec) -> dg.AssetsDefinition:
    names = TaskAssets(spec)

    @dg.asset(
        name=names.champion,
        group_name="training",
        kinds={"mlflow"},
        freshness_policy=RETRAINED_WITHIN,
        ins={"candidate": dg.AssetIn(names.comparison)},
        description=f"Moves the 'champion' alias of the {spec.name} models to the comparison's chosen "
        f"variant; runs only when the blocking check_quality_gate on {names.comparison} passes.",
    )
    def _champion(
        context: dg.AssetExecutionContext, mlflow: MlflowTracking, candidate: Candidate
    ) -> dg.MaterializeResult:
        from .training_steps import crown

        return crown(context, spec, mlflow, candidate)

    return _champion


def build_training_assets(specs: list[TaskSpec]) -> list[dg.AssetsDefinition]:
    return [
        asset
        for spec in specs
        for asset in (
            build_training_data(spec),
            *[build_model_asset(spec, v) for v in task_variants(spec)],
            build_comparison(spec),
            build_champion(spec),
        )
    ]
