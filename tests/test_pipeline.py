"""The Dagster layer on a real (ephemeral) instance: assets, checks, metadata, sensor, demo."""

import dataclasses
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg
import pytest
import yaml

from ecgnet.interval import Interval
from ecgnet.promotion import Candidate
from ecgnet.train import native_bf16
from ecgnet.variants import VARIANTS
from feature_store.raw_store import BEAT_SCHEMA, COLUMN_NOTES, QUARANTINE_SCHEMA, RECORD_SCHEMA, SCHEMA_VERSION
from feature_store.sources.registry import folder_state
from feature_store.tasks import BEATS, TASKS
from feature_store.views.inputs import KEY_NOTES, KEYS
from feature_store.views.store import definition_version
from feature_store.workspace import PROJECT_ROOT
from feature_store.writer import holder
from pipelines.assets.features import build_feature_assets
from pipelines.assets.ingest import ingest_assets
from pipelines.backfill import submit, wait
from pipelines.checks import build_feature_checks, build_quality_gate, ingest_checks
from pipelines.definitions import defs
from pipelines.demo import (
    EXIT_CHECK_FAILED,
    EXIT_CRASHED,
    disk_full,
    disk_full_line,
    exit_status,
    failed_checks,
    never_materialized,
    selected_groups,
    slowest_steps,
    step_errors,
)
from pipelines.partitions import SHARD_KEYS, every_shard_tags
from pipelines.resources import EcgnetStore, FeatureSettings, IngestSettings, MlflowTracking, TrainingSettings
from pipelines.sensors import new_records_sensor
from tests.records import CINC, CINC2017, MITDB, copy_record, edit_header

pytestmark = pytest.mark.heavy


@pytest.fixture
def sources(tmp_path):
    src = tmp_path / "src"
    for name in ("HR06000", "HR06001", "E07500"):
        copy_record(CINC / name, src / "cinc")
    cut = copy_record(CINC / "HR06003", src / "cinc", "cut").with_name("cut.mat")  # an interrupted download
    cut.write_bytes(cut.read_bytes()[:5000])
    copy_record(MITDB / "232", src / "mitdb")  # DS2
    copy_record(MITDB / "209", src / "mitdb")  # DS1: feature statistics are fitted on it
    copy_record(CINC2017 / "A00001", src / "plain")  # plain WFDB: no labels beside it
    return src


def _resources(tmp_path, src, **settings):
    return {
        "store": EcgnetStore(home=str(tmp_path / "home")),
        "ingest": IngestSettings(sources=[str(src)], **settings),
        "features": FeatureSettings(backend="numpy"),
    }


def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def _checks(result):
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def _number(meta: Mapping[str, dg.MetadataValue], key: str) -> float:
    """A number in metadata, asserted to be one: `MetadataValue.value` is typed as anything metadata holds."""
    value = meta[key].value
    assert isinstance(value, int | float), (key, value)
    return value


def _text(meta: Mapping[str, dg.MetadataValue], key: str) -> str:
    """Text in metadata, asserted to be text (as `_number`)."""
    value = meta[key].value
    assert isinstance(value, str), (key, value)
    return value


def _columns(value: object) -> list[dg.TableColumn]:
    """A table schema's columns: as an asset's definition holds it, or as a materialization's metadata does."""
    schema = value.schema if isinstance(value, dg.TableSchemaMetadataValue) else value
    assert isinstance(schema, dg.TableSchema), value
    return list(schema.columns)


def _events(result: dg.ExecuteInProcessResult, asset: str) -> list[dg.AssetMaterialization]:
    """Every materialization of `asset` in the run, one per partition for a partitioned asset."""
    events = result.get_asset_materialization_events()
    return [e.materialization for e in events if e.asset_key and e.asset_key.to_user_string() == asset]


def _requested(evaluation: object) -> tuple[Sequence[dg.RunRequest], str | None]:
    """The run requests and the new cursor of a sensor evaluation that requests runs."""
    assert isinstance(evaluation, dg.SensorResult) and evaluation.run_requests is not None, evaluation
    return evaluation.run_requests, evaluation.cursor


def _skipped(evaluation: object) -> str:
    """Why a sensor evaluation that skips skipped."""
    assert isinstance(evaluation, dg.SkipReason) and evaluation.skip_message is not None, evaluation
    return evaluation.skip_message


