"""Records with dropouts (runs of invalid samples longer than ingest interpolates, as an ICU recorder
writes for a lead off) are read around them: ingest lands them without the beats, episodes and row
starts a dropout reaches, the online rows keep out every beat or window that touches one in a lead the task
reads, and no RR interval is measured across one. Every record here is a real bundled one with samples
blanked."""

import numpy as np
import polars as pl
import pytest

from feature_store.config import IngestConfig
from feature_store.sources.errors import RecordError
from feature_store.sources.wfdb_record import Dropout, read_wfdb
from feature_store.tasks import STANDARD_12
from feature_store.transforms.dropouts import (
    clear_windows,
    dropout_mask,
    first_clear,
    intervals_across,
    intervals_across_runs,
    lead_off_runs,
    runs,
)
from feature_store.transforms.resample import resample
from feature_store.views.catalog import ViewInput
from feature_store.views.online import record_input
from tests.records import CINC2017, CPSC2021, MITDB, PTB, copy_record, rewrite_signal

BEATS_SPEC = ViewInput(fs=360.0, samples=720, crop=(270, 522), lead_names=("MLII", "V1"), unit="beat")


def _blanked(src, folder, name, lead, *spans):
    def blank(signal):
        for start, stop in spans:
            signal[start:stop, lead] = np.nan

    return rewrite_signal(src, folder, name, blank)


def test_the_mask_windows_and_intervals_of_dropouts():
    mask = dropout_mask(np.array([[10, 12], [30, 31]]), 40, margin=2)
    assert np.flatnonzero(mask).tolist() == [8, 9, 10, 11, 12, 13, *range(28, 33)]
    assert dropout_mask(np.array([[0, 3]]), 5, margin=4).tolist() == [True] * 5  # clipped to the signal
    assert not dropout_mask(np.empty((0, 2)), 5).any()
    assert clear_windows(mask, np.array([0, 5, 14, 20, 33]), 4).tolist() == [True, False, True, True, True]
    assert clear_windows(mask, np.array([4, 24, 25]), 4).tolist() == [True, True, False]  # [4, 8) ends before 8
    # an interval is unknown when a masked sample lies between its two peaks, ends included
    assert intervals_across(mask, np.array([0, 5, 8, 20, 27, 34])).tolist() == [False, True, True, False, True]
    assert first_clear(mask, 10) == 14 and first_clear(mask, 20) is None and first_clear(mask, 100) is None
    assert first_clear(np.zeros(5, bool), 10) == 0  # a record shorter than the row: all of it


def test_ingest_refuses_a_dropout_and_the_online_read_keeps_it_out(tmp_path):
    record = _blanked(MITDB / "100", tmp_path, "gap", 0, (5000, 5400))  # 1.1 s of MLII
    with pytest.raises(RecordError, match="non_finite|invalid"):
        read_wfdb(record, IngestConfig())
    sig = read_wfdb(record, IngestConfig(), keep_dropouts=True)
    assert sig.dropouts == (Dropout("MLII", 5000, 5400),) and np.isfinite(sig.signal).all()
    clean = read_wfdb(MITDB / "100", IngestConfig())
    np.testing.assert_allclose(sig.signal[:, :5000], clean.signal[:, :5000], atol=1e-3)  # format 16 at 1000/mV
    np.testing.assert_allclose(sig.signal[1], clean.signal[1], atol=1e-3)  # V5 has no dropout
    bridge = sig.signal[0, 4999:5401]
    np.testing.assert_allclose(np.diff(bridge), np.diff(bridge).mean(), atol=1e-6)  # a straight line across


@pytest.mark.parametrize("fs", [360.0, 250.0])
def test_beats_that_touch_a_dropout_are_not_rows_the_others_are_as_read_clean(tmp_path, fs):
    """At the record's own rate and resampled (where the filter spreads the stand-in line): the rows kept
    are the clean record's rows, sample for sample, and RR intervals; the beats lost are exactly those whose
    context window reaches the dropout (resampling's reach added)."""
    spans = [(5000, 5400), (90_000, 90_050)]
    record = _blanked(MITDB / "100", tmp_path, "gap", 0, *spans)
    spec = ViewInput(fs=fs, samples=int(2 * fs), crop=None, lead_names=("MLII", "V1"), unit="beat")
    gapped, clean = record_input(record, spec, task="beats"), record_input(MITDB / "100", spec, task="beats")
    assert gapped.beats is not None and clean.beats is not None and gapped.scored is not None
    # every beat stays a row while the features are made (its neighbours' context), marked not scored
    assert gapped.beats["sample"].to_list() == clean.beats["sample"].to_list()
    kept = gapped.scored
    assert 0 < (~kept).sum() <= 8
    np.testing.assert_allclose(gapped.signal[kept], clean.signal[kept], atol=2e-3)
    for column in ("rr_prev_s", "rr_next_s"):
        np.testing.assert_allclose(gapped.beats[column].to_numpy()[kept], clean.beats[column].to_numpy()[kept])
    reach = 360 + (0 if fs == 360 else 0.04 * 360)  # half the context window, then resample_spread_s(360, 250)
    peaks = clean.beats["sample"].to_numpy()
    near = np.zeros(len(peaks), bool)
    for start, stop in spans:
        near |= (peaks + reach > start) & (peaks - reach < stop)
    assert (~kept == near).all()
    notes = " | ".join(gapped.notes)
    assert "2 dropout(s) in MLII" in notes and f"{(~kept).sum()} of {len(peaks)} beats touch a dropout" in notes


