"""Broken records made from real ones never crash ingest: each is quarantined with its reason."""

import numpy as np
import polars as pl
import pytest

from feature_store.ingest import ingest_kind
from feature_store.sources.registry import discover
from tests.malformed import BREAKAGES, truncate
from tests.records import CINC, MITDB, copy_record, edit_header

GOOD = ["100", "208"]


@pytest.fixture
def broken_folder(tmp_path):
    folder = tmp_path / "broken"
    expected = {}
    for name, code, make in BREAKAGES.values():
        make(folder)
        expected[name] = code
    for name in GOOD:
        copy_record(MITDB / name, folder)
    return folder, expected


def test_every_broken_record_is_quarantined_with_its_reason_and_good_ones_land(broken_folder, cfg, store):
    folder, expected = broken_folder
    refs = discover([folder], cfg)["annotated"]  # copies of MIT-BIH records, .atr included
    assert len(refs) == len(BREAKAGES) + len(GOOD)
    report = ingest_kind("annotated", refs, store, cfg)
    assert sorted(report.landed) == GOOD
    got = {q.path.rsplit("/", 1)[1]: q for q in report.quarantined}
    assert {name: q.code for name, q in got.items()} == expected
    for name, q in got.items():
        assert name in q.reason and "fix:" in q.reason  # names the file and the fix
    table = store.scan_quarantine().collect()
    assert sorted(table["reason_code"].to_list()) == sorted(expected.values())
    assert store.scan_records().select(pl.len()).collect().item() == len(GOOD)


def test_broken_challenge_records_beside_good_ones(tmp_path, cfg, store):
    folder = tmp_path / "cinc"
    for name in ("HR06000", "HR06001", "E07500"):
        copy_record(CINC / name, folder)
    edit_header(copy_record(CINC / "HR06002", folder, "dx"), "# Dx: 426177001,426783006,713426002", "# Dx: sinus brady")
    mat = copy_record(CINC / "HR06003", folder, "cut").with_name("cut.mat")
    mat.write_bytes(mat.read_bytes()[:5000])
    report = ingest_kind("challenge", discover([folder], cfg)["challenge"], store, cfg)
    assert sorted(report.landed) == ["E07500", "HR06000", "HR06001"]
    assert sorted(q.code for q in report.quarantined) == ["length_mismatch", "unmappable_labels"]


def test_duplicate_record_id_is_quarantined_and_the_first_one_kept(tmp_path, cfg, store):
    copy_record(CINC / "HR06000", tmp_path / "a")
    copy_record(CINC / "HR06000", tmp_path / "b")
    report = ingest_kind("challenge", discover([tmp_path], cfg)["challenge"], store, cfg)
    assert report.landed == ["HR06000"]
    (q,) = report.quarantined
    assert q.code == "duplicate_id" and q.path.endswith("b/HR06000") and "a/HR06000" in q.reason


def test_real_records_with_flat_leads_land_without_them_and_serve_the_tasks_that_read_other_leads(cfg, store):
    """Two of the bundled Ningbo records (JS20004, JS20008) carry all-zero V2, V4 and V6: they land with
    their nine other leads and a note, as a record without those leads would. The records task, which reads
    all twelve, counts JS20004 as missing leads; `predict` scores its beats (II and V1) and says why the
    records model cannot read it. Every lead flat is still refused (tests/malformed.py)."""
    from feature_store.raw_store import RawSnapshot
    from feature_store.tasks import RECORDS
    from feature_store.views.catalog import ViewInput
    from feature_store.views.inputs import load_input
    from feature_store.views.online import record_input

    refs = [r for r in discover([CINC], cfg)["challenge"] if r.path.name in ("JS20004", "JS20005")]
    report = ingest_kind("challenge", refs, store, cfg)
    assert sorted(report.landed) == ["JS20004", "JS20005"] and not report.quarantined
    said = "lead(s) ['V2', 'V4', 'V6'] are flat (peak-to-peak < 0.01 mV): left out; fix: check the electrode"
    assert (str(CINC / "JS20004"), said) in report.notes
    leads = store.scan_records().filter(pl.col("record_id") == "JS20004").collect()["lead_names"].to_list()
    assert leads == [["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V3", "V5"]]
    records = load_input(RECORDS, [RawSnapshot("challenge", str(store.root), report.snapshot, report.record_ids)])
    assert records.keys["entity_id"].to_list() == ["JS20005"] and records.excluded["missing_leads"] == 1
    beats = ViewInput(fs=360.0, samples=720, crop=(270, 522), lead_names=("MLII", "V1"), unit="beat")
    scored = record_input(CINC / "JS20004", beats, task="beats")
    assert len(scored.keys) >= 8 and said in scored.notes and "lead MLII read from II" in scored.notes
    whole = ViewInput(fs=100.0, samples=1000, crop=None, lead_names=tuple(leads[0]), unit="record")
    with pytest.raises(ValueError, match=r"without V2, V4, V6 \(flat: left out\).*check the flat leads' electrodes"):
        record_input(CINC / "JS20004", whole, task="records")