def _run(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    run = instance.get_run_by_id(run_id)
    assert run is not None, f"no run {run_id}"
    return run


def test_definitions_load_with_the_ingest_feature_and_training_groups():
    graph = defs.resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    assert groups["ingest"] == {"ptbxl_records", "challenge_records", "annotated_beats", "wfdb_records"}
    assert groups["features"] == {
        f"{t}_{f}_features" for t in ("beat", "record", "af") for f in ("time", "spectral", "spectrogram")
    } | {f"{t}_train_stats" for t in ("beat", "record", "af")}
    upstream = graph.get(dg.AssetKey("record_spectral_features")).parent_keys
    raw = {dg.AssetKey("ptbxl_records"), dg.AssetKey("challenge_records")}
    assert upstream == raw | {dg.AssetKey("record_train_stats")}
    assert graph.get(dg.AssetKey("record_train_stats")).parent_keys == raw
    # ingest and views are partitioned by shard; statistics and training read every shard
    for name in ("annotated_beats", "beat_time_features"):
        partitions = graph.get(dg.AssetKey(name)).partitions_def
        assert partitions is not None and partitions.get_partition_keys() == SHARD_KEYS
    for name in ("beat_train_stats", "beat_training_data"):
        assert graph.get(dg.AssetKey(name)).partitions_def is None
    assert {
        "beat_fusion_comparison",
        "beat_champion_model",
        "record_fusion_comparison",
        "record_champion_model",
    } <= groups["training"] and len(groups["training"]) == 3 * (len(VARIANTS) + 3)  # data, comparison, champion
    comparison = graph.get(dg.AssetKey("beat_fusion_comparison")).parent_keys  # results arrive as inputs
    assert comparison == {dg.AssetKey("beat_training_data"), *(dg.AssetKey(f"beat_{v}_model") for v in VARIANTS)}
    assert graph.get(dg.AssetKey("beat_classical_model")).parent_keys == {dg.AssetKey("beat_training_data")}
    for prefix in ("beat", "record"):
        late = graph.get(dg.AssetKey(f"{prefix}_late_stacker_model")).parent_keys
        assert {dg.AssetKey(f"{prefix}_{m}_model") for m in ("time", "frequency", "spectrogram")} <= late
    shown = ("beat_time_model", "beat_classical_trees_model", "beat_fusion_comparison")
    kinds = {k: defs.resolve_assets_def(k).specs_by_key[dg.AssetKey(k)].kinds for k in shown}
    assert kinds == {
        "beat_time_model": {"pytorch", "mlflow"},
        "beat_classical_trees_model": {"scikitlearn", "mlflow"},
        "beat_fusion_comparison": {"mlflow"},
    }  # the technologies the UI shows on each asset
    where = defs.resolve_assets_def("beat_time_model").specs_by_key[dg.AssetKey("beat_time_model")].metadata
    assert "training.py" in str(where["dagster/code_references"])  # "open in editor" finds its factory
    trainer = defs.resolve_assets_def("beat_late_stacker_model").op.tags
    assert trainer.get("ecgnet/trainer") == "torch"  # one model trains at a time in a run
    assert defs.resolve_job_def("retrain").executor_def.name == "in_process"  # shards parallelise, as runs
    assert graph.get(dg.AssetKey("record_training_data")).parent_keys == {
        dg.AssetKey(f"record_{f}_features") for f in ("time", "spectral", "spectrogram")
    }
    assert new_records_sensor.job_name == "refresh"  # new records reach the feature views, not the models
    for job in ("ingest", "features", "refresh", "retrain", "ecgnet"):
        assert defs.resolve_job_def(job)
    schedule = defs.resolve_schedule_def("weekly_retrain")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert defs.resolve_sensor_def("new_records_sensor")


def _spec(name: str) -> dg.AssetSpec:
    return defs.resolve_assets_def(name).specs_by_key[dg.AssetKey(name)]


def test_the_catalog_shows_columns_code_versions_and_the_retraining_promise():
    # the Columns tab of each ingest asset: every stored column, with what it means
    beats, records = _spec("annotated_beats").metadata, _spec("challenge_records").metadata
    assert [c.name for c in _columns(beats["dagster/column_schema"])] == BEAT_SCHEMA.names
    assert [c.name for c in _columns(beats["records_table"])] == RECORD_SCHEMA.names
    assert [c.name for c in _columns(records["dagster/column_schema"])] == RECORD_SCHEMA.names
    signal = next(c for c in _columns(beats["dagster/column_schema"]) if c.name == "signal")
    assert signal.type == "list<list<float>>" and "mV" in (signal.description or "")
    # a view's code version is its definition: the task's parameters and the family's code
    time, spectral = _spec("beat_time_features").code_version, _spec("beat_spectral_features").code_version
    assert time and spectral and time != spectral and time == definition_version(TASKS["beats"], "time")
    wider = dataclasses.replace(TASKS["beats"].view_params["time"], rr_context_beats=4)
    changed = dataclasses.replace(TASKS["beats"], view_params={**TASKS["beats"].view_params, "time": wider})
    assert definition_version(changed, "time") != time
    assert _spec("annotated_beats").code_version == f"raw-schema-{SCHEMA_VERSION}"
    # the weekly schedule's promise: each task's comparison and champion at most a week and a day old
    for name in ("beat_fusion_comparison", "beat_champion_model", "record_champion_model"):
        policy = _spec(name).freshness_policy
        fail = getattr(policy, "fail_window", None)  # a time-window policy (its class is not exported)
        assert fail is not None and fail.to_timedelta() == dt.timedelta(days=8), (name, policy)
    assert _spec("beat_time_model").freshness_policy is None  # a model's run is read through its comparison


def test_every_stored_and_key_column_is_described():
    for schema in (RECORD_SCHEMA, BEAT_SCHEMA, QUARANTINE_SCHEMA):
        assert set(schema.names) <= set(COLUMN_NOTES), set(schema.names) - set(COLUMN_NOTES)
    assert set(KEY_NOTES) == set(KEYS) and all(KEY_NOTES.values())


def test_ingest_assets_materialize_with_metadata_and_passing_checks(tmp_path, sources):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [*ingest_assets, *ingest_checks],
        resources=_resources(tmp_path, sources, max_quarantine_fraction=0.3),
        tags=every_shard_tags(),
        instance=instance,
    )
    assert result.success
    # the summary's slowest steps: this run's own, longest first, shares of all steps' time
    slowest = slowest_steps(instance, result.run_id, limit=3)
    assert slowest.height == 3 and set(slowest["status"]) == {"SUCCESS"}
    assert slowest["seconds"].to_list() == sorted(slowest["seconds"].to_list(), reverse=True)
    assert set(slowest["step"]) <= {s.step_key for s in instance.get_run_step_stats(result.run_id)}
    # two MIT-BIH records: among the slowest three, whichever of the busy steps a loaded machine put first
    # (under two pytest workers wfdb_records once came first: an order of seconds is not the test's point)
    assert "annotated_beats" in slowest["step"].to_list() and slowest["share"][0].endswith(" %")
    meta = {
        m.asset_key.to_user_string(): m.metadata
        for event in result.get_asset_materialization_events()
        for m in [event.materialization]
    }
    beats = meta["annotated_beats"]
    assert beats["records_landed_now"].value == 2 and _number(beats, "beats_in_shards") > 4700
    # each shard's partition carries its own row count and snapshot (the Catalog's row count), not the run's
    shards = {m.partition: m.metadata for m in _events(result, "annotated_beats")}
    assert set(shards) == set(SHARD_KEYS)
    counts = [_number(shards[k], "dagster/row_count") for k in SHARD_KEYS]
    assert sum(counts) == _number(beats, "beats_in_shards") and counts.count(0) == len(SHARD_KEYS) - 2
    assert {k: _text(shards[k], "snapshot") for k in SHARD_KEYS} == beats["snapshots"].value
    assert sum(_number(shards[k], "records") for k in SHARD_KEYS) == 2
    assert "| S |" in _text(beats, "class_counts") and "DS2" in _text(beats, "class_counts")
    assert _text(beats, "preview").startswith("![preview](data:image/png;base64,")
    cinc = meta["challenge_records"]
    assert cinc["quarantined_now"].value == 1 and "length_mismatch" in _text(cinc, "quarantine")
    assert "164934002" in _text(cinc, "unmapped_codes")
    checks = _checks(result)
    assert all(c.passed for c in checks.values()), checks
    for kind in ("annotated_beats", "challenge_records", "wfdb_records", "ptbxl_records"):  # blocking, every source
        patients = checks[(kind, "check_patients_in_one_split")].metadata
        assert patients["actual"].value == 0 and patients["expected"].value == "0 patients in two splits"
    frac = checks[("challenge_records", "check_quarantine_fraction")].metadata
    assert frac["actual"].value == pytest.approx(0.25) and frac["expected"].value == "<= 0.3"
    assert frac["failed_records"].value == 1 and frac["landed_records"].value == 3