def test_an_interval_across_a_dropout_is_unknown(tmp_path):
    """Beats detected (no .atr) around a 2.5 s dropout of both leads: none is found inside it, so the interval
    from the last beat before it to the first after would read as a 3 s pause. It is unknown instead (the
    rhythm features then take the record's mean); with a 1 s context window both neighbours are rows. With
    only MLII out, the beats inside are found in the second lead, and every interval is measured."""

    def both(signal):
        signal[5000:5900, :] = np.nan

    record = rewrite_signal(MITDB / "100", tmp_path, "gap", both)
    record.with_name("gap.atr").unlink()
    spec = ViewInput(fs=360.0, samples=360, crop=None, lead_names=("MLII", "V1"), unit="beat")
    gapped = record_input(record, spec, task="beats")
    assert gapped.beats is not None and gapped.scored is not None
    rows = gapped.beats.filter(pl.Series(gapped.scored)).sort("sample")
    before = rows.filter(rows["sample"] < 5000).row(-1, named=True)
    assert abs(before["sample"] - 4764) <= 5 and before["rr_next_s"] is None  # annotated R peak at 4764
    longest = [float(rows[c].drop_nulls().to_numpy().max()) for c in ("rr_prev_s", "rr_next_s")]
    assert max(longest) < 1.2  # no interval spans the dropout
    assert rows.filter(rows["sample"] > 5900).height > 0
    said = " | ".join(gapped.notes)
    assert "RR interval(s) across one in every lead the beats were found in count as unknown" in said

    one = _blanked(MITDB / "100", tmp_path, "one", 0, (5000, 5900))
    one.with_name("one.atr").unlink()
    inp = record_input(one, spec, task="beats")
    assert inp.beats is not None and any(
        "R peaks detected (GQRS) in MLII, and in V5 where MLII is out" in n for n in inp.notes
    )
    found = inp.beats["sample"].to_numpy()
    inside = found[(found > 5000) & (found < 5900)]
    assert len(inside) == 3 and np.abs(inside - [5060, 5346, 5633]).max() <= 10  # the .atr's beats, from V5
    assert (
        inp.beats["rr_prev_s"][1:].null_count() == 0
        and float(inp.beats["rr_prev_s"].drop_nulls().to_numpy().max()) < 1.2
    )  # all measured


def test_an_annotated_interval_across_a_dropout_is_known_while_a_lead_shows_the_beats(tmp_path):
    """With its .atr, the annotator marked the beats inside MLII's dropout from V5: every interval is the
    clean record's, at ingest and online. With both leads out no beat could be marked there, and the
    interval over it is unknown."""
    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef

    spec = ViewInput(fs=360.0, samples=360, crop=None, lead_names=("MLII", "V1"), unit="beat")
    clean = record_input(MITDB / "100", spec, task="beats")
    one = record_input(_blanked(MITDB / "100", tmp_path, "one", 0, (5000, 5900)), spec, task="beats")
    assert clean.beats is not None and one.beats is not None
    np.testing.assert_array_equal(one.beats["rr_prev_s"].to_numpy(), clean.beats["rr_prev_s"].to_numpy())
    landed = AnnotatedBeatSource().load(RecordRef("annotated", tmp_path / "one", tmp_path), IngestConfig())
    whole = AnnotatedBeatSource().load(RecordRef("annotated", MITDB / "100", MITDB), IngestConfig())
    assert landed.beats is not None and whole.beats is not None
    kept = np.isin(whole.beats.r_peak, landed.beats.r_peak)
    np.testing.assert_array_equal(landed.beats.rr_prev_s, whole.beats.rr_prev_s[kept])  # measured, not NaN

    def both(signal):
        signal[5000:5900, :] = np.nan

    out = record_input(rewrite_signal(MITDB / "100", tmp_path, "both", both), spec, task="beats")
    assert out.beats is not None
    unknown = out.beats.filter(pl.col("rr_prev_s").is_null())["sample"].to_list()
    # each beat whose preceding interval reaches into the blind stretch (the annotated 5060, 5346 and 5633
    # inside it, and the first after it), and no other
    assert unknown[:3] == [5060, 5346, 5633] and len(unknown) == 4 and 5900 < unknown[3] < 5900 + 360


def test_a_held_run_counts_no_stand_in_sample():
    """A read that starts inside a lead's dropout bridges it with the first valid value held: those stand-in
    samples neither stretch a held run of that lead into its signal nor count as another lead recording."""
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 0.1, (2, 1000))
    signal[0, :300] = signal[0, 300]  # the stand-in of a read starting in a dropout: the first valid value
    invalid = np.zeros(signal.shape, bool)
    invalid[0, :300] = True
    assert lead_off_runs(signal, 100.0, 2.0) == [[(0, 301)], []]  # read as a held run, one valid sample in
    assert lead_off_runs(signal, 100.0, 2.0, invalid) == [[], []]
    signal[1, 500:800] = signal[1, 500]  # lead 1 held while lead 0 records: its dropout
    assert lead_off_runs(signal, 100.0, 2.0, invalid) == [[], [(500, 800)]]
    invalid[0, 400:900] = True  # ... unless lead 0 is a stand-in line there
    assert lead_off_runs(signal, 100.0, 2.0, invalid) == [[], []]


