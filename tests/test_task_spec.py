"""A task is one spec: a toy task defined here alone runs through features and training in Dagster."""

from dataclasses import replace

import dagster as dg
import mlflow
import polars as pl
import pyarrow.parquet as pq
import pytest

import feature_store.tasks
from ecgnet.evaluate import METRICS
from ecgnet.variants import VARIANTS, task_variants
from feature_store.raw_store import RawStore
from feature_store.tasks import BEATS, TASKS, BeatWindows, Splits, TaskSpec
from feature_store.views.inputs import KEYS
from feature_store.views.store import FeatureStore
from pipelines.definitions import build_assets
from pipelines.demo import comparison_lines
from pipelines.split_classes import CHECK
from tests.runs import materialize_all, tracker

pytestmark = pytest.mark.heavy

# N against V on the bundled MIT-BIH beats: every other beat is left out of its views (and counted).
TOY = TaskSpec(
    name="nv",
    asset_prefix="nv",
    window=BeatWindows(),
    source_kinds=("annotated",),
    classes=("N", "V"),
    multilabel=False,
    splits=Splits(train=("DS1",), val=(), test=("DS2",)),
    metric="macro_f1",
    gate_min=0.0,
    focus_classes=("V",),
    variants=("late_stacker", "time", "frequency", "spectrogram"),  # any order; trained in registry order
)


@pytest.fixture(scope="module")
def toy(beat_world, tmp_path_factory):
    home = tmp_path_factory.mktemp("toy_home")
    # with patient-grouped cross-validation: DS1 here is two patients, so two folds of one each
    return materialize_all(home, [beat_world["src"]], specs=[TOY], folds=2), home