def test_quarantine_check_fails_above_its_limit_and_stops_the_run(tmp_path, sources):
    edit_header(sources / "plain" / "A00001", "1 300 9000", "1 1234 9000")
    result = dg.materialize(
        [*ingest_assets, *ingest_checks],
        raise_on_error=False,
        resources=_resources(tmp_path, sources, max_quarantine_fraction=0.3),
        tags=every_shard_tags(),
    )
    assert not result.success  # the check is blocking: bad data goes no further
    checks = _checks(result)
    wfdb_check = checks[("wfdb_records", "check_quarantine_fraction")]
    assert not wfdb_check.passed
    assert wfdb_check.metadata["actual"].value == 1.0 and wfdb_check.metadata["expected"].value == "<= 0.3"
    assert checks[("challenge_records", "check_quarantine_fraction")].passed  # 1 of 4 = 0.25
    assert checks[("annotated_beats", "check_beats_accounted")].passed
    # the run worked and a check stopped it: its own exit status, and the summary says fraction and limit
    assert exit_status(result) == EXIT_CHECK_FAILED
    said = "\n".join(map(str, failed_checks(result)))
    assert "wfdb_records:check_quarantine_fraction: 1 of 1 wfdb records quarantined (100.0%) in this" in said
    assert "limit 30.0%; fix:" in said and "ECGNET_MAX_QUARANTINE" in said


