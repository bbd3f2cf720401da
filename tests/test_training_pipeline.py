"""The training group on a real Dagster instance and a real MLflow SQLite store, end to end."""

import io
import json
import os
import re
from dataclasses import replace
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import polars as pl
import pytest
import wfdb

from ecgnet.__main__ import main as ecgnet_main
from ecgnet.data import load_task_data
from ecgnet.interval import Interval
from ecgnet.promotion import Candidate, gate
from ecgnet.show import comparison_summary, verdict_lines
from ecgnet.tracking import CHAMPION, INBOX_AGAINST, INBOX_COMPARED, NOTE, model_name
from ecgnet.variants import VARIANTS
from feature_store.raw_store import RawStore
from feature_store.tasks import BEATS, RECORDS
from feature_store.views.store import FeatureStore
from tests.records import CINC, MITDB
from tests.runs import materialize_all, tracker

pytestmark = pytest.mark.heavy


@pytest.fixture(scope="module")
def trained(beat_world):
    home = beat_world["home"]
    run = materialize_all(home, [beat_world["src"]], gate_minimum={"beats": 0.0}, explain_rows=5)
    return run, home


def test_the_comparison_leaves_a_parent_run_with_a_child_per_variant(trained):
    result, home = trained
    assert result.success
    # beats only here: the records task has no rows, so its training assets are skipped, not failed
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "beat_fusion_comparison" in materialized and "record_training_data" not in materialized
    with tracker(home).fluent():
        runs = mlflow.search_runs(experiment_names=["ecgnet-beats"])
    parent = runs[runs["tags.ecgnet.role"] == "comparison"]
    children = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"].iloc[0]]
    assert len(parent) == 1 and parent["status"].iloc[0] == "FINISHED"
    assert set(children["tags.mlflow.runName"]) == set(VARIANTS)
    # each variant's run was open while it trained (its curves logged live) and closed when it was logged;
    # no epoch twice, though the run's final logging also holds the whole history
    assert set(children["status"]) == {"FINISHED"}
    # the comparison run carries its choice's figures, so comparisons read side by side over retrains
    chosen = children[children["tags.mlflow.runName"] == parent["tags.ecgnet.champion_candidate"].iloc[0]]
    for key in (
        "val_metric",
        "test_macro_f1_N_S_V",
        "test_macro_f1_N_S_V_lo",
        "test_accuracy",
        "test_se_S",
        "test_ece",
    ):
        assert parent[f"metrics.chosen_{key}"].iloc[0] == pytest.approx(chosen[f"metrics.{key}"].iloc[0]), key
    client = tracker(home).client
    for run_id, name in zip(children["run_id"], children["tags.mlflow.runName"]):
        if VARIANTS[name].kind not in ("late", "ensemble", "classical"):  # those train no epochs
            steps = [m.step for m in client.get_metric_history(run_id, "train_loss")]
            assert steps and steps == sorted(set(steps)), (name, steps)
    logged = {a.path for a in tracker(home).client.list_artifacts(parent["run_id"].iloc[0])}
    assert -1.0 <= parent["metrics.kendall_tau_val_test"].iloc[0] <= 1.0  # does validation predict test?
    lo, hi = parent["metrics.kendall_tau_val_test_lo"].iloc[0], parent["metrics.kendall_tau_val_test_hi"].iloc[0]
    assert -1.0 <= lo <= hi <= 1.0  # and how far that is from chance, patients of both splits resampled
    assert int(parent["params.training_copies"].iloc[0]) > 0  # 209 and 220 are S-rich DS1 records
    # where it ran: seeded figures repeat on one machine, so they are read with its hardware beside them
    assert parent["tags.ecgnet.hardware.device"].iloc[0] and parent["tags.ecgnet.hardware.cpu"].iloc[0]
    assert int(parent["tags.ecgnet.hardware.cores"].iloc[0]) >= 1
    assert parent["tags.ecgnet.hardware.amx"].iloc[0] in ("true", "false")
    # and what code: the commit, and whether tracked files differed from it (children say the same)
    assert parent["params.git_dirty"].iloc[0] in ("true", "false", "unknown")
    assert set(children["params.git_dirty"]) == {parent["params.git_dirty"].iloc[0]}
    assert parent["tags.ecgnet.hardware.native_bf16"].iloc[0] in ("amx", "avx512_bf16", "none")
    assert {"comparison.csv", "comparison.md", "comparison.png", "modality_shares.png", "candidate.json"} <= logged
    assert "calibration.png" in logged  # every variant's reliability diagram side by side
    assert {"per_patient.csv", "per_patient.png"} <= logged  # where the test's pooled sensitivity comes from
    assert {"val_per_patient.csv", "val_per_patient.png"} <= logged  # and validation's, which the choice reads
    assert "published.csv" not in logged  # the sample's test split is not the protocol's (tests/test_published.py)
    # the test S beats are all 232's (the only test patient here): who holds a pooled figure is said
    assert "concentration.csv" in logged and parent["tags.ecgnet.dominant_patient.S"].iloc[0] == "232"
    assert parent["metrics.dominant_share_S"].iloc[0] == 1.0
    assert "metrics.test_se_S_without_dominant" not in parent.columns  # nothing left without 232: not logged
    assert not any(c.startswith("metrics.published_") for c in parent.columns)
    for col in (
        "metrics.test_macro_f1",
        "metrics.test_macro_f1_lo",
        "metrics.test_macro_f1_hi",
        "metrics.test_se_S",
        "metrics.test_ece",  # calibration, with its interval like every test figure
        "metrics.test_brier_hi",
        "metrics.val_metric",
        "metrics.n_params",
        "params.view.beats_time",
        "metrics.share_time",  # explainability, measured for every variant
        "metrics.faithfulness",
        "metrics.ablation_drop_spectrogram",
    ):
        assert children[col].notna().all(), col
    shares = children[[f"metrics.share_{m}" for m in ("time", "frequency", "spectrogram")]].sum(axis=1)
    assert ((shares - 1.0).abs() < 1e-3).all()
    time_run = children[children["tags.mlflow.runName"] == "time"]["run_id"].iloc[0]
    plots = {a.path for a in tracker(home).client.list_artifacts(time_run, "plots")}
    assert "plots/reliability_test.png" in plots
    assert "plots/attribution_time.png" in plots and "plots/attribution_spectrogram.png" not in plots  # its view only


