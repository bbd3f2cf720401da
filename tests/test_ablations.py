"""The DS1 S-majority stress test's records: thinned of N beats only, S three quarters of what is left."""

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from benchmarks.ablations import s_majority
from benchmarks.beat_arrays import read_beats
from ecgnet.train import predict_probs
from feature_store.tasks import BEATS
from tests.records import MITDB


def test_an_s_rich_record_is_thinned_of_n_until_s_is_the_majority():
    beats = read_beats(MITDB, records={"209", "100"})  # 209: 383 S beats; 100: 33
    thinned = s_majority(beats)
    assert set(thinned.record_id.tolist()) == {"209"}  # fewer than 50 S beats: left out
    before = beats.label[beats.record_id == "209"]
    after = thinned.label
    assert (after == "S").sum() == (before == "S").sum() and (after == "V").sum() == (before == "V").sum()
    assert abs((after == "S").mean() - 0.75) < 0.05
    # N beats are kept evenly over the record, so the record's rhythm is still sampled throughout
    kept_n = thinned.r_peak[after == "N"]
    assert kept_n.min() < 0.1 * beats.r_peak.max() and kept_n.max() > 0.9 * beats.r_peak[beats.record_id == "209"].max()
    assert np.isin(thinned.ids, beats.ids).all() and thinned.windows.shape[1:] == beats.windows.shape[1:]


def test_the_references_instrument_scores_s_rich_records_whole_against_s_dominant_references():
    from benchmarks.ablations import _task_data, stress_rows
    from feature_store.transforms.rhythm import BEAT_RR_NAMES
    from feature_store.transforms.template import TEMPLATE_NAMES

    beats = read_beats(MITDB, records={"209", "100"})  # 209: 383 S beats of 3,005; 100: 33, too few
    scored, plain = stress_rows(beats, "references", s_share=0.5), _task_data(beats, copies=False).val
    mine = np.flatnonzero(np.char.startswith(plain.ids.astype(str), "209:"))
    assert np.array_equal(np.sort(plain.ids[mine]), np.sort(scored.ids))  # 209 whole, nothing of 100
    order = np.argsort(plain.ids[mine])[np.argsort(np.argsort(scored.ids))]
    mine = mine[order]
    assert np.array_equal(plain.y[mine], scored.y)
    # standardised as the development rows are, whatever records the instrument leaves out
    np.testing.assert_array_equal(plain.x["time"]["waveform"][mine], scored.x["time"]["waveform"])
    rhythm = {name: i for i, name in enumerate(BEAT_RR_NAMES)}
    before, after = plain.x["time"]["scalars"][mine], scored.x["time"]["scalars"]
    for own in ("rr_prev_s", "rr_next_s", "rr_local_s"):  # each beat's own intervals: as they were
        np.testing.assert_array_equal(before[:, rhythm[own]], after[:, rhythm[own]])
    # and the rhythm around it, its last beats' too: the references' S beats are no one's neighbours
    context = np.arange(len(BEAT_RR_NAMES), len(BEAT_RR_NAMES) + 2 * BEATS.view_params["time"].rr_context_beats + 2)
    np.testing.assert_array_equal(before[:, context], after[:, context])
    for reference in ("rr_record_s", "rr_prev_norm"):  # the record's references: S-dominated now
        assert not np.allclose(before[:, rhythm[reference]], after[:, rhythm[reference]])
    template = slice(-len(TEMPLATE_NAMES) * beats.windows.shape[1], None)  # the last scalars (ecgnet.data)
    assert not np.allclose(before[:, template], after[:, template])