def test_records_kept_from_folders_not_read_this_run_do_not_count_in_the_quarantine_check(tmp_path, sources):
    """The store keeps what a folder dropped from ECGNET_DATA landed or quarantined; the check is about the
    folders this run reads, so an old folder's failures no longer stop every later run."""
    edit_header(sources / "plain" / "A00001", "1 300 9000", "1 1234 9000")
    resources = _resources(tmp_path, sources, max_quarantine_fraction=0.3)
    assets = [*ingest_assets, *ingest_checks]
    first = dg.materialize(assets, raise_on_error=False, resources=resources, tags=every_shard_tags())
    assert not _checks(first)[("wfdb_records", "check_quarantine_fraction")].passed
    remaining = [str(sources / "cinc"), str(sources / "mitdb")]
    resources["ingest"] = IngestSettings(sources=remaining, max_quarantine_fraction=0.3)
    again = dg.materialize(assets, raise_on_error=False, resources=resources, tags=every_shard_tags())
    assert again.success
    wfdb = _checks(again)[("wfdb_records", "check_quarantine_fraction")]
    assert wfdb.passed and wfdb.metadata["failed_records"].value == 0
    assert wfdb.metadata["other_folders_quarantined"].value == 1
    cinc = _checks(again)[("challenge_records", "check_quarantine_fraction")].metadata
    assert cinc["failed_records"].value == 1 and cinc["landed_records"].value == 3  # read this run: counted
    assert cinc["other_folders_landed"].value == 0
    assert "| reason_code | read_this_run | records |" in _text(cinc, "reasons")


def test_a_refused_candidate_says_why_in_the_gate_checks_own_row(tmp_path):
    """A gate refusal fails the run (the candidate is kept out); the check's description says why, as
    MLflow's description does, so the UI's check row needs no digging through metadata."""
    store = EcgnetStore(home=str(tmp_path / "home"))
    below = Candidate("beats", "early", "3", Interval(0.2, 0.15, 0.25), "0" * 32, BEATS.metric_key)
    result = build_quality_gate(BEATS)(training=TrainingSettings(), mlflow=MlflowTracking(store=store), candidate=below)
    assert isinstance(result, dg.AssetCheckResult) and not result.passed
    assert result.description == (
        f"early refused the candidate: validation metric 0.200 < minimum {BEATS.gate_min}. "
        "The champion stays where it was."
    )


def test_the_quarantine_limit_is_a_setting_of_the_environment(monkeypatch):
    monkeypatch.setenv("ECGNET_MAX_QUARANTINE", "0.25")
    assert IngestSettings().max_quarantine_fraction == 0.25
    monkeypatch.setenv("ECGNET_MAX_QUARANTINE", "25%")
    with pytest.raises(ValueError, match="ECGNET_MAX_QUARANTINE='25%'; fix: a fraction between 0 and 1"):
        IngestSettings()


def test_seeds_and_the_one_seed_variants_are_settings_of_the_environment(monkeypatch):
    monkeypatch.setenv("ECGNET_FOLDS", "5")
    monkeypatch.setenv("ECGNET_SEEDS", "2")
    monkeypatch.setenv("ECGNET_ONE_SEED", "frequency, spectrogram")
    cfg = TrainingSettings().config(TASKS["beats"])
    assert (cfg.folds, cfg.seeds, cfg.one_seed) == (5, 2, ("frequency", "spectrogram"))
    monkeypatch.setenv("ECGNET_ONE_SEED", "frequncy")
    with pytest.raises(ValueError, match=r"one_seed names unknown variants \['frequncy'\]; fix: some of time,"):
        TrainingSettings().config(TASKS["beats"])


