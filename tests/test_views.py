"""Feature views: versioned, reused when unchanged, aligned by id, split-safe, online = offline."""

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from feature_store.backend import numpy_backend, select_backend
from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.raw_store import RawSnapshot, RawStore
from feature_store.sources.registry import discover
from feature_store.tasks import TASKS
from feature_store.views.catalog import ViewEntry
from feature_store.views.families import FAMILIES, SpectralParams
from feature_store.views.store import FeatureStore
from tests.records import CINC, MITDB, copy_record, ptbxl_folder, rewrite_signal

CPU = numpy_backend()


def _ingest(src, store):
    cfg, snaps = IngestConfig(), {}
    for kind, refs in discover([src], cfg).items():
        report = ingest_kind(kind, refs, store, cfg)
        snaps[kind] = RawSnapshot(kind, str(store.root), report.snapshot, report.record_ids)
    return snaps


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    copy_record(MITDB / "232", src / "mitdb")
    copy_record(MITDB / "209", src / "mitdb")
    for name in ("E07500", "E07501", "E07502", "JS20000", "JS20001"):
        copy_record(CINC / name, src / "cinc")
    ptbxl_folder(src / "ptbxl")
    store = RawStore(tmp_path_factory.mktemp("home") / "store")
    snaps = _ingest(src, store)
    features = FeatureStore(store.root)
    made = {
        (task, fam): features.materialize(TASKS[task], fam, [snaps[k] for k in TASKS[task].source_kinds], backend=CPU)
        for task in ("beats", "records")
        for fam in ("time", "spectral", "spectrogram")
    }
    return {"src": src, "store": store, "snaps": snaps, "features": features, "made": made}


def test_views_are_registered_with_their_lineage(world):
    entry = world["made"][("beats", "spectrogram")].entry
    assert entry.name == "beats_spectrogram" and entry.backend == "numpy" and entry.input.unit == "beat"
    assert entry.lineage.snapshots == {"annotated": world["snaps"]["annotated"].fingerprint}
    beats_in_raw = world["store"].scan_beats().select(pl.len()).collect().item()
    assert entry.rows == beats_in_raw  # one row per valid raw beat
    records = world["made"][("records", "time")].entry
    assert records.rows == 15 and records.lineage.excluded == {"missing_leads": 0}
    assert world["features"].entry("beats_spectrogram", entry.version) == entry  # the catalog round-trips
    assert ViewEntry.from_json(entry.to_json()) == entry


def test_view_rows_are_keyed_like_the_raw_store(world):
    view = world["features"].scan("beats_time").select("entity_id", "record_id", "split").collect()
    raw = world["store"].scan_beats().select("beat_id", "record_id", "split").collect()
    assert sorted(view["entity_id"]) == sorted(raw["beat_id"])
    assert set(view["split"]) == {"DS1", "DS2"}


def test_unchanged_inputs_reuse_the_stored_version(world):
    features, snaps = world["features"], world["snaps"]
    first = world["made"][("beats", "spectral")]
    files = {p: p.stat().st_mtime_ns for p in Path(features.root.path).rglob("*.parquet")}
    again = features.materialize(TASKS["beats"], "spectral", [snaps["annotated"]], backend=CPU)
    assert again.reused and again.entry.version == first.entry.version
    assert again.seconds < 0.5 and not first.reused
    assert {p: p.stat().st_mtime_ns for p in Path(features.root.path).rglob("*.parquet")} == files


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_a_damaged_view_is_named_and_computed_again_not_reused(world, damage, caplog):
    features, snaps = world["features"], world["snaps"]
    entry = world["made"][("beats", "spectral")].entry
    before = features.scan("beats_spectral").sort("entity_id").collect()
    part = sorted(Path(entry.path).glob("*.parquet"))[0]
    if damage == "truncate":  # a copy or a full disk cut the file short: its footer is gone
        part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    else:
        part.unlink()
    again = features.materialize(TASKS["beats"], "spectral", [snaps["annotated"]], backend=CPU)
    assert not again.reused and again.entry.version == entry.version
    assert entry.path in caplog.text and "computing it again" in caplog.text
    assert features.scan("beats_spectral").sort("entity_id").collect().equals(before)
    assert features.materialize(TASKS["beats"], "spectral", [snaps["annotated"]], backend=CPU).reused


