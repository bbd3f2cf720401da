"""Records in EDF (what Holters and patches export; the WFDB library reads them as records of their own):
read as their WFDB originals are, found by discovery, and refused by name where a file holds no recording."""

import numpy as np
import pytest

from feature_store.ingest import ingest_kind
from feature_store.raw_store import RawStore
from feature_store.sources.errors import RecordError
from feature_store.sources.leads import canonical
from feature_store.sources.registry import discover
from feature_store.sources.wfdb_record import declared_size, read_wfdb
from tests.records import MITDB, copy_record, write_edf


def test_a_real_record_written_as_edf_reads_as_its_header_does(tmp_path, cfg, monkeypatch):
    record = write_edf(MITDB / "223", tmp_path, "night")  # MLII and V1, 360 Hz
    edf, original = read_wfdb(record, cfg), read_wfdb(MITDB / "223", cfg)
    n = edf.signal.shape[1]
    assert edf.lead_names == original.lead_names == ["MLII", "V1"] and edf.fs == original.fs == 360.0
    assert n == 650000 // 360 * 360 and edf.record_id == "night" and not edf.notes
    np.testing.assert_allclose(edf.signal, original.signal[:, :n], atol=1e-4)
    size = declared_size(record)
    assert (size.frames, size.per_frame, size.fs) == (n, 2, 360.0)
    # a window of a long record reads only its data records, and the same values as the whole read
    window = read_wfdb(record, cfg, frames=(360_123, 400_000), keep_dropouts=True)
    np.testing.assert_array_equal(window.signal, edf.signal[:, 360_123:400_000])
    # read a piece at a time, as a day-long Holter's is (its peak memory a WFDB record's): the same values
    from feature_store.sources import wfdb_record

    monkeypatch.setattr(wfdb_record, "READ_PIECE_FRAMES", 100_000)
    np.testing.assert_array_equal(read_wfdb(record, cfg).signal, edf.signal)
    pieces = read_wfdb(record, cfg, frames=(50_000, 250_001), keep_dropouts=True)
    np.testing.assert_array_equal(pieces.signal, edf.signal[:, 50_000:250_001])
    # microvolts, as many recorders write them, and EDF+'s lead names ("ECG II": type, space, lead)
    micro = read_wfdb(write_edf(MITDB / "223", tmp_path, "micro", units="uV", labels=["ECG MLII", "ECG V1"]), cfg)
    assert micro.lead_names == ["MLII", "V1"]
    np.testing.assert_allclose(micro.signal, edf.signal, atol=1e-4)


def test_edf_plus_lead_names_are_the_leads_they_name():
    named = {n: canonical(n) for n in ("ECG II", "EKG V2", "ecg  aVR", "ECG I", "EKG", "ECG 2", "ECG foo", "ECGII")}
    assert named == {
        "ECG II": "II",
        "EKG V2": "V2",
        "ecg  aVR": "aVR",
        "ECG I": "I",
        "EKG": "ECG",
        "ECG 2": "ECG2",  # a recorder's second unnamed lead, as before
        "ECG foo": None,
        "ECGII": None,  # without EDF+'s space it is no name of a lead
    }


def test_an_edf_record_with_its_beat_annotations_lands_with_its_originals_beats(tmp_path, cfg):
    write_edf(MITDB / "100", tmp_path / "edf", "100", atr=True)
    copy_record(MITDB / "100", tmp_path / "wfdb")
    refs = discover([tmp_path / "edf"], cfg)
    assert [(r.kind, r.path.name) for kind in refs.values() for r in kind] == [("annotated", "100")]
    assert [f.name for f in refs["annotated"][0].files()] == ["100.atr", "100.edf"]  # its fingerprint
    # its annotations are those of the 1,805 whole seconds written (the export of a stretch holds its own)
    edf = ingest_kind("annotated", refs["annotated"], RawStore(tmp_path / "a"), cfg)
    original = ingest_kind("annotated", discover([tmp_path / "wfdb"], cfg)["annotated"], RawStore(tmp_path / "b"), cfg)
    assert edf.landed == original.landed == ["100"] and not edf.quarantined
    # the EDF copy ends 0.56 s earlier (whole seconds): at most the last beat or two are too near its end
    assert edf.beats["S"] == original.beats["S"] and edf.beats["V"] == original.beats["V"]
    assert 0 <= original.beats["N"] - edf.beats["N"] <= 2


def test_an_edf_file_dropped_into_a_watched_folder_is_news_to_the_sensor(tmp_path):
    """The sensor launches an ingest when `folder_state` changes: an EDF file (in any case) is a record file to
    it, and so is a BDF file, which ingest quarantines by name (before, a lone BDF waited for other news)."""
    from feature_store.sources.registry import folder_state

    copy_record(MITDB / "100", tmp_path)
    before = folder_state([tmp_path])
    write_edf(MITDB / "223", tmp_path, "night")
    assert folder_state([tmp_path]) != before
    for name in ("day.Edf", "biosemi.bdf", "BIOSEMI2.BDF"):
        before = folder_state([tmp_path])
        (tmp_path / name).write_bytes(b"0" * 256)
        assert folder_state([tmp_path]) != before, name
    before = folder_state([tmp_path])
    (tmp_path / "notes.txt").write_text("not a record")
    assert folder_state([tmp_path]) == before