def test_s_runs_retime_a_thinned_record_as_s_runs_at_the_usual_pace_and_n_beats_after_pauses():
    from benchmarks.ablations import s_runs, stress_rows
    from feature_store.transforms.rhythm import BEAT_RR_NAMES

    beats = read_beats(MITDB, records={"209"})
    usual = np.median(beats.rr_prev_s[beats.label == "N"])
    runs, thinned = s_runs(beats, pause=2.0), s_majority(beats)
    assert np.array_equal(runs.ids, thinned.ids) and np.array_equal(runs.windows, thinned.windows)
    order = np.argsort(runs.r_peak, kind="stable")
    assert np.array_equal(runs.ids[order], thinned.ids[np.argsort(thinned.r_peak, kind="stable")])  # same order
    s, n = runs.label == "S", runs.label == "N"
    np.testing.assert_allclose(runs.rr_prev_s[s], usual, rtol=1e-5)
    np.testing.assert_allclose(runs.rr_prev_s[n], 2 * usual, rtol=1e-5)
    np.testing.assert_allclose(runs.rr_next_s[order][:-1], runs.rr_prev_s[order][1:])  # one timeline
    # an S beat followed by an S beat has no pause after it: its next interval is as short as its own
    followed = s[order][:-1] & s[order][1:]
    assert followed.sum() > 100 and np.allclose(runs.rr_next_s[order][:-1][followed], usual, rtol=1e-5)
    scored = stress_rows(beats, "runs", pause=2.0)  # the views computed on the re-timed record
    prev = scored.x["time"]["scalars"][:, BEAT_RR_NAMES.index("rr_prev_s")]
    mine = dict(zip(runs.ids.tolist(), runs.rr_prev_s.tolist()))
    np.testing.assert_allclose(prev, [mine[i] for i in scored.ids.tolist()], rtol=1e-5)


def test_a_wider_time_window_reaches_further_before_the_r_peak_and_keeps_its_end():
    from benchmarks.ablations import _task_data, time_view

    beats = read_beats(MITDB, records={"209"})
    narrow_spec = replace(BEATS, view_params={**BEATS.view_params, "time": time_view(beat_before_s=0.25)})
    wide_spec = replace(BEATS, view_params={**BEATS.view_params, "time": time_view(beat_before_s=0.45)})
    narrow, wide = _task_data(beats, narrow_spec).val.x, _task_data(beats, wide_spec).val.x
    extra = wide["time"]["waveform"].shape[-1] - narrow["time"]["waveform"].shape[-1]
    assert extra == round(0.2 * beats.fs)
    # the narrow window is the wide one's tail, up to the standardisation each was fitted with
    corr = np.corrcoef(narrow["time"]["waveform"][:200, 0].ravel(), wide["time"]["waveform"][:200, 0, extra:].ravel())
    assert corr[0, 1] > 0.999
    # only the time view moves: the frequency and spectrogram inputs keep ingest's window
    for family in ("frequency", "spectrogram"):
        for name, values in narrow[family].items():
            np.testing.assert_array_equal(values, wide[family][name])
    with pytest.raises(ValueError, match="beat_before_s"):
        time_view(beat_before_s=1.5).beat_window(beats.crop, beats.windows.shape[-1], beats.fs)  # past the context


def test_false_s_beats_are_counted_by_record_with_their_own_classes():
    from benchmarks.ablations import false_s_by_record
    from ecgnet.data import Split, TaskData

    n, s, v = (BEATS.classes.index(c) for c in ("N", "S", "V"))
    y = np.array([n, n, s, v, n, s, n])
    ids = np.array(["201:10", "201:20", "201:30", "201:40", "209:10", "209:20", "209:30"])
    said = np.array([s, s, s, s, n, n, s])  # 201: two N and one V read as S, its S found; 209: one N
    probs = np.eye(len(BEATS.classes), dtype=np.float32)[said]
    split = Split({}, y, ids, np.array([i.split(":")[0] for i in ids]))
    rows = false_s_by_record(probs, TaskData(BEATS, split, split, split.take(np.arange(0)), {}))
    assert [(r["record"], r["false_s"], r["of_class"]) for r in rows] == [
        ("201", 3, {"N": 2, "V": 1}),
        ("209", 1, {"N": 1}),
    ]
    assert rows[0]["share"] == 0.75 and rows[0]["record_beats"] == 4