def test_mlflow_pages_say_the_verdict_where_the_figures_are(trained):
    """The comparison run, each variant's run, each registered model and the experiment carry descriptions
    (MLflow's `mlflow.note.content`, rendered as markdown on their pages) built from what the run logged."""
    result, home = trained
    candidate = result.output_for_node("beat_fusion_comparison")
    client = tracker(home).client
    experiment = client.get_experiment_by_name("ecgnet-beats")
    assert experiment is not None
    assert "### Fusion comparisons of task `beats`" in experiment.tags[NOTE]
    assert "`chosen_test_macro_f1_N_S_V`" in experiment.tags[NOTE]  # how to follow comparisons over retrains
    parent = client.get_run(candidate.parent_run_id)
    note = parent.data.tags[NOTE]
    assert note.startswith(f"### `{candidate.variant}` chosen on validation alone: `macro_f1_N_S_V` ")
    tau = parent.data.metrics["kendall_tau_val_test"]
    assert f"Kendall tau {tau:+.2f}" in note and "rule: parsimony" in note
    assert f"| **{candidate.variant}** (chosen) |" in note  # the table, the choice in bold
    picture = f'<img src="get-artifact?path=comparison.png&run_uuid={candidate.parent_run_id}"'
    assert picture in note and note.index(picture) < note.index("| variant |")  # the plot, before the table
    assert "S: patient 232 holds 100% of the S rows" in note  # who decides the pooled S figure
    # how many patients and rows each split holds: what a reader weighs an interval by
    sizes = {k.removeprefix("split."): int(v) for k, v in parent.data.params.items() if k.startswith("split.")}
    assert set(sizes) == {f"{s}.{w}" for s in ("train", "val", "test") for w in ("patients", "rows")}
    assert 0 < sizes["test.patients"] <= sizes["test.rows"] and sizes["val.patients"] >= 1
    said = (
        f"train {sizes['train.patients']} patients ({sizes['train.rows']:,} beats), validation {sizes['val.patients']}"
    )
    assert said in note and f"test {sizes['test.patients']} ({sizes['test.rows']:,})" in note
    # the gate's verdict and the promotion, each once, after the comparison's own text
    assert note.count("**Quality gate**: passed") == 1
    promoted = f"**Champion**: the alias moved to `ecgnet-beats-{candidate.variant}` version {candidate.version}"
    assert note.count(promoted) == 1 and note.index("**Quality gate**") < note.index("**Champion**")
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    notes = {c.data.tags["mlflow.runName"]: c.data.tags[NOTE] for c in children}
    assert set(notes) == set(VARIANTS)
    assert [v for v, n in notes.items() if "**chosen**" in n.splitlines()[0]] == [candidate.variant]
    for variant, text in notes.items():
        assert text.startswith(f"### `{variant}` ({VARIANTS[variant].kind})") and parent.info.run_id in text
        assert "- Test: `macro_f1_N_S_V` " in text
    version = client.get_model_version(f"ecgnet-beats-{candidate.variant}", candidate.version)
    assert version.description and version.run_id and candidate.variant in version.description
    assert version.run_id in version.description
    model = client.get_registered_model(f"ecgnet-beats-{candidate.variant}")
    assert VARIANTS[candidate.variant].description in (model.description or "")
    # the feature views as MLflow datasets (the Datasets panel): the versions the params name, not copies
    for run in (parent, *children):
        assert run.inputs is not None
        logged = {d.dataset.name: d.dataset for d in run.inputs.dataset_inputs}
        assert set(logged) == {"beats_time", "beats_spectral", "beats_spectrogram"}
        assert {n: d.digest for n, d in logged.items()} == {n: run.data.params[f"view.{n}"] for n in logged}
    # each logged model is named for its variant and carries its final figures (the experiment's Models list)
    logged_models = {m.name: m for m in client.search_logged_models([experiment.experiment_id])}
    assert set(logged_models) == set(VARIANTS)
    figures = {m.key for m in logged_models[candidate.variant].metrics or []}
    assert {"val_metric", "test_macro_f1_N_S_V", "n_params"} <= figures
    assert not any(k.startswith(("train_loss", "val_metric_epoch")) for k in figures)  # the curves: the run's
    assert parent.inputs is not None
    time_view = next(d.dataset for d in parent.inputs.dataset_inputs if d.dataset.name == "beats_time")
    assert json.loads(time_view.profile or "{}")["rows"] > 0 and "template" in (time_view.schema or "")


def _shown_rows(out: str) -> dict[str, str]:
    """`show`'s table rows by variant, a variant's rows of each table joined (the chosen one's line starts
    with '* ')."""
    lines, rows = out.splitlines(), dict[str, str]()
    for i, line in enumerate(lines):
        if line.startswith("-"):  # a header's rule: the table's rows follow it, to the blank line
            for row in lines[i + 1 : lines.index("", i)]:
                variant = row[2:].split()[0]
                rows[variant] = rows[variant] + row[2 + len(variant) :] if variant in rows else row
    return rows


def _shown_header(out: str) -> list[str]:
    """The columns of `show`'s tables, in order."""
    return [c for line in out.splitlines() if line.lstrip().startswith("variant") for c in line.split()]


