"""The af task's rows from CPSC 2021: AF episodes from the real records' rhythm annotations, cut into
30 s windows that each lie inside one episode, beside CinC 2017's whole records; and from the same
records in the MIT-BIH AF Database's layout (rhythm changes only)."""

import numpy as np
import pytest
import wfdb

from feature_store.ingest import ingest_kind
from feature_store.raw_store import RawSnapshot, iter_signals
from feature_store.sources.registry import discover
from feature_store.sources.rhythm_labels import rhythm_spans
from feature_store.tasks import AF
from feature_store.transforms.resample import resample
from feature_store.views.inputs import load_input, raw_rows
from tests.records import CPSC2021, MITDB, afdb_layout, copy_record


def test_rhythm_changes_make_episodes():
    samples = np.array([0, 30, 120, 400, 500])
    notes = ["(AFIB", "None", "(N", "(VT", "(AFIB"]  # beats carry "None"; VT is none of the task's classes
    assert rhythm_spans(samples, notes, 600, start_rhythm="N") == [(0, 120, "AF"), (120, 400, "N"), (500, 600, "AF")]
    assert rhythm_spans(samples[2:], notes[2:], 450, start_rhythm=None) == [(120, 400, "N")]  # clipped at 450
    assert rhythm_spans(np.array([], int), [], 1000, start_rhythm="N") == [(0, 1000, "N")]
    assert rhythm_spans(np.array([10, 990]), ["(N", "(N"], 1000, start_rhythm="N") == [(0, 1000, "N")]  # merged


@pytest.fixture(scope="module")
def af_world(tmp_path_factory):
    from feature_store.config import IngestConfig
    from feature_store.raw_store import RawStore

    src = tmp_path_factory.mktemp("src")
    for name in ("data_101_6", "data_101_8", "data_21_7", "data_8_2"):  # paroxysmal x2, non-AF, persistent
        copy_record(CPSC2021 / name, src / "cpsc2021")
    copy_record(MITDB / "232", src / "mitdb")  # a beat database: its rhythm notes are not used
    store, cfg = RawStore(tmp_path_factory.mktemp("home") / "store"), IngestConfig()
    report = ingest_kind("annotated", discover([src], cfg)["annotated"], store, cfg)
    snapshot = RawSnapshot("annotated", str(store.root), report.snapshot, report.record_ids)
    return store, snapshot, cfg


def _spans(store, record):
    row = store.scan_records().filter(record_id=record).collect().row(0, named=True)
    return row, [(s["start"], s["stop"], s["rhythm"]) for s in row["rhythm_spans"]]


def test_cpsc_episodes_are_stored_at_the_stored_rate(af_world):
    store, _, cfg = af_world
    ann = wfdb.rdann(str(CPSC2021 / "data_101_6"), "atr")
    onsets = [int(s) for s, n in zip(ann.sample, ann.aux_note) if n == "(AFIB"]
    row, spans = _spans(store, "data_101_6")
    assert row["fs"] == cfg.beat_fs and [r for *_, r in spans] == ["N", "AF"] * 4
    ratio = cfg.beat_fs / 200.0
    assert [a for a, _, r in spans if r == "AF"] == [round(o * ratio) for o in onsets]
    assert spans[0][0] == 0 and spans[-1][1] == row["n_samples"]  # the whole record, nothing twice
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert _spans(store, "data_21_7")[1] == [(0, _spans(store, "data_21_7")[0]["n_samples"], "N")]  # non-AF
    assert _spans(store, "data_8_2")[1][0][:1] == (0,) and _spans(store, "data_8_2")[1][0][2] == "AF"  # persistent
    assert _spans(store, "232")[1] == []


