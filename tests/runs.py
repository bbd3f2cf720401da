"""Whole runs on a real ephemeral Dagster instance and a real MLflow store, for the training tests."""

from __future__ import annotations

import subprocess
import sys
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


def opened_together(home: Path, env: dict[str, str], processes: int = 4) -> list[tuple[int, str]]:
    """`processes` Python processes opening the Dagster home at `home` at once, as `dagster dev`'s webserver,
    daemon and code server do: each one's exit code and stderr."""
    opens = "import dagster as dg, sys; dg.DagsterInstance.from_config(sys.argv[1]).get_runs(limit=1)"
    together = [
        subprocess.Popen([sys.executable, "-c", opens, str(home)], env=env, stderr=subprocess.PIPE)
        for _ in range(processes)
    ]
    said = [p.communicate(timeout=120)[1].decode() for p in together]
    return [(p.returncode, err) for p, err in zip(together, said)]