def test_a_fixed_record_leaves_quarantine(tmp_path, cfg, store):
    rec = copy_record(MITDB / "100", tmp_path, "fixme")
    edit_header(rec, "2 360 650000", "2 123 650000")
    ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    assert store.scan_quarantine().select(pl.len()).collect().item() == 1
    edit_header(rec, "2 123 650000", "2 360 650000")
    report = ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    assert report.landed == ["fixme"]
    assert store.scan_quarantine().select(pl.len()).collect().item() == 0


def test_a_record_that_breaks_later_leaves_the_raw_store(tmp_path, cfg, store):
    rec = copy_record(MITDB / "100", tmp_path, "later")
    ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    truncate(rec)
    report = ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    assert report.quarantined[0].code == "length_mismatch"
    assert store.scan_records().select(pl.len()).collect().item() == 0


def test_a_multi_segment_record_reads_as_its_segments_joined(tmp_path, cfg):
    from feature_store.sources.wfdb_record import read_wfdb

    copy_record(MITDB / "100", tmp_path, "seg1")
    copy_record(MITDB / "100", tmp_path, "seg2")
    (tmp_path / "multi.hea").write_text("multi/2 2 360 1300000\nseg1 650000\nseg2 650000\n")
    one, joined = read_wfdb(tmp_path / "seg1", cfg), read_wfdb(tmp_path / "multi", cfg)
    assert joined.record_id == "multi" and joined.lead_names == one.lead_names == ["MLII", "V5"]
    np.testing.assert_array_equal(joined.signal, np.concatenate([one.signal, one.signal], axis=1))
    refs = discover([tmp_path], cfg)
    assert [r.path.name for r in refs["wfdb"]] == ["multi"]  # its segments are not records of their own
    assert [r.path.name for r in refs["annotated"]] == []
    assert {f.name for f in refs["wfdb"][0].files()} >= {"multi.hea", "seg1.hea", "seg1.dat", "seg2.dat"}


def test_a_record_deleted_from_its_folder_leaves_the_store(tmp_path, cfg, store):
    keep, gone = copy_record(MITDB / "100", tmp_path, "keep"), copy_record(MITDB / "100", tmp_path, "gone")
    bad = copy_record(MITDB / "100", tmp_path, "bad")
    edit_header(bad, "2 360 650000", "2 123 650000")
    ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    assert store.scan_records().select(pl.len()).collect().item() == 2
    for record in (gone, bad):
        for file in tmp_path.glob(record.name + ".*"):
            file.unlink()
    report = ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    assert sorted(report.removed) == [str(bad), str(gone)] and report.unchanged == 1
    assert store.scan_records().select("record_id").collect()["record_id"].to_list() == [keep.name]
    assert store.scan_beats().select(pl.col("record_id").unique()).collect()["record_id"].to_list() == [keep.name]
    assert store.scan_quarantine().select(pl.len()).collect().item() == 0


