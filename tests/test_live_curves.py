"""A variant's MLflow run while it trains, on a real SQLite store: opened before training, its curves
logged as epochs end (one curve per cross-validation member), each epoch once even where a live write
failed, FAILED when training fails, and closed when a later comparison finds it left open."""

import logging
import time

import pytest

from ecgnet.config import ComparisonConfig
from ecgnet.tracking import ROLE, EpochCurves, Tracker, curve_values
from feature_store.tasks import BEATS


def _record(epoch: int, **member: int) -> dict:
    return {"epoch": epoch, "train_loss": 1.0 / (epoch + 1), "val_metric": 0.5 + epoch / 100, "lr": 1e-3, **member}


@pytest.fixture
def tracker(tmp_path):
    return Tracker(f"sqlite:///{tmp_path}/mlflow.db", tmp_path / "artifacts")


def _steps(tracker: Tracker, run_id: str, key: str) -> list[int]:
    return [m.step for m in tracker.client.get_metric_history(run_id, key)]


def test_curves_show_while_training_one_per_member(tracker):
    parent = tracker.start_comparison("beats", ComparisonConfig(), {"time": "1"})
    run = tracker.open_variant(parent, "beats", "time", "single")
    opened = tracker.client.get_run(run)
    assert opened.info.status == "RUNNING" and opened.data.tags["mlflow.parentRunId"] == parent
    assert opened.data.tags[ROLE] == "variant"
    curves = tracker.epoch_curves(run)
    for epoch in range(3):
        curves(epoch, _record(epoch))
    assert _steps(tracker, run, "train_loss") == [0, 1, 2]  # on the run before training ends
    # under cross-validation each member draws its own curve; a second seed does not draw over the first
    curves(0, _record(0, fold=1, seed=0))
    curves(0, _record(0, fold=1, seed=1))
    assert _steps(tracker, run, "train_loss_fold1") == [0] and _steps(tracker, run, "train_loss_fold1_seed1") == [0]
    assert set(curve_values(_record(0, fold=2, seed=1))) == {
        "train_loss_fold2_seed1",
        "val_metric_epoch_fold2_seed1",
        "lr_fold2_seed1",
    }


def test_an_epoch_not_logged_live_is_logged_once_at_the_end(tracker, caplog):
    parent = tracker.start_comparison("beats", ComparisonConfig(), {"time": "1"})
    run = tracker.open_variant(parent, "beats", "time", "single")
    curves = tracker.epoch_curves(run)
    curves(0, _record(0))
    refused = EpochCurves(tracker.client, "0" * 32, curves.logged)  # no such run: the store refuses the write
    with caplog.at_level(logging.WARNING, logger="ecgnet.tracking"):
        refused(1, _record(1))
    assert "epoch 1 of run" in caplog.text and "logged with the rest when it ends" in caplog.text
    curves(2, _record(2))
    history = [_record(e) for e in range(3)]
    assert curves.unlogged(history) == [history[1]]  # what `log_variant` then logs: epoch 1 alone


def test_a_failed_variant_is_a_failed_run_and_a_later_comparison_closes_what_was_left_open(tracker):
    parent = tracker.start_comparison("beats", ComparisonConfig(), {"time": "1"})
    failed = tracker.open_variant(parent, "beats", "time", "single")
    tracker.fail_run(failed)
    assert tracker.client.get_run(failed).info.status == "FAILED"
    left = tracker.open_variant(parent, "beats", "early", "early")  # its process was killed mid-training
    again = tracker.start_comparison("beats", ComparisonConfig(), {"time": "1"})
    assert tracker.client.get_run(left).info.status == "KILLED"
    assert tracker.client.get_run(parent).info.status == "KILLED"
    kept = tracker.open_variant(again, "beats", "time", "single")
    tracker.start_comparison("records", ComparisonConfig(), {"time": "1"})  # another task's comparison
    assert tracker.client.get_run(kept).info.status == "RUNNING"


def test_a_training_run_samples_the_machine_into_its_system_metrics(tracker, monkeypatch):
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.5")
    parent = tracker.start_comparison("beats", ComparisonConfig(), {"time": "1"})
    run = tracker.open_variant(parent, "beats", "time", "single")
    with tracker.system_metrics(run):
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:  # busy, as training is
            sum(i * i for i in range(10_000))
    sampled = tracker.client.get_run(run).data.metrics
    assert "system/cpu_utilization_percentage" in sampled and "system/system_memory_usage_megabytes" in sampled
    assert tracker.client.get_run(run).info.status == "RUNNING"  # the monitor leaves the run to its owner


def test_a_variant_whose_training_raises_leaves_a_failed_run(tmp_path, monkeypatch):
    from pipelines.assets import training_steps
    from pipelines.assets.training import TrainingRun
    from pipelines.resources import EcgnetStore, MlflowTracking, TrainingSettings

    store = EcgnetStore(home=str(tmp_path / "home"))
    mlflow = MlflowTracking(store=store)
    tracker = mlflow.tracker()
    parent = tracker.start_comparison("beats", ComparisonConfig(), {"time": "1"})

    def diverged(*_args, **_kwargs):
        raise FloatingPointError("loss is NaN at epoch 2")

    monkeypatch.setattr(training_steps.TaskData, "load", lambda *_args: None)  # the data are not the point here
    monkeypatch.setattr(training_steps, "train_variant", diverged)
    run = TrainingRun("beats", {}, parent, str(tmp_path / "training"))
    with pytest.raises(FloatingPointError):
        training_steps.train_model(BEATS, store, mlflow, TrainingSettings(), run, "time", {})
    (variant,) = tracker.client.search_runs([tracker.experiment("beats")], f"tags.mlflow.parentRunId = '{parent}'")
    assert variant.info.status == "FAILED" and variant.data.tags["mlflow.runName"] == "time"