def test_every_ablation_row_names_settings_that_exist():
    """A row is run by name, perhaps sessions after it was written: each key it changes must still be a
    training, model, view or task setting, or the harness fails only when that row's turn comes."""
    from dataclasses import fields

    from benchmarks.ablations import ABLATIONS, HARNESS_KEYS, RowChange
    from ecgnet.config import ModelConfig, TrainConfig
    from feature_store.tasks import TaskSpec

    training = {f.name for f in fields(TrainConfig)}
    assert not HARNESS_KEYS & training  # a key the harness takes would never reach TrainConfig
    for name, change in ABLATIONS.items():
        assert set(change) <= HARNESS_KEYS | training, name
        row = RowChange.of(change)
        assert set(row.model) <= {f.name for f in fields(ModelConfig)}, name
        assert set(row.spec) <= {f.name for f in fields(TaskSpec)}, name
        assert set(row.views or {}) <= set(BEATS.view_params), name
        replace(TrainConfig(), **row.train)


def test_log_rr_puts_the_rr_columns_on_a_log_scale_and_nothing_else():
    from benchmarks.ablations import log_rr
    from ecgnet.data import Split
    from feature_store.transforms.rhythm import BEAT_RR_NAMES

    k = len(BEAT_RR_NAMES)
    scalars = np.full((3, k + 4), 2.0, np.float32)
    scalars[0, 4] = 0.5  # a beat at half its record's mean interval
    scalars[1, 0] = 0.0  # no interval: floored, not -inf
    wave = np.ones((3, 2, 8), np.float32)
    split = Split({"time": {"waveform": wave, "scalars": scalars}}, np.zeros(3), np.array(["a", "b", "c"]), np.zeros(3))
    out = log_rr(split).x["time"]
    assert out["scalars"][0, 4] == -1.0 and out["scalars"][2, :k].tolist() == [1.0] * k
    assert np.isfinite(out["scalars"]).all() and out["scalars"][1, 0] < -9
    assert (out["scalars"][:, k:] == 2.0).all() and out["waveform"] is wave  # the rest as it was
    assert scalars[0, 4] == 0.5  # the input split is not changed


def test_mlii_alone_leaves_nothing_of_the_second_lead():
    from benchmarks.ablations import mlii_alone
    from ecgnet.data import Split, rhythm_columns
    from feature_store.tasks import BEATS
    from feature_store.transforms.template import TEMPLATE_NAMES
    from feature_store.transforms.time import MOMENT_NAMES

    # each scalar says whose it is: 0 the rhythm's, 1 MLII's, 2 the second lead's, packed as ecgnet.data does
    rhythm = sum(len(c) for c in rhythm_columns(BEATS))
    per_lead = [len(MOMENT_NAMES), 1, len(TEMPLATE_NAMES)]  # moments, qrs_energy, template
    row = [0.0] * rhythm + [v for width in per_lead for v in [1.0] * width + [2.0] * width]
    scalars = np.tile(np.array(row, np.float32), (2, 1))
    wave = np.stack([np.ones((2, 8)), np.full((2, 8), 2.0)], axis=1).astype(np.float32)
    ids = np.array(["100:360", "114:360"])  # 114 stores V5 first; the views put MLII first by name
    out = mlii_alone(Split({"time": {"waveform": wave, "scalars": scalars}}, np.zeros(2), ids, np.zeros(2))).x["time"]
    assert out["waveform"].shape == (2, 1, 8) and (out["waveform"] == 1.0).all()
    assert out["scalars"].tolist() == [[0.0] * rhythm + [1.0] * sum(per_lead)] * 2


