"""Records too long to read whole: a beat-annotated record over `max_record_values` is read window by
window and gives exactly the beats of a whole read, every read stays under the limit, its row keeps no
signal, and a record whose rhythm episodes need its whole signal is refused by name. The real MIT-BIH
and CPSC 2021 records, with the limit lowered so that they count as long."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import wfdb

from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.raw_store import RawStore
from feature_store.sources import annotated
from feature_store.sources.annotated import AnnotatedBeatSource
from feature_store.sources.base import RecordRef
from feature_store.sources.errors import RecordError
from feature_store.sources.registry import discover
from feature_store.sources.wfdb_record import read_wfdb
from tests.records import CPSC2021, MITDB, afdb_layout, copy_record, edit_header

LIMIT = 300_000  # values: record 100 (650,000 frames x 2 leads) is then read in 9 windows


@pytest.mark.parametrize("beat_fs", [360.0, 250.0])  # as stored, and converted (windows must line up)
def test_a_long_record_read_in_windows_gives_the_beats_of_a_whole_read(beat_fs):
    ref = RecordRef("annotated", MITDB / "208", MITDB)
    cfg = IngestConfig(beat_fs=beat_fs)
    whole = AnnotatedBeatSource().load(ref, cfg)
    windowed = AnnotatedBeatSource().load(ref, replace(cfg, max_record_values=LIMIT))
    a, b = whole.beats, windowed.beats
    assert a is not None and b is not None
    np.testing.assert_array_equal(b.r_peak, a.r_peak)
    np.testing.assert_array_equal(b.windows, a.windows)
    np.testing.assert_array_equal(b.rr_prev_s, a.rr_prev_s)
    assert b.label == a.label and windowed.record.edge_beat_labels == whole.record.edge_beat_labels
    assert windowed.record.n_beats == whole.record.n_beats and windowed.record.labels == whole.record.labels
    # neither keeps the signal: a beat record without rhythm episodes never does (its beats hold the windows)
    assert windowed.record.signal.shape == whole.record.signal.shape == (2, 0)
    assert "read in 9 windows" in windowed.record.notes[-1]


@pytest.fixture
def read_spans(monkeypatch):
    """The (first, stop) frames of every signal read from here on."""
    spans = []
    real = wfdb.rdrecord

    def spy(*args, sampfrom=0, sampto=None, **kwargs):
        spans.append((sampfrom, sampto))
        return real(*args, sampfrom=sampfrom, sampto=sampto, **kwargs)

    monkeypatch.setattr(wfdb, "rdrecord", spy)
    return spans


def test_every_read_of_a_long_record_stays_under_the_limit(read_spans):
    spans = read_spans
    AnnotatedBeatSource().load(RecordRef("annotated", MITDB / "100", MITDB), IngestConfig(max_record_values=LIMIT))
    assert len(spans) == 9 and spans[0][0] == 0 and spans[-1][1] == 650_000
    assert all(stop is not None and (stop - start) * 2 <= LIMIT for start, stop in spans)


def test_a_long_record_lands_through_ingest_and_no_task_reads_its_signal(tmp_path):
    from feature_store.tasks import AF, RecordWindows
    from feature_store.views.inputs import _usable

    assert isinstance(AF.window, RecordWindows)  # af is a record task: _usable reads its rhythm windows

    src = tmp_path / "src"
    copy_record(MITDB / "100", src)
    cfg = IngestConfig(max_record_values=LIMIT)
    store = RawStore(tmp_path / "store")
    report = ingest_kind("annotated", discover([src], cfg)["annotated"], store, cfg)
    assert report.landed == ["100"] and not report.quarantined
    assert any("read in 9 windows" in note for _, note in report.notes)
    row = store.scan_records().select("n_samples", "n_beats", "rhythm_spans").collect().row(0, named=True)
    beats = store.scan_beats().select(pl.len()).collect().item()
    assert row["n_samples"] == 0 and row["n_beats"] == beats > 2000
    rows_for_af = store.scan_records().filter(_usable(AF.window)).select(pl.len()).collect().item()
    assert rows_for_af == 0  # no rhythm episodes: the af task never reads this record's (absent) signal


@pytest.mark.parametrize("layout", ["cpsc2021", "afdb"])  # a header statement; rhythm changes only
def test_a_long_record_with_rhythm_episodes_is_refused_with_the_fix(layout, tmp_path, monkeypatch):
    cpsc = sorted(p.with_suffix("") for p in CPSC2021.glob("*.hea"))[0]
    record = cpsc if layout == "cpsc2021" else afdb_layout(cpsc, tmp_path, "04015")
    ref = RecordRef("annotated", record, record.parent)
    values = wfdb.rdheader(str(cpsc)).sig_len * 2
    reads: list[dict] = []

    def counted(*args, **kwargs):
        reads.append(kwargs)
        return read_wfdb(*args, **kwargs)

    monkeypatch.setattr(annotated, "read_wfdb", counted)
    with pytest.raises(RecordError) as err:
        AnnotatedBeatSource().load(ref, IngestConfig(max_record_values=values // 3))
    assert err.value.code == "too_long" and "rhythm episodes need the whole signal" in str(err.value)
    assert "fix:" in str(err.value) and len(reads) <= 1  # refused from the header, or the first window's


def test_beats_outside_a_long_record_are_refused_before_any_window_is_read(tmp_path, monkeypatch):
    record = copy_record(MITDB / "100", tmp_path)
    ann = wfdb.rdann(str(MITDB / "100"), "atr")  # written again at twice its samples: half past the end
    wfdb.wrann("100", "atr", ann.sample * 2, symbol=ann.symbol, write_dir=str(tmp_path))
    reads = []
    monkeypatch.setattr(wfdb, "rdrecord", lambda *args, **kwargs: reads.append(args))
    with pytest.raises(RecordError) as err:
        AnnotatedBeatSource().load(RecordRef("annotated", record, tmp_path), IngestConfig(max_record_values=LIMIT))
    assert err.value.code == "annotation_unreadable" and "outside the record's 650000 samples" in str(err.value)
    assert "fix:" in str(err.value) and not reads


def _sections_and_whole(record, monkeypatch, limit=LIMIT, task="af", spec=None):
    from feature_store.views.catalog import ViewInput
    from feature_store.views.online import NothingClear, record_input, record_sections

    spec = spec or ViewInput(fs=100.0, samples=3000, crop=None, lead_names=("ECG",), unit="record")
    whole = record_input(record, spec, task=task)
    monkeypatch.setenv("ECGNET_MAX_RECORD_VALUES", str(limit))
    sections, parts, skipped = record_sections(record, task), [], []
    assert sections is not None
    for section in sections:
        try:
            parts.append(record_input(record, spec, task=task, section=section))
        except NothingClear as err:
            skipped.append(str(err))
    return whole, sections, parts, skipped


def test_predict_reads_a_record_over_the_limit_for_the_af_task_in_sections_with_the_whole_records_windows(
    monkeypatch, read_spans
):
    """MIT-BIH 100 (30 min, 1.3 M values) with the limit at 300,000: `predict` reads it in sections of whole
    30 s windows, each read with a window either side, never more than the limit at once, and makes the
    60 windows of a whole read: the same samples (rate conversion lines up), names and first samples."""
    from feature_store.views.online import record_sections

    spans = read_spans
    whole, sections, parts, skipped = _sections_and_whole(MITDB / "100", monkeypatch)
    beats = record_sections(MITDB / "100", "beats")  # 12 s margins either side (GQRS's context, a beat's window)
    assert beats is not None and len(beats) == 5 and beats[1].read == (141_360 - 4_320, 282_720 + 4_320)
    assert len(sections) == 10 and not skipped and sections[-1].stop == 650_000
    assert all((stop - start) * 2 <= LIMIT for start, stop in spans[1:])  # [0]: the whole read
    said = ["section 1 of 10 (0:00:00-0:03:00)", "section 2 of 10 (0:03:00-0:06:00)"]
    assert [s.said() for s in sections[:2]] == said
    ids = [i for part in parts for i in part.keys["entity_id"].to_list()]
    assert ids == whole.keys["entity_id"].to_list() and len(ids) == 60
    np.testing.assert_array_equal(np.concatenate([p.starts for p in parts]), whole.starts)
    np.testing.assert_allclose(np.concatenate([p.signal for p in parts]), whole.signal, atol=1e-5)


def test_a_record_over_the_limit_keeps_out_the_windows_a_dropout_reaches_section_by_section(tmp_path, monkeypatch):
    """Record 100 with MLII off from 60 s to 250 s: the windows that touch it are left out as in a whole read,
    and a section wholly inside it gives none, said, not a refusal of the record (the window from 30 s ends
    within resampling's reach of the dropout)."""
    from tests.records import rewrite_signal

    def blank(signal):
        signal[60 * 360 : 250 * 360, 0] = np.nan

    record = rewrite_signal(MITDB / "100", tmp_path, "gap", blank)
    whole, sections, parts, skipped = _sections_and_whole(record, monkeypatch, 3 * 10_800 * 2 * 2)  # 1.5 min each
    spoiled = [(2, "0:01:30-0:03:00"), (3, "0:03:00-0:04:30")]
    assert skipped == [f"section {k} of 20 ({span}): every window touches a dropout" for k, span in spoiled]
    ids = [i for part in parts for i in part.keys["entity_id"].to_list()]
    assert ids == whole.keys["entity_id"].to_list() and len(ids) == 60 - 8
    np.testing.assert_allclose(np.concatenate([p.signal for p in parts]), whole.signal, atol=1e-5)
    assert parts[0].notes == [
        "lead ECG read from MLII",
        "section 1 of 20 (0:00:00-0:01:30): 2 of 3 windows of 30 s touch a dropout: not scored",
    ]


def test_a_section_whose_lead_is_held_throughout_is_skipped_and_the_rest_read_as_a_whole_read(tmp_path, monkeypatch):
    """Record 100 with MLII (the af task's lead) held at one value from 30 s to 250 s while V5 records: a
    section read wholly inside that stretch finds MLII flat, leaves it out and is skipped, said; the sections
    around it mark the held stretch as MLII's dropout, as a whole read does. The windows left are the whole
    read's; before, a section's flat lead refused the record."""
    from tests.records import rewrite_signal

    def hold(signal):
        signal[30 * 360 : 250 * 360, 0] = signal[30 * 360, 0]

    record = rewrite_signal(MITDB / "100", tmp_path, "held", hold)
    whole, sections, parts, skipped = _sections_and_whole(record, monkeypatch, 3 * 10_800 * 2 * 2)  # 1.5 min each
    assert skipped == [  # the first window ends within resampling's reach of the stretch, as in a whole read
        "section 1 of 20 (0:00:00-0:01:30): every window touches a dropout",
        "section 2 of 20 (0:01:30-0:03:00): lead(s) ['MLII'] flat throughout",
        "section 3 of 20 (0:03:00-0:04:30): every window touches a dropout",
    ]
    ids = [i for part in parts for i in part.keys["entity_id"].to_list()]
    assert ids == whole.keys["entity_id"].to_list() and len(ids) == 60 - 9
    np.testing.assert_allclose(np.concatenate([p.signal for p in parts]), whole.signal, atol=1e-5)


def test_a_section_where_every_lead_is_flat_is_skipped_not_the_record_refused(tmp_path, monkeypatch):
    """Record 100 with both leads at 0 from 60 s to 210 s (the recorder off through the second section's read,
    its 90 s and a window either side): that section is skipped, said, and the others are read; before, its
    read refused the record (flat_lead). A whole read scores the flat windows (every lead still at once may
    be a pause)."""
    from tests.records import rewrite_signal

    def off(signal):
        signal[60 * 360 : 210 * 360] = 0.0

    record = rewrite_signal(MITDB / "100", tmp_path, "off", off)
    whole, sections, parts, skipped = _sections_and_whole(record, monkeypatch, 3 * 10_800 * 2 * 2)  # 1.5 min each
    assert skipped == ["section 2 of 20 (0:01:30-0:03:00): every lead flat throughout (the recorder off)"]
    ids = [i for part in parts for i in part.keys["entity_id"].to_list()]
    assert set(ids) < set(whole.keys["entity_id"].to_list()) and len(ids) == 60 - 3


def test_the_records_tasks_row_of_a_record_over_the_limit_is_looked_for_section_by_section(tmp_path, monkeypatch):
    """PTB Diagnostic's s0010_re (38.4 s at 1000 Hz, 15 signals) over a 360,000 limit, lead i off from 1 s
    to 25 s: the records task's row (the first 10 s clear of dropouts) is in no section before the third,
    each said; the third gives the whole read's row, read from 18 s on. Every read stays under the limit.
    Before, only the first section was read and the record refused."""
    from feature_store.sources.leads import STANDARD_12
    from feature_store.views.catalog import ViewInput
    from tests.records import PTB, rewrite_signal

    def blank(signal):  # from 1 s: a whole read trims an edge where a lead has no samples yet
        signal[1_000:25_000, 0] = np.nan

    record = rewrite_signal(PTB / "s0010_re", tmp_path, "late", blank)
    spec = ViewInput(fs=100.0, samples=1000, crop=None, lead_names=STANDARD_12, unit="record")
    whole, sections, parts, skipped = _sections_and_whole(record, monkeypatch, 360_000, "records", spec)
    assert [(s.start, s.stop, s.read) for s in sections] == [  # 2 s margins: a held lead is seen as in a whole read
        (0, 10_000, (0, 22_000)),
        (10_000, 20_000, (8_000, 32_000)),
        (20_000, 38_400, (18_000, 38_400)),
    ]
    assert skipped == [
        f"section {k} of 3 ({span}): no 10 s clear of dropouts start there"
        for k, span in [(1, "0:00:00-0:00:10"), (2, "0:00:10-0:00:20")]
    ]
    assert len(parts) == 1 and parts[0].keys["entity_id"].to_list() == whole.keys["entity_id"].to_list() == ["late"]
    np.testing.assert_allclose(parts[0].signal, whole.signal, atol=1e-5)
    said = [n for n in whole.notes if n.startswith("the row is")]
    assert said == ["the row is the first 10 s clear of dropouts, from 25.10 s"]
    assert said[0] in parts[0].notes


def test_a_multi_frequency_record_over_the_limit_gives_the_whole_reads_windows(tmp_path, monkeypatch):
    """wfdb-python's mixedsignals (ECG at 4 samples a frame, pressure, pleth and respiration beside it), its
    frame rate written as 62.5 Hz so that 30 s are whole frames: read for the af task in sections of one
    window under a 120,000 limit (17 samples a frame: 95,625 a read), the windows, their ids (samples at the
    ECG's 250 Hz) and signals are a whole read's. Before, a read was sized by the signals, not their samples
    a frame, and the reader refused every section as over the limit."""
    import shutil

    corpus = Path(__file__).parent / "data" / "wfdb-corpus"
    for file in corpus.glob("mixedsignals*"):
        shutil.copyfile(file, tmp_path / file.name)
    record = tmp_path / "mixedsignals"
    edit_header(record, "mixedsignals 6 62.4725/999.56 14400", "mixedsignals 6 62.5 14400")
    whole, sections, parts, skipped = _sections_and_whole(record, monkeypatch, 120_000)
    assert len(sections) == 7 and whole.record_fs == 250.0
    # its ECG starts 4 s late (invalid samples, kept as a dropout): the first window is not scored either way
    assert skipped == ["section 1 of 7 (0:00:00-0:00:30): every window touches a dropout"]
    ids = [i for part in parts for i in part.keys["entity_id"].to_list()]
    assert ids == whole.keys["entity_id"].to_list() == [f"mixedsignals@{k * 7500}" for k in range(1, 7)]
    np.testing.assert_array_equal(np.concatenate([p.starts for p in parts]), whole.starts)
    np.testing.assert_allclose(np.concatenate([p.signal for p in parts]), whole.signal, atol=1e-5)