def test_bfloat16_training_on_the_cpu_is_a_setting_of_the_environment(monkeypatch):
    assert TrainingSettings().config(TASKS["beats"]).train.cpu_bf16 is False  # float32 unless asked
    monkeypatch.setenv("ECGNET_CPU_BF16", "1")
    assert TrainingSettings().config(TASKS["beats"]).train.cpu_bf16 is True
    monkeypatch.setenv("ECGNET_CPU_BF16", "auto")  # on where the CPU computes bfloat16 natively
    assert TrainingSettings().config(TASKS["beats"]).train.cpu_bf16 is native_bf16()
    monkeypatch.setattr("pipelines.resources._native_bf16", lambda: False)
    assert TrainingSettings().config(TASKS["beats"]).train.cpu_bf16 is False
    monkeypatch.setenv("ECGNET_CPU_BF16", "yes")
    with pytest.raises(ValueError, match=r"ECGNET_CPU_BF16='yes'; fix: 1 \(on\), 0 \(off\) or auto"):
        TrainingSettings()


def test_rhythm_episodes_from_beat_records_are_a_setting_of_the_environment(monkeypatch):
    from pipelines.resources import IngestSettings

    assert IngestSettings().config().rhythm_from_beat_records is False
    monkeypatch.setenv("ECGNET_RHYTHM_FROM_BEATS", "1")
    assert IngestSettings().config().rhythm_from_beat_records is True
    monkeypatch.setenv("ECGNET_RHYTHM_FROM_BEATS", "auto")  # nothing about a machine decides it
    with pytest.raises(ValueError, match=r"ECGNET_RHYTHM_FROM_BEATS='auto'; fix: 1 \(on\), 0 \(off\)$"):
        IngestSettings()


def test_a_crash_and_a_full_disk_are_told_apart_from_a_failed_check(tmp_path):
    @dg.asset
    def writes_to_a_full_disk():
        with open("/dev/full", "w") as fh:  # the kernel's always-full device: a real ENOSPC
            fh.write("x")
            fh.flush()

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    result = dg.materialize([writes_to_a_full_disk], raise_on_error=False)
    assert exit_status(result) == EXIT_CRASHED
    (message,) = step_errors(result).values()
    assert disk_full(message) and not disk_full("ValueError: bad gain")
    line = disk_full_line(tmp_path)
    assert str(tmp_path) in line and "MB free" in line and "ECGNET_HOME" in line


def test_records_read_leniently_keep_their_notes_and_the_log_names_the_first_of_them(tmp_path, monkeypatch):
    """CinC 2021's JS20004 and JS20008 (V2, V4 and V6 flat: left out): each record row keeps its notes in the
    records table; the run's log names the first `LOGGED_RECORDS` of them one by one, then counts the rest,
    so that a full database's thousands do not bury it."""
    from feature_store.raw_store import RawStore
    from pipelines.assets import ingest as ingest_module

    src = tmp_path / "src"
    for name in ("JS20004", "JS20008", "HR06000"):
        copy_record(CINC / name, src)
    monkeypatch.setattr(ingest_module, "LOGGED_RECORDS", 1)
    instance = dg.DagsterInstance.ephemeral()
    challenge = [a for a in ingest_assets if a.key.to_user_string() == "challenge_records"]
    result = dg.materialize(challenge, resources=_resources(tmp_path, src), tags=every_shard_tags(), instance=instance)
    assert result.success
    notes = dict(RawStore(tmp_path / "home" / "store").scan_records().select("record_id", "notes").collect().rows())
    flat = "lead(s) ['V2', 'V4', 'V6'] are flat (peak-to-peak < 0.01 mV): left out; fix: check the electrode"
    assert notes == {"JS20004": [flat], "JS20008": [flat], "HR06000": []}
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    table = _text(meta, "read_leniently")  # the first LOGGED_RECORDS, in the Catalog beside the count
    assert (
        meta["records_read_leniently"].value == 2 and "| JS20004 | lead(s) ['V2'," in table and "JS20008" not in table
    )
    said = [e.user_message for e in instance.all_logs(result.run_id) if "read leniently" in e.user_message]
    said = [m for m in said if m.startswith(("landed", "..."))]  # the run's, over its shards
    assert len(said) == 2 and said[0].endswith(f"read leniently: {flat}")
    assert said[1] == (
        "... and 1 more records landed read leniently, not logged one by one; each one's notes are in the records "
        "table's notes column"
    )