def test_a_lead_that_starts_late_is_its_dropout_and_the_beats_stay_on_their_annotations(tmp_path):
    """Record 100 with V5 absent for its first 2 s (a late electrode, a skewed or late segment): the edge is
    V5's dropout, not trimmed off, so ingest cuts every annotated beat where its .atr sample says, MLII as
    in the clean record, and `predict` reads the same beats. Before, the 720 samples were trimmed from both
    leads and every beat's window was cut 2 s late (MLII off by up to 2.4 mV), 3 beats lost at the end."""
    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef

    record = _blanked(MITDB / "100", tmp_path, "late", 1, (0, 720))
    late = AnnotatedBeatSource().load(RecordRef("annotated", record, tmp_path), IngestConfig())
    clean = AnnotatedBeatSource().load(RecordRef("annotated", MITDB / "100", MITDB), IngestConfig())
    assert late.beats is not None and clean.beats is not None
    np.testing.assert_array_equal(late.beats.r_peak, clean.beats.r_peak)
    np.testing.assert_allclose(late.beats.windows[:, 0], clean.beats.windows[:, 0], atol=2e-3)  # MLII
    marked = [i for i, leads in enumerate(late.beats.dropout_leads) if leads]
    assert marked == [0, 1, 2] and late.beats.dropout_leads[0] == ["V5"]
    assert not any("trimmed" in n for n in late.record.notes)
    read = record_input(record, BEATS_SPEC, task="beats")
    whole = record_input(MITDB / "100", BEATS_SPEC, task="beats")
    assert read.beats is not None and whole.beats is not None
    np.testing.assert_array_equal(read.beats["sample"].to_numpy(), whole.beats["sample"].to_numpy())


def test_a_record_whose_every_beat_touches_a_dropout_is_refused(tmp_path):
    from tests.malformed import BREAKAGES

    name, _, make = BREAKAGES["nan"]  # both leads off for 0.2 s every 1.5 s
    make(tmp_path)
    with pytest.raises(ValueError, match=r"nan: every one of its \d+ beats touches a dropout .*fix: "):
        record_input(tmp_path / name, BEATS_SPEC, task="beats")


def test_a_dropout_in_a_lead_the_task_does_not_read_changes_nothing(tmp_path):
    record = _blanked(PTB / "s0010_re", tmp_path, "vx", 12, (1000, 1500))  # vx, a Frank lead
    spec = ViewInput(fs=500.0, samples=5000, crop=None, lead_names=STANDARD_12, unit="record")
    gapped, clean = record_input(record, spec, task="records"), record_input(PTB / "s0010_re", spec, task="records")
    np.testing.assert_allclose(gapped.signal, clean.signal, atol=2e-3)
    assert not any("dropout" in n for n in gapped.notes)


def test_a_record_row_starts_after_a_dropout_in_its_first_seconds(tmp_path):
    """The records task's one row (the first 10 s): past the dropout where one is in them, the clean
    record's samples there; no clear stretch of 10 s: refused, saying so and the fix."""
    record = _blanked(PTB / "s0010_re", tmp_path, "lead_i", 0, (1000, 1500))
    spec = ViewInput(fs=500.0, samples=5000, crop=None, lead_names=STANDARD_12, unit="record")
    inp = record_input(record, spec, task="records")
    clean = record_input(PTB / "s0010_re", spec, task="records")
    sig = read_wfdb(PTB / "s0010_re", IngestConfig())
    whole, _ = resample(sig.signal, fs=sig.fs, target_fs=500.0)
    leads = [sig.lead_names.index(lead) for lead in STANDARD_12]
    start = 750 + 10  # the dropout's end at 500 Hz, then resample_spread_s(1000, 500) = 0.02 s
    np.testing.assert_allclose(inp.signal[0], whole[leads, start : start + 5000], atol=2e-3)
    assert inp.keys["entity_id"].to_list() == ["lead_i"] and len(clean.signal) == 1
    assert any("the row is the first 10 s clear of dropouts, from 1.52 s" in n for n in inp.notes)
    every_10s = [(k, k + 100) for k in range(0, 38_400, 9_000)]
    refused = _blanked(PTB / "s0010_re", tmp_path, "holes", 1, *every_10s)
    with pytest.raises(ValueError, match=r"holes: no 10 s of the leads the model reads are clear of dropouts .*fix: "):
        record_input(refused, spec, task="records")