def test_test_time_views_move_and_scale_the_time_waveform_only():
    from benchmarks.ablations import tta_probs, waveform_views
    from ecgnet.data import Split

    rng = np.random.default_rng(0)
    wave = rng.standard_normal((6, 2, 40)).astype(np.float32)
    split = Split(
        {"time": {"waveform": wave, "scalars": rng.standard_normal((6, 3))}, "spectrogram": {"image": np.ones((6, 4))}},
        np.zeros(6, int),
        np.arange(6),
        np.zeros(6),
    )
    views = waveform_views(split, shift=3, gain=0.1)
    assert len(views) == 5 and views[0] is split
    left, right, low, high = (v.x["time"]["waveform"] for v in views[1:])
    np.testing.assert_array_equal(left[..., 3:], wave[..., :-3])  # the window moved, its edge repeated
    np.testing.assert_array_equal(left[..., :3], np.repeat(wave[..., :1], 3, axis=-1))
    np.testing.assert_array_equal(right[..., :-3], wave[..., 3:])
    np.testing.assert_allclose(low, 0.9 * wave, rtol=1e-6)
    np.testing.assert_allclose(high, 1.1 * wave, rtol=1e-6)
    for view in views[1:]:
        assert view.x["time"]["scalars"] is split.x["time"]["scalars"]
        assert view.x["spectrogram"] is split.x["spectrogram"]
        assert view.x["time"]["waveform"].dtype == wave.dtype
    no_wave = Split({"spectrogram": {"image": np.ones((6, 4))}}, split.y, split.ids, split.groups)
    assert waveform_views(no_wave) == [no_wave]

    class Peek(torch.nn.Module):  # a model whose probabilities follow the waveform's first sample
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            first = x["time"]["waveform"][:, 0, 0]
            return torch.stack([first, -first], dim=1) + self.w

    averaged = tta_probs(Peek(), split)
    each = [predict_probs(Peek(), v, False) for v in views]
    np.testing.assert_allclose(averaged, np.mean(each, axis=0), rtol=1e-6)
    assert not np.allclose(averaged, each[0])