def test_rematerializing_reports_everything_unchanged(tmp_path, sources):
    resources = _resources(tmp_path, sources)
    dg.materialize(ingest_assets, resources=resources, tags=every_shard_tags())
    again = dg.materialize(ingest_assets, resources=resources, tags=every_shard_tags())
    meta = {
        m.materialization.asset_key.to_user_string(): m.materialization.metadata
        for m in again.get_asset_materialization_events()
    }
    assert meta["challenge_records"]["records_landed_now"].value == 0
    assert meta["challenge_records"]["records_unchanged"].value == 4
    beats = meta["annotated_beats"]
    assert beats["records_unchanged"].value == 2 and beats["records_in_shards"].value == 2
    assert _number(beats, "beats_in_shards") > 4700 and beats["shards"].value == ", ".join(SHARD_KEYS)


def test_a_record_deleted_from_its_folder_is_said_once_with_its_shard(tmp_path, sources):
    resources = _resources(tmp_path, sources)
    dg.materialize(ingest_assets, resources=resources, tags=every_shard_tags())
    for file in (sources / "cinc").glob("HR06001.*"):
        file.unlink()
    # the project's log settings, under which the science packages' own lines join the run's log
    settings = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())["python_logs"]
    instance = dg.DagsterInstance.ephemeral(settings={"python_logs": settings})
    again = dg.materialize(ingest_assets, resources=resources, tags=every_shard_tags(), instance=instance)
    said = [e.user_message for e in instance.all_logs(again.run_id) if "HR06001" in e.user_message]
    assert said == [
        f"{sources / 'cinc' / 'HR06001'}: its files were deleted from the source folder; its rows left the store"
    ]
    assert sum("1 removed in" in e.user_message for e in instance.all_logs(again.run_id)) == 1
    meta = {
        m.materialization.asset_key.to_user_string(): m.materialization.metadata
        for m in again.get_asset_materialization_events()
    }
    assert (
        meta["challenge_records"]["removed_now"].value == 1
        and meta["challenge_records"]["records_unchanged"].value == 3
    )


def test_sensor_requests_a_run_only_when_records_change(tmp_path, sources):
    resources = _resources(tmp_path, sources)
    with dg.build_sensor_context(resources=resources, instance=_instance()) as context:
        first, cursor = _requested(new_records_sensor(context))
    assert len(first) == 1
    with dg.build_sensor_context(resources=resources, cursor=cursor, instance=_instance()) as context:
        assert isinstance(new_records_sensor(context), dg.SkipReason)
    copy_record(CINC / "HR06002", sources / "cinc")
    with dg.build_sensor_context(resources=resources, cursor=cursor, instance=_instance()) as context:
        (request,), _ = _requested(new_records_sensor(context))
    assert request.tags == every_shard_tags()  # one run over every shard
    instance = _instance()
    backfill = submit(instance, defs)  # while a backfill runs, its shard runs ingest the new files
    with dg.build_sensor_context(resources=resources, cursor=cursor, instance=instance) as context:
        skip = new_records_sensor(context)
    assert f"backfill {backfill} is running" in _skipped(skip)


def test_a_backfill_of_a_shard_or_group_that_does_not_exist_is_refused_not_submitted():
    """`python -m pipelines.backfill --groups featurs` submitted a backfill of nothing, which succeeded."""
    with _instance() as instance:
        with pytest.raises(ValueError, match=r"asset groups \['featurs'\] do not exist; fix: choose from"):
            submit(instance, defs, groups=("ingest", "featurs"))
        with pytest.raises(ValueError, match="no asset group given"):
            submit(instance, defs, groups=())
        with pytest.raises(ValueError, match=r"shards \['07'\] do not exist"):
            submit(instance, defs, shards=["07"])
        assert not instance.get_backfills()