def test_an_edf_beside_its_records_own_header_is_not_a_second_record(tmp_path, cfg):
    """wfdb-python's corpus holds test_generator_2 as a header with its .dat and as an .edf: one record."""
    copy_record(MITDB / "100", tmp_path)
    write_edf(MITDB / "100", tmp_path, "100")
    refs = [r for kind in discover([tmp_path], cfg).values() for r in kind]
    assert [r.path.name for r in refs] == ["100"]
    assert read_wfdb(refs[0].path, cfg).signal.shape == (2, 650000)  # the header's record, not the EDF's


def _annotations_only(folder):
    import edfio

    folder.mkdir(parents=True, exist_ok=True)
    edfio.Edf([], annotations=[edfio.EdfAnnotation(0.0, None, "lights off")]).write(folder / "hypnogram.edf")


def _interrupted(file):
    """`file` as EDF+D: its data records with EDF+'s time-keeping, the second stamped 4 s after the first."""
    import edfio

    edf = edfio.read_edf(file)
    annotated = edfio.Edf(edf.signals, data_record_duration=1.0, annotations=[edfio.EdfAnnotation(0.5, None, "on")])
    annotated.write(file)
    raw = file.read_bytes()
    assert raw.count(b"+1\x14\x14") == 1 and b"EDF+C" in raw[192:236]
    file.write_bytes(raw.replace(b"+1\x14\x14", b"+4\x14\x14", 1).replace(b"EDF+C", b"EDF+D", 1))


def test_edf_files_that_hold_no_readable_recording_are_quarantined_by_name_and_the_others_land(tmp_path, cfg, store):
    folder = tmp_path / "exports"
    write_edf(MITDB / "100", folder, "good")
    _annotations_only(folder)
    (folder / "notes.EDF").write_text("exported by hand, not an EDF file\n")
    cut = write_edf(MITDB / "100", folder, "cut").with_suffix(".edf")
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    write_edf(MITDB / "100", folder, "slow", fs=123)  # a rate no ECG recorder uses: a wrong header
    _interrupted(write_edf(MITDB / "100", folder, "gaps").with_suffix(".edf"))
    garbled = write_edf(MITDB / "100", folder, "garbled").with_suffix(".edf")
    raw = bytearray(garbled.read_bytes())
    at = 256 + 2 * (16 + 80 + 8 + 8 + 8)  # the first signal's digital minimum, which edfio parses when asked
    raw[at : at + 8] = b"-+2768  "
    garbled.write_bytes(bytes(raw))
    padded = write_edf(MITDB / "100", folder, "padded").with_suffix(".edf")
    padded.write_bytes(padded.read_bytes() + b"\0" * 100)  # bytes its header does not count
    loud = write_edf(MITDB / "100", folder, "loud", units="uV").with_suffix(".edf")
    raw = bytearray(loud.read_bytes())
    at = 256 + 2 * (16 + 80)  # the signals' physical dimensions: microvolts written as millivolts
    raw[at : at + 16] = b"mV      mV      "
    loud.write_bytes(bytes(raw))
    live = write_edf(MITDB / "100", folder, "live").with_suffix(".edf")
    raw = bytearray(live.read_bytes())
    raw[236:244] = b"-1      "  # the count of data records of a recording still being written: the file's own
    live.write_bytes(bytes(raw))
    refs = discover([folder], cfg)["wfdb"]
    names = ["cut", "gaps", "garbled", "good", "hypnogram", "live", "loud", "notes", "padded", "slow"]
    assert sorted(r.path.name for r in refs) == names
    report = ingest_kind("wfdb", refs, store, cfg)
    assert report.landed == ["good", "live"]
    got = {q.path.rsplit("/", 1)[1]: q for q in report.quarantined}
    assert {name: q.code for name, q in got.items()} == {
        "cut": "length_mismatch",
        "gaps": "discontinuous",
        "garbled": "header_unreadable",
        "padded": "length_mismatch",
        "hypnogram": "no_signals",
        "loud": "implausible_amplitude",
        "notes": "header_unreadable",
        "slow": "unknown_fs",
    }
    for name, q in got.items():
        assert f"{name}.{'EDF' if name == 'notes' else 'edf'}" in q.reason and "fix:" in q.reason, q.reason
    assert "physical range and unit" in got["loud"].reason and ".hea" not in got["loud"].reason


def test_an_uncalibrated_signal_is_left_out_and_the_record_read(tmp_path, cfg):
    """A recorder's event channel written with no physical range (edfio writes none such: the header is
    edited as a recorder would have written it)."""
    import edfio

    record = write_edf(MITDB / "100", tmp_path, "marked")
    file = record.with_suffix(".edf")
    edf = edfio.read_edf(file)
    marker = edfio.EdfSignal(np.zeros(len(edf.signals[0].data)), 360, label="Event", physical_range=(0.0, 1.0))
    edfio.Edf([*edf.signals, marker], data_record_duration=1.0).write(file)
    ns, raw = 3, bytearray(file.read_bytes())
    at = 256 + ns * (16 + 80 + 8 + 8) + 8 * 2  # the third signal's physical maximum
    raw[at : at + 8] = b"0       "
    file.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="Physical minimum equals"):  # edfio's; the reader never asks it to
        edfio.read_edf(file).signals[2].data  # noqa: B018
    read = read_wfdb(record, cfg)
    assert read.lead_names == ["MLII", "V5"]
    assert any("'Event' is uncalibrated" in n for n in read.notes), read.notes


def test_a_refusal_of_an_edf_file_is_a_record_error_naming_it(tmp_path, cfg):
    _annotations_only(tmp_path)
    with pytest.raises(RecordError, match=r"hypnogram\.edf: holds no signal"):
        declared_size(tmp_path / "hypnogram")