def test_a_truncated_store_file_is_read_again_not_reported_unchanged(tmp_path, cfg, store):
    copy_record(MITDB / "100", tmp_path, "cut")
    ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    stored = store.beats_file("annotated", "cut")
    stored.write_bytes(stored.read_bytes()[: stored.stat().st_size // 2])  # a crash or a full disk mid-write
    report = ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    assert report.landed == ["cut"] and report.unchanged == 0
    assert store.scan_beats().select(pl.len()).collect().item() > 2000  # readable again


def test_an_af_database_record_of_other_rhythms_only_is_told_apart_from_a_broken_one(tmp_path, cfg, store):
    """AFDB's layout (rhythm changes only in the .atr) on a bundled CPSC 2021 record, its rhythms renamed
    to ones the af task does not map (sinus bradycardia, bigeminy): no episode and no beat, quarantined
    with the codes it found and the ones the af task reads."""
    from tests.records import CPSC2021, afdb_layout

    afdb_layout(CPSC2021 / "data_101_8", tmp_path, "af1", notes={"(AFIB": "(SBR", "(N": "(B"})
    report = ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    (q,) = report.quarantined
    assert q.code == "no_beats" and "af1.atr: 4 rhythm annotations ((B, (SBR) and no beat" in q.reason
    assert "(N, (AFIB, (AFL, (J" in q.reason and "fix:" in q.reason
    assert report.landed == []


def test_a_later_reader_reads_again_what_an_earlier_one_quarantined_and_nothing_else(tmp_path, cfg, store, monkeypatch):
    """A workspace ingested before its reader learnt a layout keeps that layout's records quarantined while
    their files do not change, unless the reader's revision says it may land them now: then they are read
    again, and the records that landed (of that kind or another) are not. AFDB's layout on a bundled CPSC
    2021 record, quarantined by the reader as it was (revision 0), beside MIT-BIH 100 and a plain CinC 2017 record."""
    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.errors import RecordError
    from feature_store.sources.registry import SOURCES
    from tests.records import CINC2017, CPSC2021, afdb_layout

    afdb_layout(CPSC2021 / "data_101_8", tmp_path / "src", "04015")
    copy_record(MITDB / "100", tmp_path / "src")
    copy_record(CINC2017 / "A00001", tmp_path / "src")
    refs = discover([tmp_path / "src"], cfg)
    reader, today = SOURCES["annotated"], AnnotatedBeatSource().load

    def ingest():
        return {kind: ingest_kind(kind, refs[kind], store, cfg) for kind in ("annotated", "wfdb")}

    def old_reader(ref, cfg):
        if ref.path.name == "04015":
            raise RecordError("no_beats", f"{ref.path}.atr: rhythm annotations and no beat annotation")
        return today(ref, cfg)

    with monkeypatch.context() as m:
        m.setattr(reader, "revision", 0)
        m.setattr(reader, "load", old_reader)
        before = ingest()
        assert [q.code for q in before["annotated"].quarantined] == ["no_beats"] and before["annotated"].landed == [
            "100"
        ]
        m.setattr(reader, "load", today)  # today's reader at the old revision: nothing changed, nothing read
        same = ingest()
        assert same["annotated"].unchanged == 2 and not same["annotated"].landed
    after = ingest()  # today's reader and revision
    assert AnnotatedBeatSource.revision > 0 and after["annotated"].landed == ["04015"]
    assert after["annotated"].unchanged == 1 and after["wfdb"].unchanged == 1 and not after["wfdb"].landed
    assert store.scan_quarantine().collect().height == 0
    assert ingest()["annotated"].unchanged == 2  # and once landed, it stays


def test_a_signal_file_without_its_header_and_a_bdf_file_are_quarantined_by_name(tmp_path, cfg, store):
    """What looks like a record's file but no record reads is said, not passed over: a .dat whose header was
    lost in a copy, and BioSemi's BDF (not read); a header naming a signal file of another name is no stray."""
    import shutil

    from tests.records import write_edf

    folder = tmp_path / "copied"
    copy_record(MITDB / "100", folder)
    copy_record(MITDB / "208", folder, "lost").with_name("lost.hea").unlink()
    other = copy_record(MITDB / "223", folder, "renamed")
    other.with_name("renamed.dat").rename(folder / "signal_of_renamed.dat")
    edit_header(other, "renamed.dat", "signal_of_renamed.dat")
    bdf = write_edf(MITDB / "100", tmp_path / "edf", "biosemi").with_suffix(".edf")
    shutil.copyfile(bdf, folder / "biosemi.bdf")
    refs = discover([folder], cfg)
    assert [r.path.name for r in refs["annotated"]] == ["100", "renamed"]
    assert [r.path.name for r in refs["wfdb"]] == ["biosemi", "lost"]
    report = ingest_kind("wfdb", refs["wfdb"], store, cfg)
    got = {q.path.rsplit("/", 1)[1]: q for q in report.quarantined}
    assert {name: q.code for name, q in got.items()} == {"biosemi": "unknown_format", "lost": "header_unreadable"}
    assert "lost.dat: a signal file that no header names; fix: restore its header (lost.hea)" in got["lost"].reason
    assert "biosemi.bdf: BDF" in got["biosemi"].reason and "fix:" in got["biosemi"].reason