def test_the_sensors_first_tick_after_make_demo_does_not_ingest_the_same_records_again(tmp_path, sources):
    """`make demo` then `make ui`: the sensor has no cursor yet, and used to start a refresh run over
    records the demo had just ingested. The demo now leaves the folders' fingerprint as it ingested them."""
    home, env = tmp_path / "home", {**os.environ, "ECGNET_HOME": str(tmp_path / "home"), "ECGNET_DATA": str(sources)}
    # a source folder that is not there: said once before anything runs (each ingest step failed on it)
    absent = f"{tmp_path / 'nowhere'}:{sources}"
    refused = subprocess.run(
        [sys.executable, "-m", "pipelines.demo"], env=env | {"ECGNET_DATA": absent}, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "nowhere do not exist; fix: point ECGNET_DATA at existing folders" in refused.stderr
    assert not (home / "sources.state").exists()
    demo = subprocess.run(
        [sys.executable, "-m", "pipelines.demo"], env=env | {"ECGNET_STAGES": "ingest"}, capture_output=True, text=True
    )
    assert demo.returncode in (0, 2), demo.stderr[-2000:]  # 2: the cut record fails the quarantine limit
    assert (home / "sources.state").read_text() == folder_state([sources])
    resources = _resources(tmp_path, sources)
    with dg.build_sensor_context(resources=resources, instance=_instance()) as context:
        first = new_records_sensor(context)
    assert isinstance(first, dg.SensorResult) and not first.run_requests
    assert first.skip_reason is not None and "unchanged since `make demo`" in str(first.skip_reason.skip_message)
    assert first.cursor == folder_state([sources])  # from here on it reads changes as before
    # the sensor only reads the workspace: a writer lease taken there would belong to `make ui`'s code
    # server, alive for good, and every run launched from the UI would wait for it and fail
    assert holder(home) is None
    copy_record(CINC / "HR06002", sources / "cinc")  # a record that arrived after the demo: ingested
    with dg.build_sensor_context(resources=resources, instance=_instance()) as context:
        (request,), _ = _requested(new_records_sensor(context))


def test_sensor_skips_with_a_reason_when_a_folder_is_missing(tmp_path):
    resources = _resources(tmp_path, tmp_path / "nowhere")
    with dg.build_sensor_context(resources=resources, instance=_instance()) as context:
        skip = new_records_sensor(context)
    assert "ECGNET_DATA" in _skipped(skip)


def test_stage_selection():
    assert selected_groups(defs, None) == ["ingest", "features", "training"]
    assert selected_groups(defs, "ingest,features") == ["ingest", "features"]
    with pytest.raises(SystemExit, match="serving"):
        selected_groups(defs, "ingest,serving")


def test_feature_assets_materialize_pass_their_checks_and_are_reused(tmp_path, sources):
    resources = _resources(tmp_path, sources, max_quarantine_fraction=0.3)
    specs = list(TASKS.values())
    everything = [*ingest_assets, *ingest_checks, *build_feature_assets(specs), *build_feature_checks(specs)]
    first = dg.materialize(everything, resources=resources, tags=every_shard_tags())
    assert first.success
    checks = _checks(first)
    names = {name for (_, name) in checks}
    assert {"check_schema", "check_finite_values", "check_rows_match_raw"} <= names
    assert all(c.passed for c in checks.values()), [k for k, c in checks.items() if not c.passed]
    meta = {
        m.materialization.asset_key.to_user_string(): m.materialization.metadata
        for m in first.get_asset_materialization_events()
    }
    spec = meta["beat_spectrogram_features"]
    assert spec["computed_shards"].value == len(SHARD_KEYS) and _number(spec, "rows") > 4700
    assert _text(spec, "preview").startswith("![preview](data:image/png;base64,")
    assert meta["record_time_features"]["rows"].value == 3  # the 3 Challenge records that land
    time = [m.metadata for m in _events(first, "beat_time_features")]
    assert sum(_number(m, "dagster/row_count") for m in time) == _number(time[0], "rows")
    versions = time[0]["versions"].value
    assert isinstance(versions, dict) and sorted(_text(m, "version") for m in time) == sorted(versions.values())
    columns = {c.name: c for c in _columns(time[0]["dagster/column_schema"])}
    assert list(columns)[: len(KEYS)] == list(KEYS) and all(c.description for c in columns.values())
    assert columns["waveform"].type.startswith("float32[2 x ")  # two leads, samples per beat
    assert columns["moments"].description == "mean, std, skewness, kurtosis"
    second = dg.materialize(everything, resources=resources, tags=every_shard_tags())
    again = {
        m.materialization.asset_key.to_user_string(): m.materialization.metadata
        for m in second.get_asset_materialization_events()
    }
    for name in ("beat_time_features", "beat_spectral_features", "record_spectrogram_features"):
        assert again[name]["reused_shards"].value == len(SHARD_KEYS) and again[name]["computed_shards"].value == 0
        assert again[name]["versions"].value == meta[name]["versions"].value
        assert _number(again[name], "seconds_this_run") < _number(meta[name], "seconds_to_compute")


def test_a_run_whose_process_died_is_closed_as_failed_by_the_next_run():
    import subprocess
    import sys

    from pipelines.stale_runs import HOST_TAG, PID_TAG, close_dead_runs, owner_tags

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = gone.stdout.strip()  # a process that has exited
    with dg.DagsterInstance.ephemeral() as instance:
        runs = {}
        for name, tags in (("dead", {**owner_tags(), PID_TAG: dead_pid}), ("live", owner_tags())):
            run = dg.DagsterRun(job_name=f"job_{name}", status=dg.DagsterRunStatus.STARTED, tags=tags)
            instance.add_run(run)
            runs[name] = run.run_id
        elsewhere = dg.DagsterRun(
            job_name="other", status=dg.DagsterRunStatus.STARTED, tags={PID_TAG: dead_pid, HOST_TAG: "another-host"}
        )
        instance.add_run(elsewhere)
        assert close_dead_runs(instance) == [runs["dead"]]
        assert _run(instance, runs["dead"]).status == dg.DagsterRunStatus.FAILURE
        assert _run(instance, runs["live"]).status == dg.DagsterRunStatus.STARTED  # this process
        assert _run(instance, elsewhere.run_id).status == dg.DagsterRunStatus.STARTED  # not ours to judge


def test_a_run_launched_outside_the_demo_names_its_process_and_is_closed_when_it_dies(tmp_path):
    """As from the UI: the run is created without owner tags by the multiprocess executor; its first
    step tags it with the run worker's pid and takes the workspace's writer lease for it; the worker is
    killed; the lease is free at once, and the new-records sensor (running every minute under `make
    ui`) closes the run as failed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from feature_store.writer import WorkspaceBusy, acquire, holder
    from pipelines.stale_runs import PID_TAG
    from pipelines.workspace import create_storage

    home = tmp_path / "dagster"
    home.mkdir()
    create_storage(home)  # the worker and this test open the home at once: created first, as `make ui` does
    env = dict(os.environ, DAGSTER_HOME=str(home))
    command = [sys.executable, "-m", "tests.dying_run", str(tmp_path / "ws")]
    worker = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline, run = time.monotonic() + 240, None
            while time.monotonic() < deadline and (run is None or PID_TAG not in run.tags):
                time.sleep(1)
                runs = instance.get_runs()
                run = runs[0] if runs else None
            assert run is not None and run.tags.get(PID_TAG) == str(worker.pid), run and run.tags
            assert run.status == dg.DagsterRunStatus.STARTED
            # the step took the workspace's writer lease for its run worker: another writer is refused
            lease = holder(tmp_path / "ws")
            assert lease is not None and lease.pid == worker.pid and lease.what == f"dagster run {run.run_id}"
            with pytest.raises(WorkspaceBusy, match=f"dagster run {run.run_id}"):
                acquire(tmp_path / "ws", "make demo", wait_s=0)
            os.killpg(worker.pid, signal.SIGKILL)  # the run worker and its step process
            worker.wait(timeout=30)
            assert holder(tmp_path / "ws") is None  # killed: the workspace is free, nothing to clean up
            src = tmp_path / "src"
            src.mkdir()
            resources = _resources(tmp_path, src)  # the sensor's resources, as `make ui` gives them
            with dg.build_sensor_context(resources=resources, instance=instance) as context:
                new_records_sensor(context)
            assert _run(instance, run.run_id).status == dg.DagsterRunStatus.FAILURE
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)


def test_waiting_on_a_backfill_the_instance_does_not_hold_names_the_instance_and_the_fix(tmp_path):
    expected = pytest.raises(ValueError, match=f"not in the Dagster instance at {tmp_path}.*same DAGSTER_HOME")
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance, expected:
        wait(instance, "no-such-backfill", timeout_s=1)


def test_a_stage_run_alone_names_the_stages_it_reads_that_were_never_made():
    """ECGNET_STAGES=training on a fresh workspace: said up front, with the stages to run first, instead of
    each task's training data failing on missing train statistics."""
    graph = defs.resolve_asset_graph()
    training = set(dg.AssetSelection.groups("training").resolve(graph))
    with dg.DagsterInstance.ephemeral() as instance:
        missing = never_materialized(defs, training, instance)
        assert set(missing) == {"ingest", "features"}
        assert "beat_time_features" in missing["features"] and "annotated_beats" in missing["ingest"]
        for key in dg.AssetSelection.groups("features").resolve(graph):  # features made once: ingest was too
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        assert never_materialized(defs, training, instance) == {}
        everything = set(dg.AssetSelection.all().resolve(graph))
        assert never_materialized(defs, everything, instance) == {}  # the whole demo reads nothing outside itself