def test_af_rows_are_windows_inside_one_episode_read_from_lead_ii(af_world):
    store, snapshot, cfg = af_world
    inp = load_input(AF, [snapshot])
    n_in = int(30 * cfg.beat_fs)
    assert inp.signal.shape[1:] == (1, 3000) and inp.fs == 100.0 and inp.lead_names == ["ECG"]
    assert len(inp.keys) == raw_rows(AF, [snapshot]) > 0  # what check_rows_match_raw compares
    # data_101_6's eight episodes are all shorter than 30 s: no window; MIT-BIH gives no row
    assert set(inp.keys["record_id"]) == {"data_101_8", "data_21_7", "data_8_2"}
    records = store.scan_records().collect()
    for entity, record, labels in inp.keys.select("entity_id", "record_id", "labels").iter_rows():
        start = int(entity.split("@")[1])
        _, spans = _spans(store, record)
        inside = [r for a, b, r in spans if a <= start and start + n_in <= b]
        assert inside == labels, entity
    # each window's samples: lead II of the stored record resampled to 100 Hz as a whole, edges included
    # (a slice resampled alone rings for 2 mV at its start: CPSC's leads sit 5 mV off zero)
    for k, (entity, record) in enumerate(inp.keys.select("entity_id", "record_id").iter_rows()):
        start = int(entity.split("@")[1])
        row = records.filter(record_id=record)
        stored = next(iter_signals(row.select("signal").to_arrow()))
        lead = row["lead_names"][0].to_list().index("II")
        whole, _ = resample(stored[lead : lead + 1], fs=cfg.beat_fs, target_fs=100.0)
        assert start * 100 % cfg.beat_fs == 0, entity  # the window starts on a sample of the 100 Hz grid
        first = int(start * 100 // cfg.beat_fs)
        np.testing.assert_allclose(inp.signal[k], whole[:, first : first + 3000], atol=1e-5, err_msg=entity)
    counts = dict(zip(*np.unique(inp.keys["labels"].list.first(), return_counts=True)))
    assert set(counts) == {"N", "AF"}


def test_an_afdb_layout_record_lands_its_rhythm_episodes_and_no_beat(tmp_path):
    """A CPSC 2021 record and its copy in AFDB's layout (no header statement, no beat annotation): the
    copy's episodes are the original's from the first rhythm change on (before it AFDB says nothing),
    its row counts no beat, and the af task cuts the same windows from it."""
    from feature_store.config import IngestConfig
    from feature_store.raw_store import RawStore

    src, cfg = tmp_path / "src", IngestConfig()
    copy_record(CPSC2021 / "data_101_8", src)
    afdb_layout(CPSC2021 / "data_101_8", src, "04015")
    store = RawStore(tmp_path / "store")
    report = ingest_kind("annotated", discover([src], cfg)["annotated"], store, cfg)
    assert sorted(report.landed) == ["04015", "data_101_8"] and not report.quarantined
    cpsc_row, cpsc = _spans(store, "data_101_8")
    row, afdb = _spans(store, "04015")
    assert [r for *_, r in cpsc] == ["N", "AF", "N", "AF", "N"] and afdb == cpsc[1:]
    for rhythm in ("N", "AF"):  # what the ingest log reports, in seconds
        landed = sum(b - a for a, b, r in cpsc + afdb if r == rhythm) / cfg.beat_fs
        assert report.episode_s[rhythm] == pytest.approx(landed)
    assert row["n_beats"] == 0 and row["labels"] == [] and row["label_codes"] == [] and cpsc_row["n_beats"] > 200
    assert store.scan_beats().filter(record_id="04015").collect().height == 0
    snapshot = RawSnapshot("annotated", str(store.root), report.snapshot, report.record_ids)
    inp = load_input(AF, [snapshot])
    assert len(inp.keys) == raw_rows(AF, [snapshot]) == 2  # one AF window each: the other episodes are short
    by_record = {r: i for i, r in enumerate(inp.keys["record_id"])}
    assert inp.keys["labels"].to_list() == [["AF"], ["AF"]]
    np.testing.assert_array_equal(inp.signal[by_record["04015"]], inp.signal[by_record["data_101_8"]])


def test_the_ingest_preview_reads_the_seconds_it_shows(af_world, tmp_path, monkeypatch):
    """The ingest asset's preview plots the first seconds of a few records: it takes only those from the
    store, whatever the records' length (a CPSC 2021 record is stored whole for its episodes)."""
    from pipelines.assets import ingest
    from pipelines.resources import EcgnetStore

    store, snapshot, cfg = af_world
    shown = []

    def records_png(records, **kw):
        shown.append((records, kw))
        return b"\x89PNG"

    monkeypatch.setattr("feature_store.plots.records_png", records_png)  # what the preview imports when it draws
    ingest._preview(snapshot, EcgnetStore(home=str(tmp_path)), "annotated_beats")
    ((records, kw),) = shown
    assert kw["seconds"] == ingest.PREVIEW_SECONDS and len(records) == ingest.PREVIEW_RECORDS
    head = int(ingest.PREVIEW_SECONDS * cfg.beat_fs) + 1
    for record_id, signal in records.select("record_id", "signal").iter_rows():
        assert {len(lead) for lead in signal} == {head}, record_id
    # MIT-BIH 232 keeps no signal (no rhythm episode): drawn from its beats' windows, which are its samples
    # (360 Hz as stored: nothing resampled), with gaps only where no window reaches
    drawn = np.array(records.filter(record_id="232")["signal"].to_list()[0], dtype=np.float32)
    original = wfdb.rdrecord(str(MITDB / "232"), sampto=head).p_signal.T.astype(np.float32)
    covered = ~np.isnan(drawn)
    assert covered.mean() > 0.5
    np.testing.assert_allclose(drawn[covered], original[covered], atol=1e-5)


def test_a_long_record_is_scored_window_by_window_for_the_af_task():
    """Online rows of the af task: a CPSC 2021 record (121 s) is cut into whole 30 s windows laid end to
    end, each the resampled record's samples, named by its first sample in the record as stored; a record
    under two windows (CinC 2017's) stays one zero-padded row, as its training rows were."""
    from feature_store.views.catalog import ViewInput
    from feature_store.views.online import record_input
    from tests.records import CINC2017

    spec = ViewInput(fs=100.0, samples=3000, crop=None, lead_names=("ECG",), unit="record")
    record = CPSC2021 / "data_101_8"
    inp = record_input(record, spec, task="af")
    sig = wfdb.rdrecord(str(record))
    whole, _ = resample(sig.p_signal.T[[1]].astype(np.float32), fs=sig.fs, target_fs=100.0)  # lead II
    assert inp.signal.shape == (whole.shape[1] // 3000, 1, 3000) == (4, 1, 3000)
    for k, row in enumerate(inp.signal):
        np.testing.assert_allclose(row, whole[:, k * 3000 : (k + 1) * 3000], atol=1e-6)
    assert inp.starts is not None and inp.starts.tolist() == [0, 6000, 12000, 18000]  # 200 Hz as stored
    assert inp.keys["entity_id"].to_list() == [f"data_101_8@{s}" for s in (0, 6000, 12000, 18000)]
    short = record_input(CINC2017 / "A00001", spec, task="af")
    assert short.keys["entity_id"].to_list() == ["A00001"] and short.starts is None and len(short.signal) == 1


def test_the_ingest_asset_reports_the_rhythm_episodes_it_landed(af_world):
    """The annotated ingest asset's `rhythm_episodes` table: per rhythm and split, the episodes of the
    CPSC 2021 records and their minutes, as stored (MIT-BIH's 232 adds none)."""
    from pipelines.assets.ingest import rhythm_episodes

    store, snapshot, cfg = af_world
    table = rhythm_episodes([snapshot])
    spans = [
        (r["split"], s, r["fs"])
        for r in store.scan_records().collect().iter_rows(named=True)
        for s in r["rhythm_spans"]
    ]
    for rhythm, split, episodes, minutes in table.iter_rows():
        mine = [(s["stop"] - s["start"]) / fs / 60 for sp, s, fs in spans if sp == split and s["rhythm"] == rhythm]
        assert episodes == len(mine) and minutes == pytest.approx(sum(mine), abs=0.05)
    assert set(table["rhythm"]) == {"N", "AF"} and table["episodes"].sum() == len(spans) > 0


def test_beat_records_give_their_rhythm_episodes_only_where_asked(tmp_path):
    """LTAFDB's layout (labelled beats and rhythm changes in one .atr, no header statement) on a bundled
    CPSC 2021 record with its statement removed: a beat record, whose episodes are read only with
    `rhythm_from_beat_records`, then from its first rhythm change on, beside the same beats."""
    from dataclasses import replace

    from feature_store.config import IngestConfig
    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef

    record = copy_record(CPSC2021 / "data_101_8", tmp_path, "ltaf")
    hea = record.with_name("ltaf.hea")
    hea.write_text("".join(line for line in hea.read_text().splitlines(keepends=True) if not line.startswith("#")))
    ref, cpsc = RecordRef("annotated", record, tmp_path), RecordRef("annotated", CPSC2021 / "data_101_8", CPSC2021)
    cfg = IngestConfig()
    as_beats = AnnotatedBeatSource().load(ref, cfg)
    asked = AnnotatedBeatSource().load(ref, replace(cfg, rhythm_from_beat_records=True))
    stated = AnnotatedBeatSource().load(cpsc, cfg).record.rhythm_spans
    assert as_beats.record.rhythm_spans == [] and asked.record.rhythm_spans == stated[1:]
    assert asked.beats is not None and as_beats.beats is not None
    np.testing.assert_array_equal(asked.beats.r_peak, as_beats.beats.r_peak)
    # over the size limit the record is read in windows and keeps no signal: its beats land, a note says why
    # its episodes do not
    values = wfdb.rdheader(str(record)).sig_len * 2
    long = AnnotatedBeatSource().load(ref, replace(cfg, rhythm_from_beat_records=True, max_record_values=values // 3))
    assert (
        long.record.rhythm_spans == [] and long.beats is not None and len(long.beats.r_peak) == len(asked.beats.r_peak)
    )
    assert any("rhythm annotations not read" in note for note in long.record.notes)


def test_a_setting_added_later_leaves_every_fingerprint_as_it_was_at_its_default():
    """Ingest settings are part of every record's fingerprint: a new one must not make every workspace read
    every record again on upgrade. The default's fingerprint as the code of 5168bd0 computed it, before
    `rhythm_from_beat_records` existed (a change to a default changes it, and must mean to)."""
    from dataclasses import replace

    from feature_store.config import IngestConfig

    assert IngestConfig().fingerprint() == "2ec2059e9c18a6b9"
    assert replace(IngestConfig(), rhythm_from_beat_records=True).fingerprint() != "2ec2059e9c18a6b9"


def test_physionets_own_rhythm_notes_are_read_with_their_nul(tmp_path):
    """PhysioNet's annotation files end a note with a NUL: MIT-BIH 100's original .atr (wfdb-python's
    corpus) reads `(N\\x00`. Asked for a beat record's episodes, the record is one N episode from that note
    to its end; the team's copy of 100 (every rhythm note empty) gives none, with the same beats."""
    import shutil
    from dataclasses import replace

    from feature_store.config import IngestConfig
    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef
    from tests.records import TEST_DATA

    assert rhythm_spans(np.array([5, 50]), ["(AFIB\x00", "(N\x00"], 100, start_rhythm=None) == [
        (5, 50, "AF"),
        (50, 100, "N"),
    ]
    record = copy_record(MITDB / "100", tmp_path)
    shutil.copyfile(TEST_DATA / "mitdb-atr" / "100.atr", tmp_path / "100.atr")
    ann = wfdb.rdann(str(record), "atr")
    assert ann.symbol[0] == "+" and ann.aux_note[0] == "(N\x00"
    cfg = replace(IngestConfig(), rhythm_from_beat_records=True)
    original = AnnotatedBeatSource().load(RecordRef("annotated", record, tmp_path), cfg)
    copy = AnnotatedBeatSource().load(RecordRef("annotated", MITDB / "100", MITDB), cfg)
    assert original.record.rhythm_spans == [(int(ann.sample[0]), original.record.n_samples, "N")]
    assert copy.record.rhythm_spans == [] and original.beats is not None and copy.beats is not None
    np.testing.assert_array_equal(original.beats.r_peak, copy.beats.r_peak)


def test_episodes_are_runs_of_consecutive_windows_of_a_class():
    from ecgnet.predict import episodes, episodes_line

    predicted = np.array([1, 1, 0, 1, 1, 1, 2, 1])  # N=0, AF=1, O=2
    assert episodes(predicted, 1) == [(0, 2), (3, 3), (7, 1)] and episodes(predicted, 3) == []
    classes = ["N", "AF", "O", "noisy"]
    assert episodes_line(predicted, classes, "AF", 30.0) == (
        "AF: 3 episode(s) of consecutive windows, the longest 1.5 min from 0:01:30"
    )
    assert episodes_line(np.full(200, 1), classes, "AF", 30.0).endswith("the longest 100.0 min from 0:00:00")
    assert episodes_line(predicted, classes, "noisy", 30.0) == "noisy: no window predicted"
    import datetime as dt  # a record that says when it began: the time of day too

    began = dt.datetime(2026, 3, 14, 22, 5, 30)
    assert episodes_line(predicted, classes, "AF", 30.0, start=began).endswith("from 0:01:30, 2026-03-14 22:07:00")


def test_beats_of_a_record_whose_atr_holds_no_beat_are_detected_not_lost(tmp_path):
    """Online beat rows of a record whose .atr holds rhythm changes only (AFDB's layout, here on MIT-BIH 100
    keeping its one `+` annotation): R peaks are detected, as for a record without .atr, and a note says
    so, instead of no row at all; the detected beats are the annotated ones."""
    from feature_store.views.catalog import ViewInput
    from feature_store.views.online import record_input

    record = copy_record(MITDB / "100", tmp_path)
    ann = wfdb.rdann(str(MITDB / "100"), "atr")
    rhythm = [i for i, s in enumerate(ann.symbol) if s == "+"]
    wfdb.wrann(
        "100",
        "atr",
        ann.sample[rhythm],
        symbol=["+"] * len(rhythm),
        aux_note=["(N"] * len(rhythm),
        write_dir=str(tmp_path),
    )
    spec = ViewInput(fs=360.0, samples=720, crop=(270, 522), lead_names=("MLII", "V1"), unit="beat")
    detected = record_input(record, spec, task="beats")
    annotated = record_input(MITDB / "100", spec, task="beats")
    assert any("holds no beat annotation" in note and "R peaks detected" in note for note in detected.notes)
    assert not any("R peaks detected" in note for note in annotated.notes)
    bare = copy_record(MITDB / "100", tmp_path / "bare")
    bare.with_name("100.atr").unlink()
    assert any("has no .atr" in n and "R peaks detected" in n for n in record_input(bare, spec, task="beats").notes)
    assert detected.beats is not None and annotated.beats is not None
    found, truth = detected.beats["sample"].to_numpy(), annotated.beats["sample"].to_numpy()
    near = np.abs(found[:, None] - truth[None, :]).min(axis=1) <= 0.05 * 360  # within 50 ms of a beat
    assert abs(len(found) - len(truth)) <= 0.01 * len(truth) and near.mean() > 0.99


def test_a_beat_record_without_episodes_keeps_no_signal_and_its_beats_give_it_back(af_world):
    """No task reads a beat record's signal but through rhythm episodes: MIT-BIH 232's row keeps none
    (its windows are in the beats table), CPSC 2021's rows keep theirs; and the beats' windows put back
    the samples they cover, as the preview draws them."""
    from feature_store.raw_store import signals_of
    from feature_store.sources.annotated import signal_from_windows

    store, _, _ = af_world
    rows = {
        r["record_id"]: r
        for r in store.scan_records().select("record_id", "n_samples", "n_beats").collect().iter_rows(named=True)
    }
    assert rows["232"]["n_samples"] == 0 and rows["232"]["n_beats"] > 1700
    assert all(rows[r]["n_samples"] > 0 for r in ("data_101_6", "data_101_8", "data_21_7", "data_8_2"))
    beats = store.scan_beats().filter(record_id="232").sort("r_peak").head(40).collect()
    windows = signals_of(beats.select("signal").to_arrow())
    back = signal_from_windows(beats["r_peak"].to_numpy(), windows, 10_000)
    original = wfdb.rdrecord(str(MITDB / "232"), sampto=10_000).p_signal.T.astype(np.float32)
    covered = ~np.isnan(back)
    assert covered[:, 360:9000].mean() > 0.5  # between the record's start and the 40th beat
    np.testing.assert_allclose(back[covered], original[covered], atol=1e-5)
