"""Inference with the champion: one WFDB record -> class probabilities, through the feature store's
online path with the stored parameters and train statistics of the views the model was trained on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import torch
from mlflow.exceptions import MlflowException

from feature_store.tasks import TaskSpec
from feature_store.views.store import FeatureStore
from feature_store.workspace import Workspace

from .data import modality_inputs
from .explain import BASELINE_FILE, ExplainConfig, Explanation, attribute, stratified_rows
from .export import Layout
from .plots import attribution_png
from .tracking import CHAMPION, Tracker, pickles_refused


def champion_uri(tracker: Tracker, task: str) -> str:
    champion = tracker.current_champion(task)
    if champion is None:
        raise ValueError(
            f"no '{CHAMPION}' model for task {task!r} in {tracker.uri}; fix: run `make demo` "
            "(it trains, compares and promotes a champion) or the `retrain` job in Dagster"
        )
    return f"models:/{champion.name}@{CHAMPION}"


@dataclass
class Prediction:
    """One record scored by the champion: a row per entity (beat or record) of packed inputs."""

    classes: list[str]
    ids: np.ndarray
    probs: np.ndarray  # (rows, classes)
    uri: str
    flat: np.ndarray  # (rows, width): the packed inputs the model saw
    layout: Layout
    model: torch.nn.Module  # the packed champion: flat rows in, probabilities out
    run_id: str  # the MLflow run that logged it (and its explanation baseline)


def predict(record: Path, task: TaskSpec, workspace: Workspace) -> Prediction:
    """The champion's probabilities for every row of one record."""
    if not Path(f"{record}.hea").is_file():
        raise ValueError(
            f"{record}.hea not found; fix: give the record path without extension, e.g. data/sample/mitdb/100"
        )
    tracker = Tracker.for_workspace(workspace)
    uri = champion_uri(tracker, task.name)
    with tracker.fluent(), pickles_refused():
        info = mlflow.models.get_model_info(uri)
        try:
            model = mlflow.pytorch.load_model(uri)
        except MlflowException as err:
            raise ValueError(
                f"{uri}: MLflow refused to load it ({err}); fix: its artifact folder holds a pickled model "
                "file that ecgnet never writes (model.pth): remove it, or retrain the champion"
            ) from err
    meta, views = info.metadata, info.metadata["views"]
    online = FeatureStore(workspace.store).online(record, list(views), versions=views)
    layout = Layout.from_json(meta["layout"])
    flat = layout.pack(modality_inputs(online.features, task.name))
    with torch.no_grad():
        probs = model(torch.from_numpy(flat)).numpy()
    return Prediction(list(meta["classes"]), online.ids, probs, uri, flat, layout, model, info.run_id)


def explain_prediction(
    pred: Prediction, workspace: Workspace, out: Path, cfg: ExplainConfig | None = None
) -> Explanation:
    """Integrated Gradients of the champion's decision for the record's rows (a stratified sample of
    at most `rows_per_class` per predicted class), from the train mean it was logged with; the mean
    attribution per predicted class is drawn to `out` (PNG)."""
    cfg = cfg or ExplainConfig()
    with Tracker.for_workspace(workspace).fluent():
        try:
            path = mlflow.artifacts.download_artifacts(run_id=pred.run_id, artifact_path=f"explain/{BASELINE_FILE}")
        except MlflowException as err:
            raise ValueError(
                f"the champion {pred.uri} was logged without an explanation baseline; fix: retrain it "
                "(`make demo` or the `retrain` job) with this version"
            ) from err
    rows = stratified_rows(pred.probs.argmax(axis=1), cfg.rows_per_class, cfg.seed)
    expl = attribute(pred.model, pred.layout, pred.flat[rows], np.load(path), cfg.n_steps, rows)
    shown = f"{len(rows)} of {len(pred.ids)}" if len(rows) < len(pred.ids) else f"{len(rows)}"
    title = f"{pred.uri}: mean attribution per predicted class ({shown} rows)"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(attribution_png(expl.class_maps(tuple(pred.classes)), title))
    return expl