def test_rhythm_windows_that_touch_a_dropout_are_left_out_and_episodes_break_there(tmp_path):
    from ecgnet.predict import episodes, episodes_line

    src = CPSC2021 / "data_101_8"  # 121 s at 200 Hz: four 30 s windows of lead II
    spec = ViewInput(fs=100.0, samples=3000, crop=None, lead_names=("ECG",), unit="record")
    gapped = record_input(_blanked(src, tmp_path, "ii", 1, (7000, 7100)), spec, task="af")
    clean = record_input(src, spec, task="af")
    assert gapped.starts is not None and gapped.starts.tolist() == [0, 12000, 18000] and gapped.record_fs == 200.0
    np.testing.assert_allclose(gapped.signal, clean.signal[[0, 2, 3]], atol=2e-3)
    assert any("1 of 4 windows of 30 s touch a dropout" in n for n in gapped.notes)
    other = record_input(_blanked(src, tmp_path, "i", 0, (7000, 7100)), spec, task="af")  # lead I: not read
    assert other.starts is not None and other.starts.tolist() == [0, 6000, 12000, 18000]
    # an episode does not run across windows left out: AF, hole, AF, AF is two episodes, from 0 s and 60 s
    onsets = gapped.starts / 200.0
    assert episodes(np.ones(3), 1, onsets, 30.0) == [(0, 1), (1, 2)] and episodes(np.ones(3), 1) == [(0, 3)]
    line = episodes_line(np.ones(3, int), ["N", "AF"], "AF", 30.0, onsets)
    assert line == "AF: 2 episode(s) of consecutive windows, the longest 1.0 min from 0:01:00"


@pytest.mark.parametrize("limit", [None, 300_000])  # read whole, and in windows (a long Holter's path)
def test_an_annotated_record_with_dropouts_marks_the_beats_they_reach_and_the_task_leaves_them_out(tmp_path, limit):
    """Ingest of a beat-annotated record with MLII out twice: every beat is stored as from the clean record
    (RR intervals too: V5 shows the beats), those whose context window reaches a dropout with MLII marked;
    their V5 is the clean record's. Read in windows, the same. The beats task, which reads MLII, leaves them
    out (counted); a beat that reaches a dropout in both leads is not stored at all."""
    from dataclasses import replace

    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef

    spans = [(5000, 5400), (90_000, 90_050)]
    record = _blanked(MITDB / "100", tmp_path, "gap", 0, *spans)
    cfg = IngestConfig() if limit is None else replace(IngestConfig(), max_record_values=limit)
    gapped = AnnotatedBeatSource().load(RecordRef("annotated", record, tmp_path), cfg)
    clean = AnnotatedBeatSource().load(RecordRef("annotated", MITDB / "100", MITDB), IngestConfig())
    assert gapped.beats is not None and clean.beats is not None
    np.testing.assert_array_equal(gapped.beats.r_peak, clean.beats.r_peak)
    half = IngestConfig().context_samples // 2
    near = np.zeros(len(clean.beats.r_peak), bool)
    for start, stop in spans:
        near |= (clean.beats.r_peak + half > start) & (clean.beats.r_peak - half < stop)
    assert near.sum() >= 3 and [bool(leads) for leads in gapped.beats.dropout_leads] == near.tolist()
    assert {tuple(leads) for leads in gapped.beats.dropout_leads if leads} == {("MLII",)}
    np.testing.assert_allclose(gapped.beats.windows[~near], clean.beats.windows[~near], atol=2e-3)
    np.testing.assert_allclose(gapped.beats.windows[near, 1], clean.beats.windows[near, 1], atol=2e-3)  # V5
    assert np.isfinite(gapped.beats.windows).all()  # MLII's stand-in line, never read by a task that reads MLII
    np.testing.assert_allclose(gapped.beats.rr_prev_s, clean.beats.rr_prev_s)
    assert gapped.record.edge_beat_labels == clean.record.edge_beat_labels and not gapped.record.dropout_beat_labels
    said = [n for n in gapped.record.notes if "2 dropout(s) of invalid samples" in n]
    assert said and f"{near.sum()} annotated beats reach one in some lead, stored with those leads marked" in said[0]

    def both(signal):
        signal[5000:5400, :] = np.nan

    out = AnnotatedBeatSource().load(
        RecordRef("annotated", rewrite_signal(MITDB / "100", tmp_path, "both", both), tmp_path), cfg
    )
    assert out.beats is not None and out.record.dropout_beat_labels == ["N"] * 4  # 4764, 5060, 5346, 5633
    assert sorted(out.record.edge_beat_labels) == sorted(clean.record.edge_beat_labels + ["N"] * 4)


def test_the_beats_task_leaves_out_the_beats_a_dropout_in_its_leads_reaches(tmp_path, store):
    from collections import Counter

    from feature_store.ingest import ingest_kind
    from feature_store.raw_store import RawSnapshot
    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef
    from feature_store.sources.registry import discover
    from feature_store.tasks import BEATS
    from feature_store.views.inputs import load_input

    _blanked(MITDB / "100", tmp_path, "gap", 0, (5000, 5400))
    cfg = IngestConfig()
    report = ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    assert report.landed == ["gap"] and not report.quarantined and not report.dropout_beats
    assert report.marked_beats == {"N": 4}  # R peaks 4764, 5060, 5346 and 5633: MLII marked
    clean = AnnotatedBeatSource().load(RecordRef("annotated", MITDB / "100", MITDB), cfg)
    assert report.edge_beats == Counter(clean.record.edge_beat_labels)
    assert any("4 annotated beats reach one in some lead" in note for _, note in report.notes)
    inp = load_input(BEATS, [RawSnapshot("annotated", str(store.root), report.snapshot, report.record_ids)])
    assert clean.beats is not None and inp.excluded["dropouts"] == 4  # R peaks 4764, 5060, 5346 and 5633
    kept = inp.kept_keys["entity_id"].to_list()  # the 4 stay rows until the features are made, then leave
    assert len(kept) + sum(inp.excluded.values()) == len(clean.beats.r_peak) == len(inp.keys)
    assert set(inp.keys["entity_id"].to_list()) - set(kept) == {"gap:4764", "gap:5060", "gap:5346", "gap:5633"}