def test_show_prints_the_latest_comparison_as_mlflow_holds_it(trained, capsys, tmp_path):
    result, home = trained
    candidate = result.output_for_node("beat_fusion_comparison")
    assert ecgnet_main(["show", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    rows = _shown_rows(out)
    assert set(rows) == set(VARIANTS)
    assert [v for v, row in rows.items() if row.startswith("* ")] == [candidate.variant]
    header = _shown_header(out)  # compact: what the choice read, then the test figures, as MLflow's description
    assert header.count("variant") == 2 and header.index("val_metric") < header.index(BEATS.metric_key)
    for column in ("params", "val_metric", BEATS.metric_key, "accuracy", "se_S", "pp_S", "se_V", "pp_V", "ece"):
        assert column in header, column
    assert "latency_ms" not in header  # what a side-by-side reading needs
    assert max(len(line) for line in out.splitlines() if line.lstrip().startswith("variant")) < 200
    parent = tracker(home).comparison_run("beats")
    assert parent.info.run_id == candidate.parent_run_id and f"comparison {candidate.parent_run_id}" in out
    tau = parent.data.metrics["kendall_tau_val_test"]
    assert f"Kendall tau {tau:+.2f}" in out
    assert f"champion now: ecgnet-beats-{candidate.variant} version {candidate.version}" in out
    assert "not compared, this run's test split is not their protocol" in out  # the sample's DS2 is not DS2
    assert f"{candidate.variant} on test, S: patient 232 holds 100% of the S rows" in out
    why = next(line for line in out.splitlines() if line.startswith("* chosen on validation alone:"))
    assert "best on validation" in why and "rule: parsimony" in why  # and why
    # the figures are the logged table's: the candidate's test headline as comparison.csv holds it
    logged = tracker(home).artifact_text(candidate.parent_run_id, "comparison.csv")
    assert logged is not None
    table = pl.read_csv(io.StringIO(logged), infer_schema_length=None)
    for column in (BEATS.metric_key, "accuracy", "se_S", "pp_V"):  # pp_V may be undefined: no V called
        figure = table.filter(pl.col("variant") == candidate.variant)[column][0]
        said = "undefined" if figure == "nan [nan, nan]" else figure  # as the verdict says it
        assert f"  {said}" in rows[candidate.variant], column
    assert Interval.parse(table.filter(pl.col("variant") == candidate.variant)[BEATS.metric_key][0]).value >= 0
    # every column with --wide, a run named by id, and clear errors
    assert ecgnet_main(["show", "--home", str(home), "--wide", "--run", candidate.parent_run_id]) == 0
    assert "latency_ms" in capsys.readouterr().out
    assert ecgnet_main(["show", "--home", str(home), "--run", "0" * 32]) == 2
    assert "no run" in capsys.readouterr().err
    assert ecgnet_main(["show", "--home", str(home), "--task", "af"]) == 2  # no af comparison in this workspace
    assert "no finished comparison of task af" in capsys.readouterr().err
    assert ecgnet_main(["show", "--home", str(tmp_path / "nowhere")]) == 2
    assert "fix:" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()
    # and predict: a mistyped --home is said, not made into an empty MLflow store
    assert ecgnet_main(["predict", str(MITDB / "100"), "--home", str(tmp_path / "nowhere")]) == 2
    assert "no workspace at" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()


def test_the_best_variant_on_validation_is_champion_and_predicts(trained, capsys, tmp_path):
    result, home = trained
    candidate = result.output_for_node("beat_fusion_comparison")
    assert isinstance(candidate, Candidate) and candidate.task == "beats"
    champion = tracker(home).current_champion("beats")
    assert champion is not None
    assert champion.name == f"ecgnet-beats-{candidate.variant}" and champion.version == candidate.version
    assert champion.val_metric == candidate.val.value  # every digit: the next gate compares with this number
    meta = {
        m.materialization.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    link = meta["beat_fusion_comparison"]["mlflow_ui"]
    assert isinstance(link, dg.UrlMetadataValue) and link.value.startswith("http://127.0.0.1:5000/#/experiments/")
    page = meta["beat_fusion_comparison"]["mlflow_comparison"]  # where the description is read
    assert isinstance(page, dg.UrlMetadataValue)
    # MLflow 3 opens a bare run link in its GenAI navigation: the link asks for model training's
    assert page.value.endswith(f"/runs/{candidate.parent_run_id}?workflowType=machine_learning")
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["check_quality_gate"] is True
    assert isinstance(meta["beat_fusion_comparison"]["modality_shares"], dg.MarkdownMetadataValue)
    # calibration in the catalog: every variant's diagram on the comparison, each model's own, its figure
    assert meta["beat_fusion_comparison"]["calibration_plot"].value.startswith("![calibration_plot](data:image/png")
    assert isinstance(meta["beat_time_model"]["reliability"], dg.MarkdownMetadataValue)
    assert "test_ece" in meta["beat_time_model"] and "test_ece_S" in meta["beat_time_model"]
    assert "232" in meta["beat_fusion_comparison"]["chosen_per_patient"].value  # the test patient, its S beats
    assert "232" not in meta["beat_fusion_comparison"]["chosen_val_per_patient"].value  # validation: DS1 only
    assert "S: patient 232 holds 100% of the S rows" in meta["beat_fusion_comparison"]["concentration"].value
    # the sample's DS2 records are not DS2: de Chazal's figures are named, not compared
    against = meta["beat_fusion_comparison"]["against_published"].value
    assert re.search(r"not their protocol \(it holds \d patients, their protocol 22\)", against), against
    # the asset says what MLflow's description and `show` say, in their words: one verdict, not two
    verdict = meta["beat_fusion_comparison"]["verdict"].value
    said = verdict_lines(comparison_summary(tracker(home), BEATS, candidate.parent_run_id), BEATS)
    assert verdict == "\n".join(f"- {line}" for line in said)
    assert f"chosen on validation alone: {candidate.variant}" in verdict
    assert re.search(r"not their protocol \(it holds \d patients, their protocol 22\)", verdict), verdict
    assert "attribution_time" in meta["beat_time_model"] and "attribution_time" not in meta["beat_frequency_model"]
    assert meta["beat_early_model"]["explainability"].value["share_time"] > 0
    reads = meta["beat_time_model"]["reads_most"].value  # by name, each class's line, as its MLflow page says
    assert reads.startswith("- ") and all(line.split(": ")[0][2:] in BEATS.classes for line in reads.splitlines())
    picture = tmp_path / "why.png"
    argv = ["predict", _record(home), "--home", str(home), "--rows", "3", "--explain", str(picture)]
    assert ecgnet_main([*argv, "--explain-rows", "5"]) == 0
    out = capsys.readouterr().out
    assert "scored by models:/ecgnet-beats-" in out and "predicted beats per class" in out
    assert "beat(s) scored" in out and f"drawn to {picture}; modality shares: time" in out
    for cls in ("S", "V"):  # what a Holter reader asks first: each ectopic class's burden, pairs and runs
        assert re.search(rf"^{cls}: (no beat predicted|\d+ beat\(s\), [\d.]+% of those scored; \d+ pair)", out, re.M)
    assert picture.read_bytes().startswith(b"\x89PNG")
    # the champion names what it packs (the pictures' labels; a served model's reader), as the views do
    from ecgnet.predict import load_champion
    from feature_store.workspace import Workspace

    names = load_champion(BEATS, Workspace(home)).names
    assert names.leads == ("MLII", "V1") and (names.of("frequency", "psd") or [""])[-1] == "50 Hz"
    assert {"rr_prev_norm", "MLII skewness", "V1 template_corr"} <= set(names.of("time", "scalars") or ())
    # a checkout whose time family computes beats otherwise than the code that made the champion's views:
    # refused once, before a folder is read, instead of scoring features the champion never learnt from
    from feature_store.views.families import FAMILIES

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FAMILIES["time"], "code_versions", {"beat": "999", "record": "999"})
        capsys.readouterr()
        assert ecgnet_main(["predict", str(MITDB), "--home", str(home)]) == 2
    said = capsys.readouterr()
    assert said.out == "" and said.err.count("error: view beats_time ") == 1 and "computes version 999" in said.err


def test_predict_reads_leads_by_name_whatever_their_order(trained, tmp_path, capsys):
    import numpy as np
    import polars as pl
    import wfdb

    from ecgnet.predict import predict
    from feature_store.workspace import Workspace
    from tests.records import rewrite_signal

    _, home = trained
    src = MITDB / "232"  # MLII, V1
    same = predict(rewrite_signal(src, tmp_path, "same", lambda s: None), BEATS, Workspace(home))
    from ecgnet.predict import draw_timeline  # the beats over time: heart rate and each class per minute

    draw_timeline(same, BEATS, tmp_path / "drawn" / "trend.png")
    assert (tmp_path / "drawn" / "trend.png").read_bytes().startswith(b"\x89PNG")
    swapped = predict(rewrite_signal(src, tmp_path, "swapped", lambda s: None, leads=[1, 0]), BEATS, Workspace(home))
    np.testing.assert_allclose(swapped.probs, same.probs, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="reads leads MLII"):
        predict(rewrite_signal(src, tmp_path, "one", lambda s: None, leads=[1]), BEATS, Workspace(home))
    # a folder: every record scored into one table, the one without MLII refused by name, the rest kept;
    # a broken PTB-XL table is reported as such, not read as a record
    (tmp_path / "ptbxl").mkdir()
    (tmp_path / "ptbxl" / "ptbxl_database.csv").write_text("ecg_id,patient_id\n1,2\n")
    out = tmp_path / "scores" / "beats.parquet"
    capsys.readouterr()
    ann = tmp_path / "wfdb"  # and each record's beats as WFDB annotations, where its .atr's would be
    argv = ["predict", str(tmp_path), "--home", str(home), "--out", str(out), "--annotations", str(ann)]
    report = tmp_path / "ec57.csv"  # and against each record's own .atr, EC57's way, with its report
    assert ecgnet_main([*argv, "--reference", "--report", str(report)]) == 1
    said = capsys.readouterr()
    compared = pl.read_csv(report)
    assert compared["record"].to_list() == [str(tmp_path / "same"), str(tmp_path / "swapped"), "gross", "average"]
    assert compared["reference_beats"][2] == compared["reference_beats"][:2].sum()  # gross: the records' counts summed
    assert "2 record(s) compared, with their gross sum and average, written to" in said.out
    assert "p_N" not in said.out and "\nid " not in said.out  # the rows go to the file, not the terminal
    assert f"{tmp_path / 'same'}: " in said.out and "predicted beats per class" in said.out
    assert f"error: {tmp_path / 'ptbxl' / 'ptbxl_database.csv'}: columns" in said.err
    assert "2 record(s) scored, 2 refused" in said.out
    table = pl.read_parquet(out)
    assert sorted(table["record"].unique().to_list()) == [str(tmp_path / "same"), str(tmp_path / "swapped")]
    assert sorted(p.name for p in ann.iterdir()) == ["same.ecgnet", "swapped.ecgnet"]
    assert f"annotation(s) written to {ann / 'same.ecgnet'} (WFDB, annotator ecgnet)" in said.out
    written = wfdb.rdann(str(ann / "same"), "ecgnet")
    rows = table.filter(pl.col("record") == str(tmp_path / "same"))
    assert written.sample.tolist() == rows["sample"].to_list() and written.symbol == rows["predicted"].to_list()
    from feature_store.sources.annotated import AAMI, read_beats

    ref_samples, symbols = read_beats(wfdb.rdann(str(tmp_path / "same"), "atr"))
    of_sample = dict(zip(ref_samples.tolist(), (AAMI[s] for s in symbols)))
    assert rows["reference"].to_list() == [of_sample[s] for s in rows["sample"].to_list()]  # its .atr's own beats
    line = re.search(
        rf"^against {re.escape(str(tmp_path / 'same'))}\.atr \(([\d,]+) reference beat\(s\): ", said.out, re.M
    )
    assert line is not None and int(line[1].replace(",", "")) == len(rows), said.out
    assert re.search(r"^against the references of 2 record\(s\), summed \(.*, S Se [\d.]+, S \+P", said.out, re.M)
    assert re.search(r"^against the references of 2 record\(s\), summed .*; V runs: (couplet|none)", said.out, re.M)
    beats = table.filter(pl.col("record") == str(tmp_path / "same"))
    np.testing.assert_allclose(beats.select("p_N", "p_S", "p_V", "p_F", "p_Q").to_numpy(), same.probs, rtol=1e-6)
    annotated = wfdb.rdann(str(tmp_path / "same"), "atr").sample
    assert set(beats["sample"].to_list()) <= set(annotated.tolist())  # the record's own sample index
    assert set(beats["predicted"].unique().to_list()) <= {"N", "S", "V", "F", "Q"}
    # dropouts (MLII blanked for 1.5 s twice): the beats around them are not scored, the others as clean:
    # V1 still shows the beats the .atr marks inside, so every interval is measured (with each interval
    # across a dropout unknown, beats within 9 beats of one moved by up to 0.38, 2026-12-07)
    spans = [(36_000, 36_540), (400_000, 400_540)]

    def blank(signal):
        for a, b in spans:
            signal[a:b, 0] = np.nan

    gapped_record = rewrite_signal(src, tmp_path / "gaps", "gapped", blank)
    gapped = predict(gapped_record, BEATS, Workspace(home))
    assert gapped.samples is not None and same.samples is not None and gapped.record_fs == 360.0
    kept = np.isin(same.samples, gapped.samples)
    assert 2 <= (~kept).sum() <= 12 and any("2 dropout(s) in MLII" in n for n in gapped.notes)
    # a spoiled beat takes only its own pick out of the record's median beat (1,000 of its beats): 0.0019 here
    # (0.0005 with the demo's champion); spread over the clear beats alone, 8 fewer shifted every pick: 0.027
    np.testing.assert_allclose(gapped.probs, same.probs[kept], atol=0.01)
    assert gapped.table()["time_s"].to_list() == (gapped.samples / 360.0).tolist()
    numbers = gapped.beat_numbers
    assert numbers is not None and gapped.table()["beat"].to_list() == numbers.tolist()  # with the dropouts' gaps
    # over ECGNET_MAX_RECORD_VALUES its beats are found, then scored, section by section against the whole
    # record's rhythm and median beat: the whole read's rows and probabilities, not a refusal
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ECGNET_MAX_RECORD_VALUES", "300000")
        sectioned = predict(gapped_record, BEATS, Workspace(home))
    assert sectioned.ids.tolist() == gapped.ids.tolist() and sectioned.flat is not None and len(sectioned.flat) <= 250
    assert gapped.beat_numbers is not None and sectioned.beat_numbers is not None
    assert sectioned.beat_numbers.tolist() == gapped.beat_numbers.tolist() != list(range(len(gapped.ids)))
    np.testing.assert_allclose(sectioned.probs, gapped.probs, rtol=0, atol=1e-6)
    assert sectioned.notes[0].endswith("read in 5 sections of 0:06:32 (h:mm:ss), one at a time")
    # explained on a sample of each predicted class drawn as the sections were scored (its inputs kept)
    from ecgnet.config import ExplainConfig
    from ecgnet.predict import explain_prediction

    expl = explain_prediction(sectioned, Workspace(home), tmp_path / "sections.png", ExplainConfig(rows_per_class=3))
    assert sectioned.flat_rows is not None and set(expl.rows) <= set(sectioned.flat_rows.tolist())
    predicted = sectioned.probs.argmax(axis=1)
    assert len(expl.rows) == sum(min(3, int((predicted == c).sum())) for c in np.unique(predicted))
    assert (tmp_path / "sections.png").read_bytes().startswith(b"\x89PNG")
    assert any("2 dropout(s)" in n or "beats touch a dropout in MLII" in n for n in sectioned.notes)


def test_a_record_exported_as_edf_is_scored_as_its_wfdb_original(trained, tmp_path, capsys):
    """MIT-BIH 232 written as EDF with its annotations, as a Holter exports a recording: its beats get the
    original's probabilities, read whole, in sections, and from the command line given the .edf itself."""
    import datetime as dt

    from ecgnet.predict import predict
    from feature_store.workspace import Workspace
    from tests.records import write_edf

    _, home = trained
    original = predict(MITDB / "232", BEATS, Workspace(home))
    began = dt.datetime(2026, 3, 14, 22, 5, 30)  # the file says when the recording began
    record = write_edf(MITDB / "232", tmp_path, "holter", atr=True, start=began)  # whole seconds: 0.56 s shorter
    edf = predict(record, BEATS, Workspace(home))
    assert edf.samples is not None and original.samples is not None
    assert edf.record_start == began and original.record_start is None  # MIT-BIH's header gives no start
    table = edf.table()
    assert table["clock"].to_list() == [began + dt.timedelta(seconds=float(t)) for t in table["time_s"]]
    assert "clock" not in original.table().columns
    kept = np.isin(original.samples, edf.samples)
    assert edf.samples.tolist() == original.samples[kept].tolist() and (~kept).sum() <= 2
    np.testing.assert_allclose(edf.probs, original.probs[kept], rtol=0, atol=2e-3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ECGNET_MAX_RECORD_VALUES", "300000")
        sectioned = predict(record, BEATS, Workspace(home))
    assert sectioned.notes[0].startswith("the record is over ECGNET_MAX_RECORD_VALUES: read in 5 sections")
    assert sectioned.ids.tolist() == edf.ids.tolist() and sectioned.record_start == began
    np.testing.assert_allclose(sectioned.probs, edf.probs, rtol=0, atol=1e-6)
    capsys.readouterr()
    assert ecgnet_main(["predict", f"{record}.edf", "--home", str(home)]) == 0
    said = capsys.readouterr().out
    assert f"{record}: " in said  # the longest run's time from the start, and the time of day:
    assert re.search(r"the longest \d+ beats at \d+ a minute from [\d:]+, 2026-03-1[45] ", said), said


def test_a_record_scored_at_its_detected_beats_is_read_against_a_reference_under_another_annotator(
    trained, tmp_path, capsys
):
    """MIT-BIH 209 with its reference moved to `.ref` (as a site keeps a cardiologist's annotations beside a
    device's): scored at the beats GQRS finds, then matched to the reference within 150 ms, EC57's way, every
    reference beat accounted for as matched, missed or not scored."""
    from tests.records import copy_record

    _, home = trained
    record = copy_record(MITDB / "209", tmp_path, "site209")
    Path(f"{record}.atr").rename(f"{record}.ref")
    out = tmp_path / "against.csv"
    argv = ["predict", str(record), "--home", str(home), "--rows", "0", "--reference", "ref", "--out", str(out)]
    assert ecgnet_main(argv) == 0
    said = capsys.readouterr().out
    assert "site209 has no .atr: its beats are the 3005 R peaks detected (GQRS) in MLII" in said, said
    line = re.search(
        r"^against .*site209\.ref \(([\d,]+) reference beat\(s\): ([\d,]+) matched within 150 ms, ([\d,]+) "
        r"missed, ([\d,]+) extra(?:, ([\d,]+) in stretches not scored \(left out\))?\): beats Se ([\d.]+), "
        r"beats \+P ([\d.]+), accuracy",
        said,
        re.M,
    )
    assert line is not None, said
    counts = [int((g or "0").replace(",", "")) for g in line.groups()[:5]]
    assert counts[0] == counts[1] + counts[2] and counts[0] + counts[4] == 3005  # 209's 3,005 beats, each once
    assert float(line[6]) > 0.99 and float(line[7]) > 0.99  # GQRS finds 209's beats, and little else
    table = pl.read_csv(out)
    assert table["reference"].null_count() == counts[3] and len(table) == counts[1] + counts[3]


def _record(home) -> str:
    """A record that was ingested (and so has stored features to compare with)."""
    return RawStore(home / "store").scan_records().select("path").collect()["path"][0]


def test_the_quality_gate_refuses_a_worse_candidate_than_the_registered_champion(trained):
    _, home = trained
    champion = tracker(home).current_champion("beats")
    assert champion is not None
    # read back from the registry's version tags, with the metric they are in
    assert champion.val_metric == champion.val_metric and champion.metric == BEATS.metric_key
    worse = Candidate(
        "beats",
        "time",
        "1",
        Interval(champion.val_metric - 0.2, champion.val_metric - 0.3, champion.val_metric - 0.1),
        "parent",
        BEATS.metric_key,
    )
    decision = gate(worse, 0.0, champion)
    assert not decision.passed and "champion" in decision.reasons[0]


def test_predict_without_a_champion_is_a_clear_error(tmp_path, capsys):
    assert ecgnet_main(["predict", str(_sample()), "--home", str(tmp_path), "--task", "records"]) == 2
    assert "no 'champion' model" in capsys.readouterr().err


def test_a_champion_registered_without_ecgnets_metadata_is_a_clear_error(tmp_path, capsys):
    """A model put in the registry by hand (no layout, classes or views) under the champion alias: `predict`
    names it and the fix before loading it (it read the missing metadata as a dict and crashed)."""
    import numpy as np
    import torch

    from ecgnet.tracking import CHAMPION, Tracker, model_name
    from feature_store.workspace import Workspace

    workspace = Workspace(tmp_path)
    registry = Tracker.for_workspace(workspace, validate_models=False)
    name = model_name("beats", "time")
    with registry.fluent(), mlflow.start_run(experiment_id=registry.experiment("beats")):
        info = mlflow.pytorch.log_model(
            torch.nn.Linear(2, 5),
            name="model",
            input_example=np.zeros((1, 2), np.float32),
            registered_model_name=name,
            pip_requirements=["torch==2.13.0"],
        )
    registry.client.set_registered_model_alias(name, CHAMPION, str(info.registered_model_version))
    assert ecgnet_main(["predict", str(_sample()), "--home", str(tmp_path), "--task", "beats"]) == 2
    assert "has no metadata (layout, classes, views); fix: retrain the champion with ecgnet" in capsys.readouterr().err


def _sample():
    return MITDB / "100"


@pytest.fixture(scope="module")
def records_trained(tmp_path_factory):
    """The records task (multi-label superclasses) on the 50 real twelve-lead Challenge records."""
    home = tmp_path_factory.mktemp("records_home")
    return materialize_all(home, [CINC], gate_minimum={"records": 0.0}), home


def test_the_records_task_trains_every_variant_in_dagster(records_trained, capsys):
    result, home = records_trained
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"record_fusion_comparison", "record_champion_model"} <= materialized
    assert "beat_training_data" not in materialized  # no annotated beats among these sources
    checked = {e.asset_key.to_user_string() for e in result.get_asset_check_evaluations()}
    assert "record_training_data" in checked and "beat_training_data" not in checked  # skipped: no check either
    with tracker(home).fluent():
        runs = mlflow.search_runs(experiment_names=["ecgnet-records"])
    parent = runs[runs["tags.ecgnet.role"] == "comparison"]
    children = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"].iloc[0]]
    assert len(children) == len(VARIANTS)
    for col in (
        "metrics.test_macro_auc",
        "metrics.test_macro_auc_lo",
        "metrics.test_macro_auc_hi",
        "metrics.val_metric",
        "params.view.records_spectrogram",
    ):
        assert children[col].notna().all(), col
    candidate = result.output_for_node("record_fusion_comparison")
    champion = tracker(home).current_champion("records")
    note = tracker(home).client.get_run(candidate.parent_run_id).data.tags[NOTE]  # multi-label: no focus classes
    assert note.startswith(f"### `{candidate.variant}` chosen on validation alone: `macro_auc` ")
    assert f"- `{candidate.variant}` on test: macro_auc " in note and "**Champion**" in note
    assert champion is not None and champion.name == f"ecgnet-records-{candidate.variant}"
    assert ecgnet_main(["predict", str(CINC / "HR06000"), "--home", str(home), "--task", "records"]) == 0
    assert "MLFLOW_TRACKING_URI" not in os.environ  # no workspace leaks into the next one
    out = capsys.readouterr().out
    assert "scored by models:/ecgnet-records-" in out and "NORM" in out
    assert ecgnet_main(["show", "--home", str(home), "--task", "records"]) == 0  # multi-label: no focus classes
    shown = _shown_rows(capsys.readouterr().out)
    assert set(shown) == set(VARIANTS) and shown[candidate.variant].startswith("* ")


def test_the_records_champion_scores_a_record_over_the_limit_from_the_first_section_with_a_clear_row(
    records_trained, tmp_path, monkeypatch, capsys
):
    """PTB Diagnostic's s0010_re with lead i off from 1 s to 25 s, over a 360,000 limit: `predict` looks for
    the row section by section, says so, stops at the first that holds it, and gives the whole read's
    probabilities; `--explain` draws it (one row: its inputs are kept)."""
    from tests.records import PTB, rewrite_signal

    _, home = records_trained

    def blank(signal):
        signal[1_000:25_000, 0] = np.nan

    record = rewrite_signal(PTB / "s0010_re", tmp_path, "late", blank)
    cli = ["predict", str(record), "--home", str(home), "--task", "records"]
    assert ecgnet_main([*cli, "--out", str(tmp_path / "whole.csv")]) == 0
    monkeypatch.setenv("ECGNET_MAX_RECORD_VALUES", "360000")
    drawn = tmp_path / "explained.png"
    assert ecgnet_main([*cli, "--out", str(tmp_path / "sections.csv"), "--explain", str(drawn)]) == 0
    out = capsys.readouterr().out
    assert "its row was looked for in sections of 0:00:10" in out
    assert "section 1 of 3 (0:00:00-0:00:10): no 10 s clear of dropouts start there: not scored" in out
    assert "and 1 more section(s) without one" in out and "from 25.10 s" in out and drawn.stat().st_size > 0
    whole, sections = pl.read_csv(tmp_path / "whole.csv"), pl.read_csv(tmp_path / "sections.csv")
    assert whole.drop("record").columns == sections.drop("record").columns and len(sections) == 1
    probs = [c for c in whole.columns if c.startswith("p_")]
    np.testing.assert_allclose(sections.select(probs).to_numpy(), whole.select(probs).to_numpy(), atol=1e-5)


def test_the_records_champion_is_read_against_the_diagnosis_each_record_states(records_trained, tmp_path, capsys):
    """The 50 Challenge records against their `# Dx:` lines, as the ingest lands them (what a site with its
    own labelled 12-lead records asks), one line each, summed, and the report; each row's stated classes."""
    from feature_store.sources.stated_labels import stated_labels

    _, home = records_trained
    report, out = tmp_path / "records.csv", tmp_path / "rows.csv"
    argv = ["predict", str(CINC), "--home", str(home), "--task", "records", "--rows", "0", "--reference"]
    assert ecgnet_main([*argv, "--report", str(report), "--out", str(out)]) in (0, 1)
    said = capsys.readouterr().out
    assert re.search(rf"^against {re.escape(str(CINC / 'HR06000'))}\.hea: stated NORM, called ", said, re.M), said
    summed = re.search(
        r"^against the references of (\d+) record\(s\), summed \((\d+) stated label\(s\).*macro-AUC", said, re.M
    )
    rows = pl.read_csv(out)
    assert summed is not None and int(summed[1]) == len(rows), said
    compared = pl.read_csv(report)
    assert compared["record"].to_list()[-2:] == ["gross", "average"] and len(compared) == len(rows) + 2
    assert compared["labels"][-2] == int(summed[2]) and compared["labels"][:-2].sum() == int(summed[2])
    stated = [stated_labels(Path(r))[0] for r in rows["record"].to_list()]  # in the task's class order
    assert rows["reference"].to_list() == [
        "+".join(c for c in RECORDS.classes if c in s) or "none of the classes" for s in stated
    ]


def test_the_records_inbox_is_scored_and_read_against_each_records_stated_diagnosis(records_trained, tmp_path):
    from pipelines.assets.scoring import build_scoring
    from pipelines.resources import EcgnetStore, ScoringSettings, resources
    from tests.records import copy_record

    _, home = records_trained
    inbox = tmp_path / "inbox"
    copy_record(CINC / "HR06000", inbox / "records")
    settings = resources(EcgnetStore(home=str(home)), scoring=ScoringSettings(inbox=str(inbox)))
    result = dg.materialize([build_scoring(RECORDS)], resources=settings)
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    scored = str(meta["scored"].value)
    assert meta["records_scored"].value == 1 and "HR06000.hea: stated NORM, called " in scored, scored


def test_a_small_val_split_borrows_train_patients_never_test(records_trained):
    _, home = records_trained
    features = FeatureStore(home / "store")
    stored = load_task_data(features, replace(RECORDS, splits=replace(RECORDS.splits, min_val_rows=0)))
    data = load_task_data(features, RECORDS)  # the sample's stored val split has 2 labelled records
    assert len(stored.val) < 20 < len(stored.val) + len(stored.train)
    assert len(data.val) > len(stored.val) and len(data.train) + len(data.val) == len(stored.train) + len(stored.val)
    assert set(stored.val.ids) <= set(data.val.ids)
    assert not set(data.train.groups) & set(data.val.groups)  # patients stay on one side
    assert data.test.ids.tolist() == stored.test.ids.tolist()  # test is never touched


class _Payload:
    """What a hostile model.pth would carry: unpickling it runs a command."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickled_file_planted_beside_the_champion_is_refused_not_run(trained, capsys, tmp_path):
    import torch

    _, home = trained
    argv = ["predict", _record(home), "--home", str(home), "--rows", "2"]
    assert ecgnet_main(argv) == 0
    untimed = lambda out: re.sub(r" in [0-9.]+ s$", "", out, flags=re.M)  # noqa: E731 - each run its own seconds
    before = untimed(capsys.readouterr().out)
    marker = tmp_path / "ran"
    planted = []
    for data in (home / "mlartifacts" / "ecgnet-beats").glob("models/*/artifacts/data"):
        torch.save(_Payload(marker), data / "model.pth")
        (data / "pickle_module_info.txt").write_text("pickle")
        planted += [data / "model.pth", data / "pickle_module_info.txt"]
    assert planted
    assert ecgnet_main(argv) == 2
    assert not marker.exists()  # refused before anything was unpickled
    assert "refused" in capsys.readouterr().err
    for file in planted:
        file.unlink()
    assert ecgnet_main(argv) == 0 and untimed(capsys.readouterr().out) == before  # the real model, as before
    assert "MLFLOW_ALLOW_PICKLE_DESERIALIZATION" not in os.environ  # restored for the rest of the process


def test_the_af_task_trains_and_compares_on_the_bundled_cinc_2017_records(tmp_path, capsys, monkeypatch):
    from feature_store.tasks import AF
    from feature_store.workspace import SAMPLE_DATA

    # every variant trains on records in the records task's test; here the singles and a late fusion
    af = replace(AF, variants=("time", "frequency", "spectrogram", "late_average"))
    # and MLflow serves each logged model its input example (MlflowTracking.validate_models, as the demo)
    result = materialize_all(tmp_path, [SAMPLE_DATA / "cinc2017"], [af], gate_minimum={"af": 0.0}, validate_models=True)
    assert result.success
    with tracker(tmp_path).fluent():
        runs = mlflow.search_runs(experiment_names=["ecgnet-af"])
    parent = runs[runs["tags.ecgnet.role"] == "comparison"]["run_id"].iloc[0]
    children = runs[runs["tags.mlflow.parentRunId"] == parent]
    assert set(children["tags.mlflow.runName"]) == set(af.variants)
    assert children["metrics.test_macro_f1"].notna().all() and children["metrics.val_metric"].notna().all()
    assert tracker(tmp_path).current_champion("af") is not None
    # a two-minute CPSC 2021 Holter excerpt is scored 30 s at a time, each window by its first sample
    out = tmp_path / "af.csv"
    argv = ["predict", str(SAMPLE_DATA / "cpsc2021" / "data_101_8"), "--task", "af", "--home", str(tmp_path)]
    assert ecgnet_main([*argv, "--out", str(out), "--annotations", str(tmp_path / "wfdb")]) == 0
    said = capsys.readouterr().out
    assert "data_101_8: 4 window(s) scored by models:/ecgnet-af-" in said and "predicted windows per class: N " in said
    assert "\nAF: " in said  # its episodes, or that no window reads AF
    table = pl.read_csv(out)
    assert table["sample"].to_list() == [0, 6000, 12000, 18000] and table["predicted"].is_in(list(AF.classes)).all()
    # its rhythm as WFDB annotations, from the first window's: a change `(AFIB`, or noise
    rhythm = wfdb.rdann(str(tmp_path / "wfdb" / "data_101_8"), "ecgnet")
    first = AF.annotation_codes[table["predicted"][0]]
    assert rhythm.fs == 200 and rhythm.sample[0] == 0 and set(rhythm.sample.tolist()) <= {0, 6000, 12000, 18000}
    assert (rhythm.aux_note[0] if rhythm.symbol[0] == "+" else rhythm.symbol[0]) == first
    # the folder against its annotated episodes: data_8_2 persistent AF, data_21_7 no AF, window by window
    folder = [*argv[:1], str(SAMPLE_DATA / "cpsc2021"), *argv[2:], "--rows", "0", "--reference"]
    assert ecgnet_main([*folder, "--out", str(tmp_path / "against.csv")]) == 0
    said = capsys.readouterr().out
    assert re.search(r"^against .*data_8_2\.atr \(7 window\(s\) of one reference rhythm\): accuracy", said, re.M), said
    assert re.search(r"^against the references of 5 record\(s\), summed \(16 window\(s\) .*AF Se", said, re.M), said
    # and its AF episode by episode, EC57's way: data_8_2's one episode of 3.5 min, found or not
    assert re.search(r"data_8_2\.atr .*; AF episodes: [01] of 1 found .*\(0:03:30 in the reference, ", said), said
    against = pl.read_csv(tmp_path / "against.csv")
    assert against.filter(pl.col("id").str.starts_with("data_8_2"))["reference"].to_list() == ["AF"] * 7
    assert against.filter(pl.col("id").str.starts_with("data_21_7"))["reference"].to_list() == ["N"] * 7
    # CinC 2017's records against their REFERENCE.csv lines, one row each: the Challenge's own reading
    cinc = [*argv[:1], str(SAMPLE_DATA / "cinc2017"), *argv[2:], "--rows", "0", "--reference"]
    assert ecgnet_main([*cinc, "--out", str(tmp_path / "cinc.csv")]) == 0
    said = capsys.readouterr().out
    table_line = f"against {SAMPLE_DATA / 'cinc2017' / 'REFERENCE.csv'} (A00001) (1 window(s) of one reference rhythm)"
    assert table_line in said, said
    summed = re.search(r"^against the references of 60 record\(s\), summed \((\d+) window\(s\) .*AF Se", said, re.M)
    labels = dict(line.split(",") for line in (SAMPLE_DATA / "cinc2017" / "REFERENCE.csv").read_text().split())
    rows = pl.read_csv(tmp_path / "cinc.csv")
    assert summed is not None and int(summed[1]) == len(rows), said  # a record over 60 s: two windows, one label
    from feature_store.sources.rhythm_labels import CINC2017_CODES

    assert rows["reference"].to_list() == [CINC2017_CODES[labels[Path(r).name]] for r in rows["record"].to_list()]
    # CinC 2017 kept in subfolders (A00/, A01/) under one REFERENCE.csv, as the ingest reads it: found above them
    from tests.records import copy_record

    kept = tmp_path / "training2017"
    for name, sub in (("A00001", "A00"), ("A00004", "A00"), ("A00005", "A01")):
        copy_record(SAMPLE_DATA / "cinc2017" / name, kept / sub)
    (kept / "REFERENCE.csv").write_text("".join(f"{n},{labels[n]}\n" for n in ("A00001", "A00004", "A00005")))
    assert ecgnet_main([*argv[:1], str(kept), *argv[2:], "--rows", "0", "--reference"]) == 0
    said = capsys.readouterr().out
    assert said.count(f"against {kept / 'REFERENCE.csv'} (A0000") == 3, said
    assert ecgnet_main([*argv[:1], str(kept / "A01" / "A00005"), *argv[2:], "--rows", "0", "--reference"]) == 0
    assert f"against {kept / 'REFERENCE.csv'} (A00005)" in capsys.readouterr().out  # one record: any folder above
    lone, report = copy_record(SAMPLE_DATA / "cinc2017" / "A00001", tmp_path / "lone"), tmp_path / "lone.csv"
    assert ecgnet_main([*argv[:1], str(lone), *argv[2:], "--rows", "0", "--reference", "--report", str(report)]) == 0
    said = capsys.readouterr().out  # scored all the same, its missing reference said, no empty report written
    assert "A00001.atr: no reference annotations" in said and not report.exists()
    assert f"note: no record was compared with a reference, so {report} was not written" in said
    picture = tmp_path / "rhythm.png"
    assert ecgnet_main([*argv, "--rows", "0", "--timeline", str(picture)]) == 0
    assert f"rhythm over 4 windows drawn to {picture}" in capsys.readouterr().out
    assert picture.read_bytes().startswith(b"\x89PNG")
    against = tmp_path / "rhythm-against.png"  # and its reference rhythm in a strip under the predicted one
    assert ecgnet_main([*argv, "--rows", "0", "--timeline", str(against), "--reference"]) == 0
    said = capsys.readouterr().out
    assert f"rhythm over 4 windows drawn to {against}" in said and "AF episodes: " in said
    assert against.read_bytes().startswith(b"\x89PNG") and against.read_bytes() != picture.read_bytes()
    short = [*argv[:1], str(SAMPLE_DATA / "cinc2017" / "A00001"), *argv[2:], "--timeline", str(tmp_path / "no.png")]
    assert ecgnet_main(short) == 2  # 30 s: one row, refused by name, nothing drawn
    assert "A00001: one row of 30 s, nothing over time; fix:" in capsys.readouterr().err
    assert not (tmp_path / "no.png").exists()
    # a record over ECGNET_MAX_RECORD_VALUES (MIT-BIH 100 under a 300,000 limit) is read in sections: the
    # windows and probabilities of a whole read; --explain reads the sample of each predicted class kept
    tables, mitdb = [], [*argv[:1], str(SAMPLE_DATA / "mitdb" / "100"), *argv[2:], "--rows", "0"]
    for limit in (None, "300000"):
        if limit:
            monkeypatch.setenv("ECGNET_MAX_RECORD_VALUES", limit)
        assert ecgnet_main([*mitdb, "--out", str(tmp_path / f"{limit}.csv")]) == 0
        tables.append(pl.read_csv(tmp_path / f"{limit}.csv"))
    assert "read in 10 sections of 0:03:00 (h:mm:ss), one at a time" in capsys.readouterr().out
    whole, sections = tables
    assert sections["id"].to_list() == whole["id"].to_list() and len(whole) == 60
    probs = [f"p_{c}" for c in AF.classes]
    np.testing.assert_allclose(sections.select(probs).to_numpy(), whole.select(probs).to_numpy(), atol=1e-5)
    assert ecgnet_main([*mitdb, "--explain", str(tmp_path / "why.png"), "--explain-rows", "2"]) == 0
    said = capsys.readouterr().out
    assert f"window(s) drawn to {tmp_path / 'why.png'}; modality shares:" in said
    assert (tmp_path / "why.png").read_bytes().startswith(b"\x89PNG")


def test_the_champion_scores_what_lands_in_its_inbox_once_and_the_sensor_starts_it(trained, tmp_path):
    """A beats inbox with MIT-BIH 232 (its .atr beside it) in a subfolder and a record without its signal
    file: the scoring asset writes 232's rows and WFDB annotations, says how they agree with its .atr, refuses
    the broken record by name, and scores nothing again until a file changes; the inbox sensor asks for the
    task whose folder changed, or whose champion moved in MLflow. A task whose inbox is empty needs no champion."""
    from feature_store.tasks import AF
    from feature_store.workspace import Workspace
    from pipelines.assets.scoring import build_scoring
    from pipelines.resources import EcgnetStore, ScoringSettings, resources
    from pipelines.sensors import build_inbox_sensor
    from tests.records import copy_record

    _, home = trained
    inbox = tmp_path / "inbox"
    record = copy_record(MITDB / "232", inbox / "beats" / "ward")
    broken = copy_record(MITDB / "220", inbox / "beats")
    Path(f"{broken}.dat").unlink()
    settings = resources(EcgnetStore(home=str(home)), scoring=ScoringSettings(inbox=str(inbox)))

    def score(spec=BEATS) -> dict:
        result = dg.materialize([build_scoring(spec)], resources=settings)
        meta = result.get_asset_materialization_events()[0].materialization.metadata
        (check,) = result.get_asset_check_evaluations()  # check_inbox_readable: a warning per refused record
        return {k: getattr(v, "value", v) for k, v in meta.items()} | {"readable": check.passed}

    sensor = build_inbox_sensor([BEATS, AF])
    instance = dg.DagsterInstance.ephemeral()
    with dg.build_sensor_context(resources=settings, instance=instance) as context:
        first = sensor(context)
    assert isinstance(first, dg.SensorResult) and first.run_requests is not None and len(first.run_requests) == 1
    assert first.run_requests[0].asset_selection == [dg.AssetKey("beat_inbox_predictions")]  # af's inbox is empty
    meta = score()
    assert (meta["records_scored"], meta["records_unchanged"], meta["records_refused"]) == (1, 0, 1)
    assert "220.dat" in meta["refused"] and "ward/232 | " in meta["scored"] and "against " in meta["scored"]
    assert meta["readable"] is False and meta["timeline"].startswith("![timeline](data:image/png")
    out = Workspace(home).predictions / "beats" / "ward"
    assert (out / "232.png").read_bytes().startswith(b"\x89PNG")  # its heart rate and ectopic beats over time
    rows = pl.read_parquet(out / "232.parquet")
    annotations = wfdb.rdann(str(out / "232"), "ecgnet")
    assert annotations.sample.tolist() == rows["sample"].to_list() and annotations.symbol == rows["predicted"].to_list()
    assert rows["reference"].null_count() == 0  # each beat matched to its .atr's
    with pytest.MonkeyPatch.context() as patch:  # nothing new: the registry says who is champion, no model loads

        def loaded(*args: object) -> None:
            raise AssertionError("the champion was loaded for an unchanged inbox")

        patch.setattr("ecgnet.predict.load_champion", loaded)
        again = score()
    assert (again["records_scored"], again["records_unchanged"], again["records_refused"]) == (0, 1, 1)
    assert again["readable"] is False and "220.dat" in again["refused"]  # the broken record said again, not re-read
    # the inbox's records with a reference summed, those scored before too: as `predict --reference` sums a folder
    for run in (meta, again):
        assert run["records_compared"] == 1, run
        assert run["against_references"].startswith("against the references of 1 record(s), summed (")
    compared = pl.read_parquet(run["reference_report"])
    assert compared["record"].to_list() == [str(record), "gross", "average"] and compared["missed"][0] == 0
    holder = tracker(home).current_champion("beats")  # and on the champion's registered version in MLflow
    assert holder is not None
    tags = tracker(home).client.get_model_version(holder.name, holder.version).tags
    assert tags[INBOX_COMPARED] == "1" and tags[INBOX_AGAINST] == run["against_references"]
    assert again["champion"].startswith("ecgnet-beats-") and " v" in again["champion"]
    os.utime(f"{record}.atr", ns=(1, 1))  # a file of the record changed: scored anew
    assert score()["records_scored"] == 1
    with dg.build_sensor_context(resources=settings, instance=instance, cursor=first.cursor) as context:
        changed = sensor(context)  # the sensor saw it too
    assert isinstance(changed, dg.SensorResult) and len(changed.run_requests or []) == 1
    with dg.build_sensor_context(resources=settings, instance=instance, cursor=changed.cursor) as context:
        still = sensor(context)
    assert isinstance(still, dg.SensorResult) and not still.run_requests and still.skip_reason is not None
    # the champion moved by hand in MLflow (no retrain, no asset materialized): the inbox is scored again by
    # the model that now holds the alias; af's inbox is empty
    registry = tracker(home)
    held = registry.current_champion("beats")
    assert held is not None
    other = next(v for v in VARIANTS if model_name("beats", v) != held.name)
    registry.set_champion("beats", other, "1")
    try:
        with dg.build_sensor_context(resources=settings, instance=instance, cursor=still.cursor) as context:
            crowned = sensor(context)
    finally:
        registry.client.set_registered_model_alias(held.name, CHAMPION, held.version)  # the fixture's again
        registry.client.delete_registered_model_alias(model_name("beats", other), CHAMPION)
    assert isinstance(crowned, dg.SensorResult) and crowned.run_requests is not None
    assert [r.asset_selection for r in crowned.run_requests] == [[dg.AssetKey("beat_inbox_predictions")]]
    assert json.loads(crowned.cursor or "{}")["beats"]["champion"] == f"{model_name('beats', other)} v1"
    empty = score(AF)  # nothing in af's inbox: done without looking for a champion
    assert empty["records_scored"] == 0 and empty["readable"] is True