def test_a_changed_parameter_makes_a_new_version_and_the_old_one_stays(world):
    features, snaps = world["features"], world["snaps"]
    old = world["made"][("records", "spectral")].entry
    new = features.materialize(
        TASKS["records"],
        "spectral",
        [snaps["ptbxl"], snaps["challenge"]],
        params=SpectralParams(fmax_hz=30.0),
        backend=CPU,
    ).entry
    assert new.version != old.version and new.columns["psd"] == (12, 16)
    assert features.scan("records_spectral", old.version).select(pl.len()).collect().item() == 15
    assert features.entry("records_spectral").version == new.version  # newest by default
    assert features.prune("records_spectral", keep=1) == [old.version]
    with pytest.raises(ValueError, match="no feature view"):
        features.entry("records_spectral", old.version)


def test_new_raw_records_make_a_new_version(world, tmp_path):
    store = RawStore(tmp_path / "store")
    src = tmp_path / "src"
    copy_record(CINC / "E07500", src)
    features = FeatureStore(store.root)
    first = features.materialize(TASKS["records"], "time", [_ingest(src, store)["challenge"]], backend=CPU)
    copy_record(CINC / "E07501", src)
    second = features.materialize(TASKS["records"], "time", [_ingest(src, store)["challenge"]], backend=CPU)
    assert second.entry.version != first.entry.version and second.entry.rows == 2


def test_training_set_aligns_views_by_id_and_keeps_one_split(world):
    ts = world["features"].training_set(["beats_time", "beats_spectral", "beats_spectrogram"], "DS1")
    assert set(ts.keys["split"]) == {"DS1"} and set(ts.keys["record_id"]) == {"209"}
    n = len(ts.ids)
    assert list(ts.keys["entity_id"]) == list(ts.ids) == sorted(ts.ids)
    assert ts.features["beats_time"]["waveform"].shape == (n, 2, 252)  # the 0.7 s beat window at 360 Hz
    assert ts.features["beats_spectrogram"]["spectrogram"].shape[0] == n
    # the same beat in two views: compare with a direct read of one row
    one = world["features"].scan("beats_spectral").filter(pl.col("entity_id") == ts.ids[5]).select("psd").collect()
    np.testing.assert_array_equal(
        np.asarray(one["psd"][0].to_list(), np.float32), ts.features["beats_spectral"]["psd"][5]
    )
    test = world["features"].training_set(["beats_time"], "DS2")
    assert not set(test.ids) & set(ts.ids)


def test_every_packed_descriptor_and_frequency_is_named(world):
    from ecgnet.data import InputNames, input_names, modality_inputs, view_of

    for task, expected in (
        ("beats", {"rr_prev_norm", "rr_m8", "MLII skewness", "V1 qrs_energy", "V1 template_corr", "MLII 0.5-4 Hz"}),
        ("records", {"hr_bpm", "V6 kurtosis", "aVR qrs_energy", "V6 25-40 Hz"}),
    ):
        spec = TASKS[task]
        views = [view_of(task, m) for m in ("time", "frequency", "spectrogram")]
        ts = world["features"].training_set(views, spec.splits.train)
        names = input_names(spec, {v: world["features"].entry(v, ts.versions[v]) for v in views})
        assert InputNames.from_json(names.to_json()) == names  # as data and models save it
        assert names.leads == tuple(slot.name for slot in spec.window.leads)
        labels = names.values
        x = modality_inputs(ts.features, task)
        # one name for each value along the packed input's last axis, none repeated
        assert {(m, k): len(n) for m, named in labels.items() for k, n in named.items()} == {
            ("time", "scalars"): x["time"]["scalars"].shape[1],
            ("frequency", "scalars"): x["frequency"]["scalars"].shape[1],
            ("frequency", "psd"): x["frequency"]["psd"].shape[-1],
        }
        assert all(len(set(n)) == len(n) for named in labels.values() for n in named.values())
        assert expected <= {n for named in labels.values() for names in named.values() for n in names}
        assert labels["frequency"]["psd"][0] == "0 Hz"


def test_training_set_pins_versions_and_refuses_mixed_tasks(world):
    version = world["made"][("beats", "time")].entry.version
    ts = world["features"].training_set(["beats_time"], "DS1", versions={"beats_time": version})
    assert ts.versions == {"beats_time": version}
    with pytest.raises(ValueError, match="different tasks"):
        world["features"].training_set(["beats_time", "records_time"], "train")