def test_rhythm_windows_that_reach_a_dropout_in_the_af_lead_are_left_out(tmp_path, store):
    """CPSC 2021's episodes are stored whole, with the record's dropouts; the af task cuts its 30 s windows
    from them and leaves out those that reach a dropout in the lead it reads, so no row holds the stand-in
    line. A dropout in the other lead changes nothing."""
    from feature_store.ingest import ingest_kind
    from feature_store.raw_store import RawSnapshot
    from feature_store.sources.registry import discover
    from feature_store.tasks import AF
    from feature_store.views.inputs import load_input

    src = CPSC2021 / "data_101_8"
    rows = {}
    for lead in (None, 0, 1):  # clean, lead I out (not read), lead II out (the af lead here)
        folder = tmp_path / f"lead{lead}"
        if lead is None:
            copy_record(src, folder)
        else:
            _blanked(src, folder, "data_101_8", lead, (7000, 7200))  # 1 s at 200 Hz, .atr kept
        here = store.__class__(tmp_path / f"home{lead}" / "store")
        report = ingest_kind("annotated", discover([folder], IngestConfig())["annotated"], here, IngestConfig())
        assert report.landed == ["data_101_8"]
        rows[lead] = load_input(AF, [RawSnapshot("annotated", str(here.root), report.snapshot, report.record_ids)])
    clean, other, read = rows[None], rows[0], rows[1]
    assert len(clean.keys) >= 1 and "dropouts" not in clean.excluded | other.excluded
    np.testing.assert_allclose(other.signal, clean.signal, atol=2e-3)
    touched = [i for i, e in enumerate(clean.keys["entity_id"]) if e not in set(read.keys["entity_id"])]
    assert read.excluded["dropouts"] == len(touched) == 1  # the window over 35-36 s


def test_a_window_of_a_long_record_inside_a_dropout_keeps_the_lead(tmp_path):
    """Read in windows (75,000 frames and margins), record 100 with MLII off for 100,000 frames holds a window
    without one valid MLII sample: the lead stays (as a dropout) instead of leaving that window's leads
    unlike the others', and the beats are those of a whole read (the stand-in line aside)."""
    from dataclasses import replace

    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef

    record = _blanked(MITDB / "100", tmp_path, "off", 0, (140_000, 240_000))
    ref = RecordRef("annotated", record, tmp_path)
    whole = AnnotatedBeatSource().load(ref, IngestConfig())
    windowed = AnnotatedBeatSource().load(ref, replace(IngestConfig(), max_record_values=300_000))
    assert whole.beats is not None and windowed.beats is not None
    np.testing.assert_array_equal(windowed.beats.r_peak, whole.beats.r_peak)
    assert windowed.beats.dropout_leads == whole.beats.dropout_leads
    clear = np.array([not leads for leads in whole.beats.dropout_leads])
    assert (~clear).sum() > 300  # 100,000 frames: 278 s of beats, marked, not lost
    np.testing.assert_allclose(windowed.beats.windows[clear], whole.beats.windows[clear], atol=1e-5)
    np.testing.assert_allclose(windowed.beats.windows[~clear, 1], whole.beats.windows[~clear, 1], atol=1e-5)
    assert sorted(windowed.record.edge_beat_labels) == sorted(whole.record.edge_beat_labels)


@pytest.mark.parametrize("off", ["held", "quiet"])  # one value held; a whisper of noise under flat_mv
def test_a_window_of_a_long_record_where_a_lead_is_flat_keeps_the_lead_as_its_dropout(tmp_path, off):
    """Read in windows (75,000 frames and margins), record 100 with MLII off from frame 140,000 to 240,000
    (V5 records) holds a window where MLII is flat throughout: the lead stays, as that window's dropout, and
    the record lands with the beats of a whole read, said by a note; before, the window refused the whole
    record (flat_lead). Held at one value, the marked beats are those a whole read marks (a lead-off run)."""
    from dataclasses import replace

    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef

    noise = np.random.default_rng(0).normal(0, 0.0005, 100_000) if off == "quiet" else 0.0

    def silence(signal):
        signal[140_000:240_000, 0] = signal[140_000, 0] + noise

    record = rewrite_signal(MITDB / "100", tmp_path, off, silence)
    ref = RecordRef("annotated", record, tmp_path)
    whole = AnnotatedBeatSource().load(ref, IngestConfig())
    windowed = AnnotatedBeatSource().load(ref, replace(IngestConfig(), max_record_values=300_000))
    assert whole.beats is not None and windowed.beats is not None
    np.testing.assert_array_equal(windowed.beats.r_peak, whole.beats.r_peak)
    marked = np.array([bool(leads) for leads in windowed.beats.dropout_leads])
    if off == "held":
        assert windowed.beats.dropout_leads == whole.beats.dropout_leads
    else:  # a whole read does not see a stretch below flat_mv that is not held (a rule for it could take a pause)
        inside = (windowed.beats.r_peak > 150_000) & (windowed.beats.r_peak < 225_000)
        assert marked[inside].all() and not any(whole.beats.dropout_leads)
    assert {tuple(leads) for leads in windowed.beats.dropout_leads if leads} == {("MLII",)}
    assert marked.sum() > 250  # a window of 75,000 frames at least: 208 s of beats, marked, not lost
    np.testing.assert_allclose(windowed.beats.windows[~marked], whole.beats.windows[~marked], atol=1e-5)
    np.testing.assert_allclose(windowed.beats.windows[:, 1], whole.beats.windows[:, 1], atol=1e-5)  # V5
    said = [n for n in windowed.record.notes if n.startswith("lead MLII flat")]
    assert len(said) == 1 and "through 0:06:54-0:10:27: kept as a dropout there" in said[0]


