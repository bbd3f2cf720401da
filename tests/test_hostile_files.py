"""Files a hostile or careless data folder holds: none of them crashes discovery, hangs ingest or lands
as an ECG; each is quarantined by name with the fix, and the good records beside it land."""

import os
import signal

import polars as pl
import pytest

from feature_store.ingest import ingest_kind
from feature_store.sources.registry import KINDS, discover, folder_state
from tests.malformed import HOSTILE
from tests.records import MITDB, copy_record, ptbxl_folder

GOOD = ["100", "208"]


@pytest.fixture
def deadline():
    """Fail instead of hanging: a FIFO header would block a careless reader forever."""

    def expire(*_):
        raise TimeoutError("ingest blocked for 60 s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _ingest_all(folder, cfg, store):
    refs = discover([folder], cfg)  # must not raise, whatever lies in the folder
    return {kind: ingest_kind(kind, refs[kind], store, cfg) for kind in KINDS}


def test_hostile_files_are_quarantined_by_name_and_good_records_land(tmp_path, cfg, store, deadline):
    folder = tmp_path / "data"
    for name in GOOD:
        copy_record(MITDB / name, folder)
    for _, make in HOSTILE.values():
        make(folder)
    assert folder_state([folder])  # the sensor's change check does not trip on links either
    reports = _ingest_all(folder, cfg, store)
    landed = sorted(r for report in reports.values() for r in report.landed)
    assert landed == GOOD
    quarantined = {q.path.rsplit("/", 1)[1]: q for report in reports.values() for q in report.quarantined}
    assert set(quarantined) == set(HOSTILE)
    for name, (code, _) in HOSTILE.items():
        q = quarantined[name]
        assert name in q.reason and "fix:" in q.reason, q.reason
        if code:
            assert q.code == code, (name, q.code, q.reason)
    assert "/etc/passwd" in quarantined["passwd"].reason
    assert store.scan_records().select(pl.len()).collect().item() == len(GOOD)
    again = _ingest_all(folder, cfg, store)  # a second run: nothing new lands, nothing crashes
    assert not any(r.landed for r in again.values()) and sum(r.unchanged for r in again.values()) >= len(GOOD)


def test_a_link_out_of_the_folder_lands_when_the_configuration_allows_it(tmp_path, cfg, store):
    from dataclasses import replace

    elsewhere = copy_record(MITDB / "100", tmp_path / "elsewhere")
    folder = tmp_path / "data"
    folder.mkdir()
    for file in elsewhere.parent.glob("100.*"):
        (folder / file.name).symlink_to(file)
    assert _ingest_all(folder, cfg, store)["annotated"].quarantined[0].code == "outside_folder"
    assert _ingest_all(folder, replace(cfg, outside_links=True), store)["annotated"].landed == ["100"]


def test_malformed_ptbxl_table_rows_are_quarantined_by_line_and_the_rest_land(tmp_path, cfg, store):
    root = ptbxl_folder(tmp_path / "ptbxl", range(6000, 6003))
    table = root / "ptbxl_database.csv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join([*lines, "6009,17", lines[1].replace("6000,", "x6000,", 1)]) + "\n")
    report = _ingest_all(root, cfg, store)["ptbxl"]
    assert sorted(report.landed) == ["6000", "6001", "6002"]
    codes = sorted(q.code for q in report.quarantined)
    assert codes == ["bad_table_row", "bad_table_row"]
    assert all("ptbxl_database.csv line" in q.reason and "fix:" in q.reason for q in report.quarantined)


def test_a_damaged_manifest_is_moved_aside_and_the_records_read_again(tmp_path, cfg, store, caplog):
    folder = tmp_path / "data"
    copy_record(MITDB / "100", folder)
    assert _ingest_all(folder, cfg, store)["annotated"].landed == ["100"]
    manifest = store.manifest_file("annotated")
    manifest.write_text(manifest.read_text()[:20])  # a kill or a full disk mid-write
    report = _ingest_all(folder, cfg, store)["annotated"]
    assert report.landed == ["100"]  # read again, nothing lost, no JSONDecodeError
    assert manifest.with_name("annotated.json.corrupt").is_file()
    assert str(manifest) in caplog.text and "read again" in caplog.text


def test_two_ingests_of_one_kind_at_once_keep_every_manifest_entry(tmp_path, cfg, store):
    from concurrent.futures import ThreadPoolExecutor

    folders = [tmp_path / "a", tmp_path / "b"]
    copy_record(MITDB / "100", folders[0])
    copy_record(MITDB / "208", folders[1])

    def ingest(folder):
        return ingest_kind("annotated", discover([folder], cfg)["annotated"], store, cfg)

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(ingest, folders))
    assert sorted(r for report in reports for r in report.landed) == GOOD
    entries = store.load_manifest("annotated")
    assert sorted(e["record_id"] for e in entries.values()) == GOOD  # neither run wrote back over the other


def test_a_view_write_killed_midway_leaves_no_temporary_folder_behind(tmp_path):
    import subprocess

    import pyarrow as pa

    from feature_store.views.storage import write_view

    gone = subprocess.Popen(["true"])
    gone.wait()  # a process that no longer runs, as a killed writer
    directory = tmp_path / "beats_time" / "v1"
    orphan = directory.with_name(f".v1.{gone.pid}.tmp")
    orphan.mkdir(parents=True)
    (orphan / "part-00000.parquet").write_bytes(b"half")
    mine = directory.with_name(f".v1.{os.getpid()}.tmp")
    assert write_view(directory, pa.table({"x": [1, 2, 3]})) > 0
    assert not orphan.exists() and not mine.exists()
    assert sorted(p.name for p in directory.parent.iterdir()) == ["v1"]