def test_point_in_time_training_set(world):
    features = world["features"]
    cutoff = dt.datetime(1991, 4, 15)  # PTB-XL 6000-6003 were recorded on 14 April 1991
    ts = features.training_set(["records_time"], ("train", "val", "test"), recorded_before=cutoff)
    assert sorted(ts.ids) == ["6000", "6001", "6002", "6003"]
    everything = features.training_set(["records_time"], ("train", "val", "test"))
    assert len(everything.ids) == 15  # Challenge records carry no date: only left out with a cutoff


def test_online_features_equal_the_stored_ones(world):
    features, src = world["features"], world["src"]
    online = features.online(src / "cinc" / "E07501", ["records_time", "records_spectrogram"], backend=CPU)
    stored = features.training_set(["records_time", "records_spectrogram"], ("train", "val", "test"))
    idx = list(stored.ids).index("E07501")
    assert list(online.ids) == ["E07501"]
    for view, columns in online.features.items():
        for column, values in columns.items():
            np.testing.assert_allclose(
                values[0], stored.features[view][column][idx], rtol=1e-5, atol=1e-5, err_msg=f"{view}.{column}"
            )


def test_online_features_of_a_view_another_code_version_computed_are_refused(world, monkeypatch):
    # an upgrade that changes how the time family computes beats: the champion's stored version is older
    features, record = world["features"], world["src"] / "mitdb" / "232"
    entry = features.entry("beats_time")
    monkeypatch.setattr(FAMILIES["time"], "code_versions", {"beat": "999", "record": "999"})
    with pytest.raises(ValueError) as refused:
        features.online(record, ["beats_spectral", "beats_time"], backend=CPU)
    assert str(refused.value) == (
        f"view beats_time {entry.version} was computed by version {entry.code_version} of the time family's code, "
        "and this checkout computes version 999: a new record's features would not be the ones the model learnt "
        "from; fix: retrain on today's views (`make demo`, or the `retrain` job in Dagster), or score with the "
        "checkout that trained it"
    )
    assert features.online(record, ["beats_spectral"], backend=CPU).ids.size  # another family's views still score


def test_online_beats_of_a_record_match_its_stored_beats(world):
    features = world["features"]
    online = features.online(world["src"] / "mitdb" / "232", ["beats_spectral"], backend=CPU)
    stored = features.training_set(["beats_spectral"], "DS2")
    order = np.argsort(online.ids)
    assert list(online.ids[order]) == list(stored.ids)
    np.testing.assert_allclose(
        online.features["beats_spectral"]["psd"][order], stored.features["beats_spectral"]["psd"], rtol=1e-5, atol=1e-5
    )


def test_online_beats_take_leads_by_name_and_refuse_a_record_without_them(world, tmp_path):
    features, src = world["features"], world["src"] / "mitdb" / "232"  # MLII, V1
    views = ["beats_time", "beats_spectral", "beats_spectrogram"]
    copy = lambda name, leads=None: rewrite_signal(src, tmp_path, name, lambda s: None, leads)  # noqa: E731
    same = features.online(copy("same"), views, backend=CPU)
    swapped = features.online(copy("swapped", [1, 0]), views, backend=CPU)
    assert len(same.ids) > 1000 and not same.notes
    for view, columns in same.features.items():
        for column, values in columns.items():
            np.testing.assert_allclose(swapped.features[view][column], values, rtol=1e-6, atol=1e-6, err_msg=column)
    refused = r"reads leads MLII .*; V1 .* the record has \['MLII'\], without V1; fix"
    with pytest.raises(ValueError, match=refused) as one:
        features.online(copy("one", [0]), views, backend=CPU)
    assert str(one.value).endswith("; its leads serve the af task (--task af)")  # a one-lead record: what reads it
    renamed = copy("limb")
    renamed.with_name("limb.hea").write_text(renamed.with_name("limb.hea").read_text().replace(" MLII", " II"))
    assert features.online(renamed, views, backend=CPU).notes == ["lead MLII read from II"]