def test_a_record_level_source_lands_a_record_with_dropouts_and_cuts_its_row_as_predict_does(tmp_path, store):
    """Ingest (PTB Diagnostic's s0010_re, lead i off for 0.5 s in its first 10 s): landed with its dropout,
    not quarantined; the records task's row starts past it, the very row `predict` makes of the record. A
    record with no clear 10 s is landed too, and its row counted as excluded for dropouts."""
    from feature_store.ingest import ingest_kind
    from feature_store.raw_store import RawSnapshot
    from feature_store.sources.registry import discover
    from feature_store.tasks import RECORDS
    from feature_store.views.inputs import load_input

    _blanked(PTB / "s0010_re", tmp_path, "lead_i", 0, (1000, 1500))
    _blanked(PTB / "s0010_re", tmp_path, "holes", 1, *[(k, k + 100) for k in range(0, 38_400, 9_000)])
    cfg = IngestConfig()
    report = ingest_kind("challenge", discover([tmp_path], cfg)["challenge"], store, cfg)  # PTB's layout
    assert sorted(report.landed) == ["holes", "lead_i"] and not report.quarantined  # non_finite before
    assert any(
        note == "1 dropout(s) in I (0.70 s of the stored signal): no row is cut from them" for _, note in report.notes
    )
    snaps = [RawSnapshot("challenge", str(store.root), report.snapshot, report.record_ids)]
    stored = snaps[0].scan_records().select("record_id", "fs", "dropouts").collect().sort("record_id")
    # 1-1.5 s at 100 Hz, and the 0.1 s that resampling from 1000 Hz spreads a sample
    assert stored["dropouts"][1].to_list() == [{"lead": "I", "start": 90, "stop": 160}]
    inp = load_input(RECORDS, snaps)
    assert inp.keys["entity_id"].to_list() == ["lead_i"] and inp.excluded == {"missing_leads": 0, "dropouts": 1}
    spec = ViewInput(fs=inp.fs, samples=inp.signal.shape[-1], crop=None, lead_names=STANDARD_12, unit="record")
    online = record_input(tmp_path / "lead_i", spec, task="records")
    assert any("the row is the first 10 s clear of dropouts, from 1.60 s" in n for n in online.notes)
    np.testing.assert_allclose(inp.signal, online.signal, atol=1e-4)  # ingest's row is predict's row


def test_a_row_stored_at_another_rate_than_the_tasks_starts_within_a_few_samples_of_predicts(tmp_path, store):
    """CinC 2017's A00043 (300 Hz, 50 s), its lead off from 5 to 6 s, ingested at 250 Hz for the af task's
    100 Hz: the stored dropout holds the 300 -> 250 Hz spread and `row_start` adds the 250 -> 100 Hz one,
    where `predict` adds the 300 -> 100 Hz spread once. Each chain keeps its row clear of the stand-in line;
    ingest's row starts 4 samples (0.04 s) later, and agrees with `predict`'s to the double resampling's 1e-3."""
    import shutil

    from feature_store.ingest import ingest_kind
    from feature_store.raw_store import RawSnapshot
    from feature_store.sources.registry import discover
    from feature_store.tasks import AF
    from feature_store.views.inputs import load_input

    plain = tmp_path / "plain"  # wfdb reads CinC 2017's date-first header line only without its date
    plain.mkdir()
    shutil.copyfile(CINC2017 / "A00043.mat", plain / "A00043.mat")
    lines = (CINC2017 / "A00043.hea").read_text().splitlines()
    (plain / "A00043.hea").write_text("\n".join([" ".join(lines[0].split()[:4]), *lines[1:]]) + "\n")
    folder = tmp_path / "src"
    _blanked(plain / "A00043", folder, "gap", 0, (1500, 1800))
    (folder / "REFERENCE.csv").write_text("gap,O\n")
    cfg = IngestConfig(record_fs=250.0)
    report = ingest_kind("wfdb", discover([folder], cfg)["wfdb"], store, cfg)
    inp = load_input(AF, [RawSnapshot("wfdb", str(store.root), report.snapshot, report.record_ids)])
    assert inp.keys["entity_id"].to_list() == ["gap"] and inp.fs == 100.0
    spec = ViewInput(fs=inp.fs, samples=inp.signal.shape[-1], crop=None, lead_names=("ECG",), unit="record")
    online = record_input(folder / "gap", spec, task="af")
    assert any("the row is the first 30 s clear of dropouts, from 6.10 s" in n for n in online.notes)
    stored, scored = inp.signal[0, 0], online.signal[0, 0]
    np.testing.assert_allclose(stored[:-4], scored[4:], atol=1e-3)  # ingest's row: 0.04 s later