def test_a_toy_task_runs_through_features_training_and_promotion(toy):
    result, home = toy
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {
        "nv_time_features",
        "nv_training_data",
        "nv_late_stacker_model",
        "nv_fusion_comparison",
        "nv_champion_model",
    } <= materialized
    assert not any(name.startswith(("beat_", "record_")) for name in materialized)  # only the given task
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert (
        checks[("nv_time_features", "check_rows_match_raw")] and checks[("nv_fusion_comparison", "check_quality_gate")]
    )
    champion = tracker(home).current_champion("nv")
    assert champion is not None and champion.name.startswith("ecgnet-nv-")
    # DS2 here is 232 alone, which holds no V beat: a warning on the training data, and the run goes on
    (split_classes,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "check_classes_in_every_split"
    ]
    assert not split_classes.passed and split_classes.severity == dg.AssetCheckSeverity.WARN
    (data_event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "nv_training_data"
    ]
    table = split_classes.metadata["classes_per_split"].value  # the counts it read, as the asset shows them
    assert table == data_event.materialization.metadata["classes_per_split"].value and "| V |" in table
    assert (split_classes.description or "").startswith("test holds no V rows: undefined on test: se_V, pp_V; fix:")
    # evaluated by the training data step itself, from the split it has just made: no step of its own
    steps = {e.step_key for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert "nv_training_data" in steps and not any("check_classes" in (s or "") for s in steps)
    # and `make demo`'s summary lists it as a warning, not as a failure that stopped something
    from pipelines.demo import failed_checks

    assert any(
        str(check).startswith("(warning) nv_training_data:check_classes_in_every_split: test holds no V rows")
        for check in failed_checks(result)
    )


def test_the_training_data_and_its_classes_check_run_apart(toy, beat_world):
    """Materialized without its check (a selection that leaves it out), and the check executed alone (the
    UI's Execute): it then reads the latest materialization's split, splitting and logging nothing anew."""
    _, home = toy
    instance = dg.DagsterInstance.ephemeral()
    check = dg.AssetCheckKey(dg.AssetKey("nv_training_data"), CHECK)

    def run(selection: dg.AssetSelection) -> dg.ExecuteInProcessResult:
        return materialize_all(home, [beat_world["src"]], [TOY], instance, folds=2, selection=selection)

    with pytest.raises(dg.Failure, match="has none; fix: materialize nv_training_data"):
        run(dg.AssetSelection.checks(check))  # nothing materialized in this instance yet
    data = run(dg.AssetSelection.assets("nv_training_data").without_checks())
    assert data.success and not data.get_asset_check_evaluations()
    (materialization,) = data.get_asset_materialization_events()
    assert materialization.asset_key == dg.AssetKey("nv_training_data")
    with tracker(home).fluent():
        comparisons = len(mlflow.search_runs(experiment_names=["ecgnet-nv"]))
    alone = run(dg.AssetSelection.checks(check))
    (evaluation,) = alone.get_asset_check_evaluations()
    assert alone.success and not alone.get_asset_materialization_events() and not evaluation.passed
    table = materialization.materialization.metadata["classes_per_split"].value
    assert evaluation.metadata["classes_per_split"].value == table
    with tracker(home).fluent():
        assert len(mlflow.search_runs(experiment_names=["ecgnet-nv"])) == comparisons
    split = home / "training" / str(materialization.materialization.metadata["mlflow_parent_run"].value) / "data"
    split.rename(split.with_name("data-moved"))  # a workspace cleaned by hand
    try:
        with pytest.raises(dg.Failure, match=r"data, is gone; fix: materialize nv_training_data"):
            run(dg.AssetSelection.checks(check))
    finally:
        split.with_name("data-moved").rename(split)


def test_a_view_part_changed_by_hand_fails_its_check_which_names_the_fix_that_mends_it(toy, beat_world):
    """The view checks run alone (a run that selects only them); check_schema then says in its row which
    shard is off and what to do, and doing it works: materializing the view again finds the part's bytes
    changed and computes the same version anew."""
    _, home = toy
    instance = dg.DagsterInstance.ephemeral()

    def run(selection: dg.AssetSelection) -> dg.ExecuteInProcessResult:
        return materialize_all(
            home, [beat_world["src"]], [TOY], instance, folds=2, selection=selection, raise_on_error=False
        )

    # a run of the checks alone has no partition, whatever its tags: it checks every shard
    alone = run(dg.AssetSelection.checks_for_assets("annotated_beats", "nv_time_features"))
    assert alone.success and len(alone.get_asset_check_evaluations()) == 6
    assert all(e.passed for e in alone.get_asset_check_evaluations())
    parts = sorted((home / "store" / "features").glob("nv_time/*/*/*.parquet"))
    part = next(p for p in parts if pq.read_metadata(p).num_rows)  # a shard with beats
    shard, version = part.parent.parent.name, part.parent.name
    table = pq.read_table(part)
    column = next(c for c in table.column_names if c not in KEYS)  # a feature column
    pq.write_table(table.drop_columns([column]), part)  # a part edited outside the pipeline
    checked = run(dg.AssetSelection.checks_for_assets("nv_time_features"))
    schema = {e.check_name: e for e in checked.get_asset_check_evaluations()}["check_schema"]
    assert not schema.passed and not checked.get_asset_materialization_events()
    assert schema.description == (
        f"nv_time_features's parts in shard {shard} differ from its catalog entry ({part.name}: feature column "
        f"{column!r} missing); fix: materialize nv_time_features again for shard {shard}, which computes the "
        "changed parts anew"
    )
    mended = run(dg.AssetSelection.assets("nv_time_features"))
    assert mended.success and all(e.passed for e in mended.get_asset_check_evaluations())
    assert column in pq.read_schema(part).names and part.parent.name == version  # the same version, whole again


def test_the_toy_views_hold_only_its_classes_and_count_the_rest(toy):
    _, home = toy
    features = FeatureStore(home / "store")
    entry = features.entry("nv_time")
    labels = features.scan("nv_time").select(pl.col("labels").list.first()).collect().to_series()
    assert set(labels) == {"N", "V"} and entry.lineage.excluded["other_class"] > 0
    all_beats = RawStore(home / "store").scan_beats().select(pl.len()).collect().item()
    assert entry.rows + entry.excluded_rows == all_beats


def test_the_toy_comparison_reports_its_own_classes(toy):
    result, home = toy
    with tracker(home).fluent():
        runs = mlflow.search_runs(experiment_names=["ecgnet-nv"])
    children = runs[runs["tags.ecgnet.role"] == "variant"]
    assert sorted(children["tags.mlflow.runName"]) == sorted(TOY.variants)  # its own variants, no others
    assert children["metrics.test_f1_N"].notna().all()
    assert not [c for c in children.columns if c.endswith(("_S", "_F", "_Q"))]  # no beats task classes
    meta = {
        m.materialization.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    header = meta["nv_fusion_comparison"]["comparison"].value.splitlines()[0]
    assert "| se_V | pp_V |" in header and "se_S" not in header and "| cv_mean_sd |" in header
    # the demo prints two narrow tables, what the choice read and then test's, not the one with every column
    headers = [line for line in "\n".join(comparison_lines(result)).splitlines() if line.startswith("| variant |")]
    assert len(headers) == 2 and header not in headers
    assert "| cv_mean_sd |" in headers[0] and "se_V" not in headers[0]
    assert "| se_V | pp_V |" in headers[1] and "cv_mean_sd" not in headers[1] and "| ece |" in headers[1]
    parent = runs[runs["tags.ecgnet.role"] == "comparison"]
    assert parent["params.folds"].iloc[0] == "2" and parent["params.variants"].iloc[0] == ",".join(task_variants(TOY))
    assert parent["params.one_seed"].iloc[0] == "none"  # no variant kept at one seed: said, not an empty cell
    # every setting its own column, nested ones too, so the runs table sorts and compares by each
    assert parent["params.model.boosting.rounds"].iloc[0] == "300" and "params.model.boosting" not in parent
    assert "params.model.boosting.rounds" in children and "params.fitted.offsets" not in children
    singles = children[children["tags.ecgnet.kind"] == "single"]
    assert len(singles) == 3 and singles["metrics.cv_metric_sd"].notna().all()


def test_the_catalog_says_a_task_s_split_rule_in_words():
    assert BEATS.splits.described == (
        "train from DS1 or train; validation from val, or a seeded 25% of the train patients where that holds "
        "under 20 rows; test from DS2 or test"
    )
    assert TOY.splits.described == "train from DS1; validation from a seeded 25% of the train patients; test from DS2"
    assets, checks = build_assets([TOY])
    (data,) = [a for a in assets if dg.AssetKey("nv_training_data") in a.keys]
    assert "split by patient (train from DS1; validation from a seeded" in data.descriptions_by_key[data.key]
    # and every check says what it guards on its page
    assert all(spec.description for c in [*assets, *checks] for spec in c.check_specs)


def test_a_spec_is_checked_when_it_is_made():
    with pytest.raises(ValueError, match="metric 'accuracy'"):
        replace(TOY, metric="accuracy")
    with pytest.raises(ValueError, match="focus classes"):
        replace(TOY, focus_classes=("S",))
    assert TASKS["beats"] is BEATS
    assert set(METRICS) == set(feature_store.tasks.METRICS)  # every name a spec may use resolves


def test_a_task_trains_the_variants_it_names_and_what_they_are_made_of():
    assert task_variants(BEATS) == tuple(VARIANTS)  # no list: every variant
    assert task_variants(TOY) == ("time", "frequency", "spectrogram", "late_stacker")  # dependency order
    with pytest.raises(ValueError, match=r"variants \['tiny'\] are not among"):
        task_variants(replace(TOY, variants=("time", "tiny")))
    with pytest.raises(ValueError, match=r"fix: add \['frequency', 'spectrogram'\] to the task's variants"):
        task_variants(replace(TOY, variants=("time", "intermediate_gated")))
    with pytest.raises(ValueError, match=r"fix: add \['intermediate_concat'"):
        task_variants(replace(BEATS, variants=tuple(v for v in VARIANTS if v != "intermediate_concat")))
    assets, _ = build_assets([TOY])
    keys = {k.to_user_string() for a in assets for k in a.keys}
    assert {k for k in keys if k.endswith("_model")} == {f"nv_{v}_model" for v in TOY.variants} | {"nv_champion_model"}
    comparison = next(a for a in assets if "nv_fusion_comparison" in {k.to_user_string() for k in a.keys})
    upstream = {k.to_user_string() for k in comparison.dependency_keys}
    assert upstream == {"nv_training_data", *(f"nv_{v}_model" for v in TOY.variants)}


def test_show_reads_a_cross_validated_comparison_with_its_folds(toy):
    """`python -m ecgnet show` on a comparison with two folds: the settings line names them, and the
    compact table carries the held-out-fold mean and spread that only cross-validation writes."""
    from ecgnet.show import comparison_summary, render

    _, home = toy
    summary = comparison_summary(tracker(home), TOY)
    assert "folds 2" in summary.settings
    assert summary.candidate in TOY.variants
    text = render(summary, TOY)
    header = [c for line in text.splitlines() if line.lstrip().startswith("variant") for c in line.split()]
    assert "cv_mean_sd" in header and "se_V" in header
    cv = dict(zip(summary.table["variant"], summary.table["cv_mean_sd"]))
    assert "±" in cv["time"]  # a fold mean and its spread, as the comparison logged it
    assert [line[2:].split()[0] for line in text.splitlines() if line.startswith("* ")][0] == summary.candidate