def test_a_new_records_row_with_a_non_finite_feature_is_said_and_left_out_the_rest_scored(world, monkeypatch):
    import feature_store.views.store as store_module

    features, record = world["features"], world["src"] / "mitdb" / "232"
    views = ["beats_time", "beats_spectral"]
    clean = features.online(record, views, backend=CPU)
    made = store_module.compute_features

    def one_nan(fam, inp, *args, **kwargs):  # what a transform's 0 / 0 leaves in one beat's row
        out = made(fam, inp, *args, **kwargs)
        if fam.name == "time":
            out["moments"] = out["moments"].copy()
            out["moments"][10, 0, 2] = np.nan
        return out

    monkeypatch.setattr(store_module, "compute_features", one_nan)
    spoiled = features.online(record, views, backend=CPU)
    assert len(spoiled.ids) == len(clean.ids) - 1 and clean.ids[10] not in set(spoiled.ids)
    said = spoiled.notes[-1]
    assert said.startswith(f"1 of {len(clean.ids)} rows hold NaN or infinite features (beats_time.moments)")
    assert str(record) in said
    assert clean.beat_numbers is not None and spoiled.beat_numbers is not None  # the ectopy line sees the gap
    np.testing.assert_array_equal(spoiled.beat_numbers, np.delete(clean.beat_numbers, 10))
    for view, columns in spoiled.features.items():
        for column, values in columns.items():
            np.testing.assert_array_equal(values, np.delete(clean.features[view][column], 10, axis=0), err_msg=column)


def test_online_records_name_the_twelve_leads_a_record_lacks(world):
    record = world["src"] / "mitdb" / "232"  # MLII and V1: not the records task's twelve standard leads
    views = ["records_time", "records_spectral", "records_spectrogram"]
    with pytest.raises(ValueError) as refused:
        world["features"].online(record, views, backend=CPU)
    message = str(refused.value)
    assert "reads leads I; II; III; aVR" in message and "(or )" not in message  # no substitutes: none listed
    assert "without I, II, III, aVR, aVL, aVF, V1, V2, V3, V4, V5, V6;" not in message  # V1 is there
    assert "without I, II, III, aVR, aVL, aVF, V2, V3, V4, V5, V6; fix" in message


def test_unknown_view_and_bad_backend_are_clear_errors(world):
    with pytest.raises(ValueError, match="known views"):
        world["features"].entry("beats_nothing")
    with pytest.raises(ValueError, match="backend must be one of"):
        select_backend("gpu")
    assert select_backend("numpy").name == "numpy"


def test_gpu_without_a_gpu_is_a_clear_error():
    from feature_store.backend import cupy_backend

    try:
        cupy_backend()
    except RuntimeError:
        with pytest.raises(ValueError, match="backend='cupy'.*fix"):
            select_backend("cupy")
        assert select_backend("auto").name == "numpy"
    else:
        pytest.skip("a GPU is present: the no-GPU error cannot be seen here")


def test_no_train_rows_is_a_clear_error(tmp_path):
    store = RawStore(tmp_path / "store")
    copy_record(MITDB / "232", tmp_path / "src")  # DS2 only: nothing to fit statistics on
    snap = _ingest(tmp_path / "src", store)["annotated"]
    with pytest.raises(ValueError, match="no rows in its train splits.*fix"):
        FeatureStore(store.root).materialize(TASKS["beats"], "time", [snap], backend=CPU)


def test_a_beat_source_without_the_task_leads_gives_an_empty_view_that_counts_its_beats(tmp_path):
    """CPSC 2021's beat-annotated records carry leads I and II: the beats task's second lead (V1 or a
    substitute) is not among them, so none of their beats is a row. The view is empty and says why,
    instead of every beat feature failing on a chunk with no rows (seen with ECGNET_DATA naming them)."""
    from feature_store.views.inputs import load_input
    from tests.records import CPSC2021

    store = RawStore(tmp_path / "store")
    snap = _ingest(CPSC2021, store)["annotated"]
    beats = store.scan_beats().select(pl.len()).collect().item()
    assert beats > 0
    inp = load_input(TASKS["beats"], [snap])
    assert len(inp.signal) == 0 and inp.excluded == {"missing_leads": beats}
    features = FeatureStore(store.root)
    stats = features.fit_train_stats(TASKS["beats"], {"all": [snap]}, backend=CPU)
    assert all(s.stats.get("train_rows", 0) == 0 for s in stats.values())
    made = features.materialize(TASKS["beats"], "time", [snap], backend=CPU)
    assert made.entry.rows == 0 and made.entry.lineage.excluded == {"missing_leads": beats}


BEAT_VIEWS = ["beats_time", "beats_spectral", "beats_spectrogram"]
SECTION_LIMIT = 300_000  # values: MIT-BIH's 30 min of two leads (1.3 M) in 5 sections of 6.5 min