def test_the_neighbours_of_a_beat_left_out_for_a_dropout_read_their_rhythm_as_in_the_clean_record(tmp_path):
    """A training row a dropout spoils stays a row until the features are made, as in `predict`: its
    neighbours' rhythm context (9 intervals either side) is the clean record's, not spliced across it; then it
    leaves the view, counted as excluded."""
    from feature_store.backend import numpy_backend
    from feature_store.ingest import ingest_kind
    from feature_store.raw_store import RawSnapshot, RawStore
    from feature_store.sources.registry import discover
    from feature_store.tasks import BEATS
    from feature_store.views.store import FeatureStore

    cfg, views = IngestConfig(), {}
    for name in ("clean", "gapped"):
        folder = tmp_path / name
        copy_record(MITDB / "209", folder)  # DS1: the train rows
        if name == "clean":
            copy_record(MITDB / "100", folder)
        else:
            _blanked(MITDB / "100", folder, "100", 0, (5000, 5400))  # MLII: the beats task reads it
        store = RawStore(tmp_path / f"home_{name}" / "store")
        report = ingest_kind("annotated", discover([folder], cfg)["annotated"], store, cfg)
        features = FeatureStore(store.root)
        made = features.materialize(
            BEATS, "time", [RawSnapshot("annotated", str(store.root), report.snapshot, report.record_ids)],
            backend=numpy_backend(),
        )  # fmt: skip
        views[name] = (made, features.training_set(["beats_time"], ("DS1", "DS2")))
    (made, gapped), (_, clean) = views["gapped"], views["clean"]
    lost = {"100:4764", "100:5060", "100:5346", "100:5633"}
    assert made.entry.lineage.excluded.get("dropouts") == 4 and not lost & set(gapped.ids)
    assert set(clean.ids) - set(gapped.ids) == lost
    at = {entity: i for i, entity in enumerate(clean.ids)}
    rows = [at[entity] for entity in gapped.ids]
    context = gapped.features["beats_time"]["rr_context"]
    np.testing.assert_allclose(context, clean.features["beats_time"]["rr_context"][rows], atol=1e-6)


def test_a_beat_a_dropout_spoils_is_read_against_its_records_median_beat_never_part_of_it():
    """40 of record 100's first 100 beats with MLII's stand-in line across their window: the other 60 read
    against the median of the clear beats alone, as if the spoiled ones were not there; the spoiled ones
    are read against it too. Without `clear`, a line in 40 % of the beats pulls the median towards it."""
    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef
    from feature_store.transforms.template import record_templates

    beats = AnnotatedBeatSource().load(RecordRef("annotated", MITDB / "100", MITDB), IngestConfig()).beats
    assert beats is not None
    waveform, r_peak = beats.windows[:100].astype(np.float64), beats.r_peak[:100]
    spoiled = np.zeros(100, bool)
    spoiled[::5], spoiled[1::5] = True, True
    waveform[spoiled, 0] = np.linspace(waveform[spoiled, 0, 0], waveform[spoiled, 0, -1], 720, axis=-1)  # a line
    record = np.full(100, "100")

    def read(rows, clear=None):
        return record_templates(waveform[rows], record[rows], r_peak[rows], centre=360, half=36, clear=clear)

    with_clear = read(np.arange(100), ~spoiled)
    np.testing.assert_allclose(with_clear[~spoiled], read(np.flatnonzero(~spoiled)), atol=1e-6)
    assert not np.allclose(read(np.arange(100))[~spoiled], with_clear[~spoiled], atol=1e-3)


def test_a_beat_a_dropout_spoils_takes_only_its_own_pick_out_of_a_long_records_median_beat():
    """MIT-BIH 100 (2,270 beats; the median is taken over 1,000 of them) with 8 beats spoiled in three
    places: every other beat is read against nearly the clean record's median beat (within 2e-3; 0.0010
    measured), as the picks are spread over all the record's beats and the spoiled ones only leave theirs.
    Spread over the clear beats alone, 8 fewer shifted every pick: 0.012."""
    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef
    from feature_store.transforms.template import record_templates

    beats = AnnotatedBeatSource().load(RecordRef("annotated", MITDB / "100", MITDB), IngestConfig()).beats
    assert beats is not None and len(beats.r_peak) > 2000
    waveform, record = beats.windows.astype(np.float64), np.full(len(beats.r_peak), "100")
    clear = np.ones(len(record), bool)
    clear[[300, 301, 302, 1200, 1201, 2000, 2001, 2002]] = False
    spoiled = waveform.copy()
    spoiled[~clear, 0] = 0.0  # MLII's stand-in line
    clean = record_templates(waveform, record, beats.r_peak, centre=360, half=36)
    read = record_templates(spoiled, record, beats.r_peak, centre=360, half=36, clear=clear)
    assert np.abs(read - clean)[clear].max() < 2e-3