def test_an_ablation_row_is_logged_to_mlflow_beside_the_comparisons(tmp_path):
    from argparse import Namespace

    from mlflow.tracking import MlflowClient

    from benchmarks.ablations import log_row, save_oof
    from ecgnet.config import ComparisonConfig, TrainConfig
    from ecgnet.data import Split, TaskData
    from ecgnet.tracking import Tracker
    from feature_store.workspace import Workspace

    ids = np.array([f"209:{i * 400:09d}" for i in range(30)])
    split = Split({}, np.arange(30) % 3, ids, np.full(30, "209"))
    dev = TaskData(BEATS, split, split, split.take(np.arange(0)), {})
    figures = {"headline": 0.75, "accuracy": 0.9, "se_S": 0.7, "pp_S": float("nan")}
    row: dict[str, Any] = {
        "ablation": "mixup, alpha 0.2 (bfloat16)",
        "cv": [0.7, 0.1],
        "raw": figures,
        "offsets": {"headline": 0.72},
        "tta": {"headline": 0.76},
        "seconds": 12.0,
        "per_record_s": [{"record": "209", "s_se": 0.9}],
    }
    saved = {"probabilities": save_oof(tmp_path / "oof", row["ablation"], np.full((30, 3), 1 / 3), dev)}
    cfg = ComparisonConfig(train=TrainConfig(epochs=10, mixup=0.2, device="cpu"))
    workspace = Workspace(tmp_path / "home")
    tracker = Tracker.for_workspace(workspace, validate_models=False)
    args = Namespace(variant="time", folds=5, mitdb=tmp_path / "mitdb")
    run_id = log_row(tracker, row, cfg, dev, args, saved)
    client = MlflowClient(workspace.mlflow_uri)
    run = client.get_run(run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "ecgnet-beats-ablations" and run.info.status == "FINISHED"
    assert run.data.params["ablation"] == row["ablation"] and run.data.params["train.mixup"] == "0.2"
    assert run.data.params["variant"] == "time" and run.data.params["beats"] == "30"
    assert run.data.tags["ecgnet.role"] == "ablation" and "ecgnet.hardware.native_bf16" in run.data.tags
    metrics = run.data.metrics
    assert metrics["cv_mean"] == 0.7 and metrics["oof_headline"] == 0.75 and metrics["tta_headline"] == 0.76
    assert metrics["offsets_headline"] == 0.72 and metrics["s_se_record_209"] == 0.9
    assert "oof_pp_S" not in metrics  # an undefined figure is left out, not logged as NaN
    logged = {f.path for f in client.list_artifacts(run_id)}
    assert logged == {"row.json", "00.npz"}
    # the page says the row in words, and the experiment what its runs are
    assert run.data.tags["mlflow.note.content"] == (
        "### mixup, alpha 0.2 (bfloat16)\ntime variant, 5 folds by patient over DS1 (DS2 not read), 12 s.\n\n"
        "- held-out folds: 0.700 ± 0.100\n- pooled out of fold: headline 0.750; accuracy 0.900; S Se 0.700"
    )  # S +P undefined: left out
    assert "DS2 is never read here" in experiment.tags["mlflow.note.content"]


def test_a_row_is_cross_validated_by_patient_and_says_where_it_is(beat_task_sample, capsys):
    from benchmarks.ablations import cross_validate
    from ecgnet.config import ComparisonConfig, TrainConfig
    from ecgnet.data import TaskData

    data = beat_task_sample(200)
    rows = data.train.join(data.val)  # DS1's two patients, 209 and 220, as the harness's development rows
    dev = TaskData(data.spec, rows, rows, data.test.take(np.arange(0)), {})
    tta = np.zeros((len(rows), len(dev.classes)), np.float32)
    oof, per_fold, stressed = cross_validate(
        "classical", dev, ComparisonConfig(train=TrainConfig(device="cpu")), 2, tta=tta
    )
    assert oof.shape == tta.shape and len(per_fold) == 2 and stressed is None
    np.testing.assert_allclose(oof.sum(axis=1), 1, rtol=1e-5)  # every row scored, none left at zero
    assert np.isfinite(tta).all() and tta.sum() > 0
    printed = capsys.readouterr().out
    held = sorted(line.split("held out: ")[1].split(")")[0] for line in printed.splitlines() if "fold " in line)
    assert held == ["209", "220"] and "fold 2/2" in printed


def test_the_harness_lists_its_rows_without_reading_anything(monkeypatch, capsys, tmp_path):
    import sys

    from benchmarks import ablations

    monkeypatch.setattr(sys, "argv", ["ablations", "--list", "--mitdb", str(tmp_path / "nowhere")])
    ablations.main()
    assert capsys.readouterr().out.splitlines() == list(ablations.ABLATIONS)


def test_a_long_setting_is_logged_as_far_as_mlflow_takes_it_in_comparisons_and_ablation_rows_alike(tmp_path):
    """A nested setting's repr can be long: MLflow keeps 6,000 characters of a value (and warns); an ablation
    row once cut every setting at 500 where a comparison logged it whole."""
    from mlflow.tracking import MlflowClient

    from ecgnet.config import ComparisonConfig, TrainConfig
    from ecgnet.tracking import Tracker
    from feature_store.workspace import Workspace

    workspace = Workspace(tmp_path / "home")
    tracker = Tracker.for_workspace(workspace, validate_models=False)
    cfg = ComparisonConfig(train=TrainConfig(device="cpu"))
    long = "r" * 7000
    parent = tracker.start_comparison("beats", cfg, {"time": "1"}, data_params={"train_copies": long})
    name = "a row whose name says all it changes, " * 20  # 780 characters
    row = tracker.log_ablation("beats", name, cfg, {"cv_mean": 0.7}, params={"inputs": long})
    client = MlflowClient(workspace.mlflow_uri)
    for run_id, key in ((parent, "train_copies"), (row, "inputs")):
        params = client.get_run(run_id).data.params
        assert params[key] == long[:6000]
        assert params["train.epochs"] == str(cfg.train.epochs)  # short values as they were
    assert client.get_run(row).data.params["ablation"] == name
