"""Whole runs on a real ephemeral Dagster instance and a real MLflow store, for the training tests."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ecgnet.tracking import Tracker
from feature_store.tasks import TASKS, TaskSpec
from feature_store.workspace import Workspace
from pipelines.definitions import build_assets
from pipelines.partitions import every_shard_tags
from pipelines.resources import (
    EcgnetStore,
    FeatureSettings,
    IngestSettings,
    MlflowTracking,
    TrainingSettings,
    resources,
)


def materialize_all(
    home: Path,
    sources: list[Path],
    specs: list[TaskSpec] | None = None,
    instance: dg.DagsterInstance | None = None,
    validate_models: bool = False,
    selection: dg.AssetSelection | None = None,
    raise_on_error: bool = True,
    **training,
) -> dg.ExecuteInProcessResult:
    """Ingest, features and training of `specs` (default: every task) on `instance` (default: a real
    ephemeral one), or only `selection` of them. `validate_models`: MLflow serves every logged model
    its input example (a third of the time a model takes to log; on in `make demo`, and in the one run
    that tests it)."""
    assets, checks = build_assets(list(TASKS.values()) if specs is None else specs)
    store = EcgnetStore(home=str(home))
    return dg.materialize(
        [*assets, *checks],
        resources=resources(
            store,
            mlflow=MlflowTracking(store=store, validate_models=validate_models),
            ingest=IngestSettings(sources=[str(s) for s in sources]),
            features=FeatureSettings(backend="numpy"),
            training=TrainingSettings(**{"epochs": 1, "n_boot": 20, "device": "cpu", "explain_rows": 0, **training}),
        ),
        instance=instance,
        tags=every_shard_tags(),
        selection=selection,
        raise_on_error=raise_on_error,
    )


def tracker(home: Path) -> Tracker:
    return Tracker.for_workspace(Workspace(home))