def test_a_lead_held_at_one_value_while_another_records_is_a_dropout_and_a_pause_in_every_lead_is_not(tmp_path):
    """MIMIC's ICU records write an electrode off as 0 held for seconds, not as invalid samples (wfdb-python's
    3975656_0016: lead II at 0 from 18 s to the end while V records). Record 100 with V5 held at 0 from 100 s
    to 130 s is read with that run as V5's dropout, and the beats there are left out of a task that reads V5;
    both leads held for 3 s (a recorder's gap, or a pause at a coarse resolution) is no dropout."""
    from feature_store.sources.wfdb_record import LEAD_OFF_S

    def hold(signal):
        signal[100 * 360 : 130 * 360, 1] = 0.0
        signal[200 * 360 : 203 * 360, :] = signal[200 * 360, :]

    record = rewrite_signal(MITDB / "100", tmp_path, "held", hold)
    sig = read_wfdb(record, IngestConfig(), keep_dropouts=True)
    assert [(d.lead, d.start, d.stop) for d in sig.dropouts] == [("V5", 100 * 360, 130 * 360)]
    assert LEAD_OFF_S < 3  # the 3 s in both leads is long enough: left alone for being in every lead
    held = record_input(record, BEATS_SPEC, task="beats")  # MLII, and V5 for V1
    clean = record_input(MITDB / "100", BEATS_SPEC, task="beats")
    assert held.scored is not None and held.beats is not None
    r_peak = held.beats["sample"].to_numpy()
    inside = (r_peak > 99 * 360) & (r_peak < 131 * 360)  # a beat's 2 s window reaches the run from 1 s off
    assert not held.scored[inside].any() and held.scored[~inside].all()
    assert len(held.keys) == len(clean.keys)  # context rows until the features are made


def test_a_record_whose_leads_hold_under_the_minimum_between_them_is_too_short(tmp_path):
    """PTB's s0010_re with every lead invalid after its first second: the edge is kept as a dropout (sample
    numbers stay the record's), but 1 s of signal is under `min_duration_s`, refused as such; 3 s is not."""

    def after(seconds):
        def blank(signal):
            signal[seconds * 1000 :, :] = np.nan

        return blank

    record = rewrite_signal(PTB / "s0010_re", tmp_path, "one_second", after(1))
    with pytest.raises(RecordError) as err:
        read_wfdb(record, IngestConfig(), keep_dropouts=True)
    assert err.value.code == "too_short" and "1000 samples at 1000 Hz (1.00 s) with a valid lead" in str(err.value)
    three = read_wfdb(rewrite_signal(PTB / "s0010_re", tmp_path, "three", after(3)), IngestConfig(), keep_dropouts=True)
    assert three.signal.shape[1] == 38_400 and {d.start for d in three.dropouts} == {3000}


def test_intervals_across_runs_given_in_pieces_are_those_across_the_whole_mask():
    """A long record's blind stretches come section by section as runs, cut at the sections' edges, in any
    order, overlapping where the reads do: the intervals across them are those across the whole mask."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        mask = np.repeat(rng.random(60) < 0.2, rng.integers(1, 30, 60))
        r_peak = np.sort(rng.choice(len(mask), size=rng.integers(0, 40), replace=False))
        whole = runs(mask)
        edges = [(a, int(rng.integers(a, b + 1)), b) for a, b in whole]  # each run cut once, maybe at an end
        pieces = [(a, c) for a, c, _ in edges] + [(c, b) for _, c, b in edges] + whole[::2]
        rng.shuffle(pieces)
        spans = np.array(pieces, np.int64).reshape(-1, 2)
        assert intervals_across_runs(spans, r_peak).tolist() == intervals_across(mask, r_peak).tolist()


def test_a_window_of_a_long_record_where_every_lead_is_flat_is_a_dropout_of_every_lead_not_a_refusal(tmp_path):
    """Record 100 with both leads at 0 from frame 140,000 to 240,000 (the recorder writing no signal), read in
    windows: the window inside that stretch holds no lead, so it is every lead's dropout, whose beats are not
    stored (counted with the edge beats, as any dropout of every lead's are) and the record lands; before, the
    window refused the record (flat_lead). A whole read keeps those beats (every lead still at once may be a
    pause), and a record flat in every window is refused as a whole read refuses it."""
    from dataclasses import replace

    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef
    from feature_store.sources.errors import RecordError

    def off(signal):
        signal[140_000:240_000] = 0.0

    record = rewrite_signal(MITDB / "100", tmp_path, "off", off)
    cfg = replace(IngestConfig(), max_record_values=300_000)
    whole = AnnotatedBeatSource().load(RecordRef("annotated", record, tmp_path), IngestConfig())
    windowed = AnnotatedBeatSource().load(RecordRef("annotated", record, tmp_path), cfg)
    assert whole.beats is not None and windowed.beats is not None
    inside = lambda r_peak: (r_peak > 150_000) & (r_peak < 225_000)  # noqa: E731
    assert inside(whole.beats.r_peak).sum() > 250 and not inside(windowed.beats.r_peak).any()
    assert len(windowed.record.edge_beat_labels) - len(whole.record.edge_beat_labels) > 250
    assert sum(n.startswith("lead ") and "flat" in n for n in windowed.record.notes) == 2  # each lead says where
    assert any("reach one in every lead, not stored" in n for n in windowed.record.notes)
    silent = rewrite_signal(MITDB / "100", tmp_path, "silent", lambda signal: signal.fill(0.0))
    with pytest.raises(RecordError) as err:
        AnnotatedBeatSource().load(RecordRef("annotated", silent, tmp_path), cfg)
    assert err.value.code == "flat_lead" and "in every window of the record; fix:" in str(err.value)
