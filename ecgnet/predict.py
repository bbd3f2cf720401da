"""Inference with the champion: one WFDB record -> class probabilities, through the feature store's
online path with the stored parameters and train statistics of the views the model was trained on."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import torch

from feature_store.tasks import TaskSpec
from feature_store.views.store import FeatureStore
from feature_store.workspace import Workspace

from .data import modality_inputs
from .export import Layout
from .tracking import CHAMPION, Tracker


def champion_uri(tracker: Tracker, task: str) -> str:
    champion = tracker.current_champion(task)
    if champion is None:
        raise ValueError(
            f"no '{CHAMPION}' model for task {task!r} in {tracker.uri}; fix: run `make demo` "
            "(it trains, compares and promotes a champion) or the `retrain` job in Dagster"
        )
    return f"models:/{champion.name}@{CHAMPION}"


def predict(record: Path, task: TaskSpec, workspace: Workspace) -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """(classes, entity ids, probabilities (rows, classes), model uri) for one record."""
    if not Path(f"{record}.hea").is_file():
        raise ValueError(
            f"{record}.hea not found; fix: give the record path without extension, e.g. data/sample/mitdb/100"
        )
    tracker = Tracker.for_workspace(workspace)
    uri = champion_uri(tracker, task.name)
    with tracker.fluent():
        meta = mlflow.models.get_model_info(uri).metadata
        model = mlflow.pytorch.load_model(uri)
    views = meta["views"]
    online = FeatureStore(workspace.store).online(record, list(views), versions=views)
    flat = Layout.from_json(meta["layout"]).pack(modality_inputs(online.features, task.name))
    with torch.no_grad():
        probs = model(torch.from_numpy(flat)).numpy()
    return list(meta["classes"]), online.ids, probs, uri
