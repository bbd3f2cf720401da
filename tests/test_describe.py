"""Run descriptions on a real MLflow SQLite store: sections said once, MLflow's length limit kept, a
comparison whose table would not fit keeps its verdict, and a retrain is read against the comparison
before it."""

from dataclasses import replace

import dagster as dg
import polars as pl
import pytest

from ecgnet.describe import GATE_ROOM, VariantNote, comparison_note, since, variant_note
from ecgnet.interval import Interval
from ecgnet.promotion import Candidate
from ecgnet.show import ComparisonSummary, SplitSize, _splits_said, render, verdict_lines
from ecgnet.tracking import EXPERIMENT_KIND, NOTE, NOTE_LIMIT, ROLE, TASK, Tracker, flat_params
from feature_store.tasks import BEATS, TASKS
from pipelines.assets.training_steps import _describe


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    home = tmp_path_factory.mktemp("describe")
    tracker = Tracker(f"sqlite:///{home}/mlflow.db", home / "artifacts")
    return tracker, tracker.client.create_run(tracker.experiment("beats")).info.run_id


def test_a_section_rerun_replaces_itself_and_what_followed_it(store):
    tracker, run = store
    tracker.describe_run(run, "the comparison")
    tracker.describe_run(run, "refused", section="Quality gate")
    tracker.describe_run(run, "passed", section="Quality gate")  # the check run again
    tracker.describe_run(run, "moved", section="Champion")
    assert tracker.client.get_run(run).data.tags[NOTE] == (
        "the comparison\n\n**Quality gate**: passed\n\n**Champion**: moved"
    )
    tracker.describe_run(run, "passed again", section="Quality gate")  # a new verdict outdates the promotion
    assert tracker.client.get_run(run).data.tags[NOTE] == "the comparison\n\n**Quality gate**: passed again"


def test_experiments_say_they_are_model_development_for_mlflows_ui(store):
    """MLflow 3's UI opens an experiment by its kind; ours hold trained models, not GenAI traces."""
    tracker, _ = store
    beats = tracker.client.get_experiment(tracker.experiment("beats"))
    assert beats.tags[EXPERIMENT_KIND] == "custom_model_development"
    made_before = tracker.client.create_experiment("ecgnet-records")  # as a workspace from before the tag holds it
    assert EXPERIMENT_KIND not in tracker.client.get_experiment(made_before).tags
    assert tracker.experiment("records") == made_before
    assert tracker.client.get_experiment(made_before).tags[EXPERIMENT_KIND] == "custom_model_development"


def test_past_mlflows_limit_the_oldest_text_gives_way(store):
    tracker, run = store
    tracker.describe_run(run, "x" * NOTE_LIMIT)
    tracker.describe_run(run, "the newest verdict", section="Champion")  # MLflow would refuse 8,000 + this
    note = tracker.client.get_run(run).data.tags[NOTE]
    assert len(note) == NOTE_LIMIT and note.startswith("_(earlier text cut") and note.endswith("the newest verdict")


def _summary(rows: int) -> ComparisonSummary:
    table = pl.DataFrame(
        {
            "variant": ["time", *(f"variant_{i:04d}" for i in range(rows - 1))],
            "chosen": [True, *([False] * (rows - 1))],
            "params": [100] * rows,
            "val_metric": [0.8, *([0.5] * (rows - 1))],
            "val_vs_time": ["(best)", *(["-0.300 [-0.400, -0.200]"] * (rows - 1))],
            BEATS.metric_key: ["0.700 [0.600, 0.800]"] * rows,
            "brier": ["0.150 [0.100, 0.200]"] * rows,
            "ece": ["0.013 [0.012, 0.048]"] * rows,
        }
    )
    return ComparisonSummary(
        "beats", "r" * 32, "2026-12-06 00:00 UTC", "abc", "cpu", "folds 5", "time", table,
        Interval(0.5, 0.1, 0.9), [], None, "file:///x", selection="parsimony", data_fingerprint="f1",
    )  # fmt: skip


def test_a_table_too_long_for_a_description_leaves_the_verdict_and_points_at_the_file():
    short = comparison_note(_summary(3), BEATS, "1")
    assert "| **time** (chosen) |" in short and "| variant_0001 |" in short
    # two narrow tables: what the choice read (validation only), then the test, each with its own columns
    choice, test = short.split("**What the choice read** (validation only):")[1].split("**Test** (scored once")
    assert "| variant | params | val_metric | val_vs_time |" in choice and BEATS.metric_key not in choice
    assert f"| variant | {BEATS.metric_key} | ece |" in test and "val_metric" not in test  # brier: comparison.md
    assert "| **time** (chosen) | 0.700 [0.600, 0.800] | 0.013 [0.012, 0.048] |" in test
    assert f'<img src="get-artifact?path=comparison.png&run_uuid={"r" * 32}"' in short  # the picture, on the page
    assert "published.png" not in short  # compared with nothing published: no such picture
    long = comparison_note(_summary(400), BEATS, "1")
    assert len(long) <= NOTE_LIMIT - GATE_ROOM and "open comparison.md" in long and "| variant_0001 |" not in long
    for text in (short, long):
        assert "- chosen on validation alone: `time` (best on validation `time` (0.8); within noise of it" in text
        assert "Kendall tau +0.50 [+0.10, +0.90]" in text and "clear of zero" in text