def _in_sections(features, record, monkeypatch, limit=SECTION_LIMIT):
    """`online`'s beat rows of `record` read in sections under `limit`, and every (first, stop) frame read."""
    import wfdb

    from feature_store.views.online import NothingClear, record_sections

    monkeypatch.setenv("ECGNET_MAX_RECORD_VALUES", str(limit))
    spans, real = [], wfdb.rdrecord

    def spy(*args, sampfrom=0, sampto=None, **kwargs):
        spans.append((sampfrom, sampto))
        return real(*args, sampfrom=sampfrom, sampto=sampto, **kwargs)

    monkeypatch.setattr(wfdb, "rdrecord", spy)
    sections = record_sections(record, "beats")
    assert sections is not None
    beats = features.record_beats(record, BEAT_VIEWS, sections)
    parts, skipped = [], []
    for section in sections:
        try:
            parts.append(features.online(record, BEAT_VIEWS, backend=CPU, section=section, beats=beats))
        except NothingClear as err:
            skipped.append(str(err))
    return sections, beats, parts, skipped, spans


def _assert_same_rows(whole, parts, atol=0.0):
    assert np.concatenate([p.ids for p in parts]).tolist() == whole.ids.tolist()
    np.testing.assert_array_equal(np.concatenate([p.samples for p in parts]), whole.samples)
    for view, columns in whole.features.items():
        for column, values in columns.items():
            joined = np.concatenate([p.features[view][column] for p in parts])
            np.testing.assert_allclose(joined, values, rtol=0, atol=atol, err_msg=f"{view} {column}")