def test_the_verdict_names_who_is_within_noise_and_the_rule():
    summary = _summary(3).table.with_columns(
        pl.Series("val_vs_time", ["(best)", "-0.010 [-0.050, +0.030]", "-0.300 [-0.400, -0.200]"])
    )
    lines = verdict_lines(ComparisonSummary(**{**_summary(3).__dict__, "table": summary}), BEATS)
    assert lines[0] == (
        "chosen on validation alone: time (best on validation time (0.8); within noise of it (paired interval "
        "reaching zero): variant_0000; rule: parsimony, the fewest parameters among those)"
    )


def test_one_validation_patient_is_said_to_settle_nothing():
    table = _summary(3).table.with_columns(
        pl.Series("val_vs_time", ["(best)", "-0.300 [-0.300, -0.300]", "-0.100 [-0.100, -0.100]"])
    )
    sizes = (SplitSize("train", 3, 7000), SplitSize("val", 1, 2603), SplitSize("test", 2, 4000))
    one = ComparisonSummary(**{**_summary(3).__dict__, "table": table, "splits": sizes, "folds": 1})
    lines = verdict_lines(one, BEATS)
    assert "within noise of it: not measurable (one validation patient)" in lines[0]
    assert lines[1].startswith("One validation patient: an interval that resamples patients cannot open")
    kendall = next(line for line in lines if line.startswith("validation ranking against test ranking"))
    assert kendall.endswith(
        "clear of zero: it predicts the test ranking; but with one validation patient the "
        "interval holds only the test patients' spread)"
    )
    # cross-validated, the choice reads every development patient: four here, so the intervals are read
    folds = verdict_lines(ComparisonSummary(**{**one.__dict__, "folds": 2}), BEATS)
    assert "paired interval reaching zero): none" in folds[0] and not folds[1].startswith("One validation")
    assert _splits_said(sizes, "beat") == "train 3 patients (7,000 beats), validation 1 (2,603), test 2 (4,000)"
    assert _splits_said(sizes, "beat", 2).endswith("; the choice read 2 folds over the 4 train and validation patients")
    # runs that logged no split sizes read as before
    assert (
        "paired interval reaching zero): none"
        in verdict_lines(ComparisonSummary(**{**one.__dict__, "splits": ()}), BEATS)[0]
    )


def test_a_variant_ranked_below_on_one_patient_is_not_said_to_be_below_beyond_noise():
    row = {"variant": "early", "val_metric": 0.5, "val_vs_time": "-0.300 [-0.300, -0.300]"}
    note = VariantNote("early", "fusion", "early fusion", row, "time", "time", "http://ui/#/runs/r")
    assert "below the best on validation (`time`) beyond noise" in variant_note(note, BEATS)
    alone = variant_note(VariantNote(**{**note.__dict__, "one_patient": True}), BEATS)
    assert "ranked above it on the one validation patient (not told from noise)" in alone
    assert "beyond noise" not in alone
    assert "Reads most" not in alone  # not explained: nothing said
    calibrated = {**row, "macro_f1_N_S_V": "0.700 [0.600, 0.800]", "ece": "0.041 [0.030, 0.055]"}
    assert "`macro_f1_N_S_V` 0.700 [0.600, 0.800]; ece 0.041 [0.030, 0.055]" in variant_note(
        VariantNote(**{**note.__dict__, "row": calibrated}), BEATS
    )  # how far its probabilities can be taken at their word, beside its decisions
    said = {"S": ["rr_prev_norm +0.062", "V1 skewness -0.031"], "V": ["MLII template_corr +0.05"]}
    explained = variant_note(VariantNote(**{**note.__dict__, "strongest": said}), BEATS)
    assert "S: rr_prev_norm +0.062, V1 skewness -0.031; V: MLII template_corr +0.05" in explained


def test_an_undefined_figure_reads_undefined_in_the_table():
    summary = _summary(2)
    table = summary.table.with_columns(pl.Series("se_S", ["nan [nan, nan]", "0.500 [0.400, 0.600]"]))
    note = comparison_note(ComparisonSummary(**{**summary.__dict__, "table": table}), BEATS)
    assert "| undefined |" in note and "nan [nan, nan]" not in note and "0.500 [0.400, 0.600]" in note
    # and so in the terminal (`python -m ecgnet show`), as its verdict line already said it
    shown = render(ComparisonSummary(**{**summary.__dict__, "table": table}), BEATS)
    assert "nan [nan, nan]" not in shown and " undefined " in shown and "0.500 [0.400, 0.600]" in shown


def test_a_store_that_refuses_a_description_is_warned_about_and_nothing_else_fails(store, caplog):
    tracker, _ = store
    with caplog.at_level("WARNING", logger="ecgnet.tracking"):
        tracker.describe_run("0" * 32, "words", section="Champion")  # no such run
        tracker.describe_model("beats", "time", "1", "words", "words")  # no such registered model
    refused = [r.getMessage() for r in caplog.records]
    assert any("keeps its old description" in m and "0" * 32 in m for m in refused)
    assert any("ecgnet-beats-time version 1 keeps its old description" in m for m in refused)