def test_a_record_over_the_limit_gives_a_beats_tasks_rows_of_a_whole_read_section_by_section(world, monkeypatch):
    """MIT-BIH 232 (30 min, two leads, 1.3 M values) under a 300,000 limit: its beats are read in 5 sections,
    no read over the limit, and every feature of every beat is the whole read's, the rhythm against the whole
    record's intervals and the median beat over the whole record's, not the section's."""
    features, record = world["features"], world["src"] / "mitdb" / "232"
    whole = features.online(record, BEAT_VIEWS, backend=CPU)
    sections, beats, parts, skipped, spans = _in_sections(features, record, monkeypatch)
    assert len(sections) == 5 and not skipped and sections[-1].stop == 650_000
    assert spans and all((stop - start) * 2 <= SECTION_LIMIT for start, stop in spans)
    assert len(beats.r_peak) == len(whole.ids) and beats.clear is None and len(beats.pick_rows) == 1000
    _assert_same_rows(whole, parts)
    # what a section alone would read its beats against is not the record's: 232's pauses come unevenly
    edges = np.cumsum([0] + [len(p.ids) for p in parts])
    own = [np.nanmean(beats.rr_prev_s[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    assert np.ptp(own) / np.nanmean(beats.rr_prev_s) > 0.05


def test_dropouts_across_section_edges_leave_out_the_whole_reads_beats_and_intervals(world, monkeypatch, tmp_path):
    """232 with MLII invalid from 300 s to 330 s, and both leads from 385 s to 398 s, across the first
    sections' edge (392.7 s): the beats a dropout reaches are left out and the intervals across the stretch
    no lead shows are unknown, as in a whole read; every other feature is the whole read's."""

    def blank(signal):
        signal[300 * 360 : 330 * 360, 0] = np.nan
        signal[385 * 360 : 398 * 360, :] = np.nan

    features = world["features"]
    record = rewrite_signal(world["src"] / "mitdb" / "232", tmp_path, "gaps", blank)
    whole = features.online(record, BEAT_VIEWS, backend=CPU)
    _, beats, parts, skipped, _ = _in_sections(features, record, monkeypatch)
    assert beats.clear is not None and 20 < (~beats.clear).sum() < 60 and not skipped
    unknown = int(np.isnan(beats.rr_prev_s[1:]).sum())  # those that touch the 13 s both leads are out
    assert 10 < unknown < 20
    assert any(f"beats touch a dropout in MLII, V1: not scored; {unknown} RR interval(s)" in n for n in beats.notes)
    _assert_same_rows(whole, parts, atol=1e-6)
    # each row's beat number among the record's beats: a gap where beats were left out, the same in sections
    assert whole.beat_numbers is not None and (np.diff(whole.beat_numbers) > 1).sum() == 2
    np.testing.assert_array_equal(np.concatenate([p.beat_numbers for p in parts]), whole.beat_numbers)


def test_beats_detected_section_by_section_find_the_annotated_beats_as_a_whole_read_does(world, monkeypatch, tmp_path):
    """232 without its .atr: each section's beats are detected (GQRS, with the 12 s before it read for its
    thresholds), and a beat found by the reads either side of an edge is one. GQRS scales a lead by its own
    typical QRS, so a section's borderline beats may go otherwise than in one pass: against the .atr's
    beats, the sections find them as well as the whole read (sensitivity and positive predictivity within
    0.01; over MIT-BIH's 44 two-lead records, the README's figures)."""
    from wfdb.processing import compare_annotations

    features = world["features"]
    record = rewrite_signal(world["src"] / "mitdb" / "232", tmp_path, "unannotated", lambda s: None)
    truth = features.online(world["src"] / "mitdb" / "232", ["beats_spectral"], backend=CPU).samples
    record.with_name("unannotated.atr").unlink()
    whole = features.online(record, BEAT_VIEWS, backend=CPU)
    _, beats, parts, _, _ = _in_sections(features, record, monkeypatch)
    found = np.concatenate([p.samples for p in parts])
    assert len(np.unique(found)) == len(found) and np.all(np.diff(found) > 0)
    assert any("no .atr: its beats are the" in n and "detected (GQRS) in MLII" in n for n in beats.notes)
    scores = []
    for beats_found in (whole.samples, found):
        match = compare_annotations(truth, beats_found, int(0.15 * 360))
        scores.append((match.tp / len(truth), match.tp / len(beats_found)))
    (whole_se, whole_pp), (se, pp) = scores
    assert se >= whole_se - 0.01 and pp >= whole_pp - 0.01 and se > 0.95, scores


def test_a_record_at_another_rate_gives_the_whole_reads_beat_rows_in_sections(world, monkeypatch, tmp_path):
    """MIT-BIH 232's first 5 minutes written again at 250 Hz (its .atr with it), under a limit that makes 4
    sections: the rows are made at 360 Hz, and each section starts where rate conversion lines up with the
    whole record's, so its beats are the whole read's (a section at any frame would move every sample by a
    fraction of one)."""
    import wfdb
    from scipy.signal import resample_poly

    src = str(world["src"] / "mitdb" / "232")
    head, ann = wfdb.rdrecord(src, sampto=300 * 360), wfdb.rdann(src, "atr", sampto=300 * 360)
    signal = resample_poly(head.p_signal, 25, 36, axis=0)
    wfdb.wrsamp(
        "slow",
        fs=250,
        units=head.units,
        sig_name=head.sig_name,
        p_signal=signal,
        fmt=["16", "16"],
        adc_gain=[1000.0] * 2,
        baseline=[0, 0],
        write_dir=str(tmp_path),
    )
    wfdb.wrann("slow", "atr", np.round(ann.sample * 250 / 360).astype(int), symbol=ann.symbol, write_dir=str(tmp_path))
    features, record = world["features"], tmp_path / "slow"
    whole = features.online(record, BEAT_VIEWS, backend=CPU)
    sections, beats, parts, skipped, _ = _in_sections(
        features, record, monkeypatch, limit=2 * (15_010 + 6_000)
    )  # 15,010 frames a step, less the margins: 15,000
    assert len(sections) == 5 and not skipped and all(s.read[0] % 25 == 0 for s in sections)  # 360 / 250 = 36 / 25
    _assert_same_rows(whole, parts, atol=1e-5)


def test_a_beats_section_where_every_lead_is_flat_leaves_its_beats_out_and_the_rest_scored(
    world, monkeypatch, tmp_path
):
    """232 with both leads at 0 from 370 s to 810 s, through the second section's read (392.7-785.3 s and 12 s
    either side; the recorder off): the beats task reads on, the .atr's beats there left out as a dropout's
    (no row) and the rest scored; before, that section's read refused the record (flat_lead). A whole read
    scores them (every lead still at once may be a pause)."""

    def off(signal):
        signal[370 * 360 : 810 * 360] = 0.0

    features = world["features"]
    record = rewrite_signal(world["src"] / "mitdb" / "232", tmp_path, "off", off)
    _, beats, parts, skipped, _ = _in_sections(features, record, monkeypatch)
    assert beats.clear is not None and skipped == ["section 2 of 5 (0:06:32-0:13:05): every beat touches a dropout"]
    scored = np.concatenate([p.samples for p in parts]) / 360
    # the first and third sections read the stretch's edges beside their signal: still at once, not marked
    assert not ((scored > 393) & (scored < 785)).any() and (scored < 360).sum() > 300 and (scored > 820).sum() > 900
    assert any("lead(s) ['MLII', 'V1'] flat throughout: kept as a dropout there" in n for n in beats.notes)