def test_the_previous_comparison_is_the_last_finished_one_started_before(tmp_path):
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", tmp_path / "artifacts")
    experiment, runs = tracker.experiment("beats"), []
    for start, status in ((1000, "FINISHED"), (2000, "FINISHED"), (3000, "KILLED"), (4000, "FINISHED")):
        run = tracker.client.create_run(experiment, start_time=start, tags={ROLE: "comparison", TASK: "beats"})
        tracker.client.set_terminated(run.info.run_id, status, end_time=start + 500)
        runs.append(run.info.run_id)
    tracker.client.create_run(experiment, start_time=3500, tags={ROLE: "variant"})  # a child: never a comparison
    previous = tracker.previous_comparison("beats", runs[3])
    assert previous is not None and previous.info.run_id == runs[1]  # the failed one between is skipped
    assert tracker.previous_comparison("beats", runs[0]) is None  # the first has none


def test_a_retrain_is_read_against_the_comparison_before_it():
    now = _summary(3)
    same = since(now, replace(now, run_id="p" * 32, candidate="time"), BEATS, "#/experiments/1/runs/ppp")
    assert same.startswith("Previous comparison [pppppppp](#/experiments/1/runs/ppp), finished 2026-12-06 00:00 UTC")
    assert "chose `time`, test `macro_f1_N_S_V` 0.700 [0.600, 0.800]" in same
    assert "the same code; the same feature views (figures comparable)" in same
    other = since(now, replace(now, commit="old", data_fingerprint="f0"), BEATS)
    assert "code old then; other feature views" in other and "not comparable" in other
    assert since(now, now, BEATS) in comparison_note(now, BEATS, "2", now)
    assert "Previous comparison" not in comparison_note(now, BEATS, "2")  # the first comparison of a task


def test_an_undefined_sensitivity_is_said_in_words():
    af = next(t for t in TASKS.values() if t.name == "af")
    summary = _summary(2)
    table = summary.table.drop("brier", "ece").with_columns(
        pl.Series(af.metric_key, ["0.889 [0.500, 1.000]"] * 2),
        pl.Series("se_AF", ["nan [nan, nan]"] * 2),
        pl.Series("pp_AF", ["nan [nan, nan]"] * 2),
    )
    line = verdict_lines(replace(summary, table=table), af)[1]
    assert "se_AF undefined (no AF on test); pp_AF undefined (nothing called AF)" in line and "nan" not in line
    assert "ece" not in line  # a table from before calibration was scored: nothing said of it
    calibrated = table.with_columns(pl.Series("ece", ["0.041 [0.030, 0.055]"] * 2))
    assert verdict_lines(replace(summary, table=calibrated), af)[1].endswith("; ece 0.041 [0.030, 0.055]")


def test_what_the_kendall_interval_says_is_read_from_it():
    def said(lo: float, hi: float) -> str:
        summary = replace(_summary(3), agreement=Interval(0.4, lo, hi))
        return next(line for line in verdict_lines(summary, BEATS) if "Kendall tau" in line)

    assert "clear of zero: it predicts the test ranking" in said(0.1, 0.8)
    assert "reaching zero: not told apart from chance" in said(-0.1, 0.8)
    assert "no interval" in said(float("nan"), float("nan"))


def test_a_comparison_before_this_one_that_never_logged_its_table_is_left_out(tmp_path):
    """An earlier comparison that failed before its table (or an older layout) must not cost this one its
    description, nor the comparison asset its success."""
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", tmp_path / "artifacts")
    experiment, tags = tracker.experiment("beats"), {ROLE: "comparison", TASK: "beats"}
    old = tracker.client.create_run(experiment, start_time=1000, tags=tags).info.run_id
    tracker.client.set_terminated(old, "FINISHED", end_time=1500)  # finished, but nothing logged
    now = tracker.client.create_run(experiment, start_time=2000, tags=tags).info.run_id
    summary = _summary(3)
    candidate = Candidate("beats", "time", "1", Interval(0.8, 0.7, 0.9), now, BEATS.metric_key)
    tracker.finish_comparison(now, summary.table, candidate, {}, {})
    _describe(dg.build_asset_context().log, tracker, BEATS, {}, {}, candidate)
    note = tracker.client.get_run(now).data.tags[NOTE]
    assert note.startswith("### `time` chosen on validation alone") and "Previous comparison" not in note


def test_nested_settings_and_fitted_values_are_params_of_their_own():
    """MLflow's runs table sorts and compares by a param: a dict logged whole is one opaque string."""
    fitted = {"offsets": {"N": 0.0, "S": 3.0}, "trees": 1500, "per_seed": [{"S": 1.0}]}
    assert flat_params("fitted", fitted) == {
        "fitted.offsets.N": 0.0,
        "fitted.offsets.S": 3.0,
        "fitted.trees": 1500,
        "fitted.per_seed": [{"S": 1.0}],  # a list stays one value
    }
