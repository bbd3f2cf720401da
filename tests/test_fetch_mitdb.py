"""benchmarks/fetch_mitdb.py: the bench refuses a MIT-BIH folder that lacks any record of the protocol and
says which, on the bundled sample's real records; and `make mitdb` downloads through wfdb from a PhysioNet
mirror served on this machine (CI has no network)."""

import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks.fetch_mitdb import STAGING, fetch, missing
from feature_store.sources.splits import mitdb_table
from feature_store.workspace import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "sample" / "mitdb"


def test_a_folder_is_complete_only_with_every_records_signal_header_and_annotations(tmp_path):
    present = sorted(p.stem for p in SAMPLE.glob("*.hea"))
    for f in SAMPLE.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / f"{present[0]}.atr").unlink()
    gaps = missing(tmp_path)
    assert gaps[present[0]] == [".atr"]
    assert not set(present[1:]) & set(gaps)
    assert set(gaps) == set(mitdb_table()) - set(present[1:])
    assert gaps["101"] == [".hea", ".dat", ".atr"]  # not bundled


def test_the_check_names_the_missing_records_and_the_fix(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.fetch_mitdb", "--check", str(tmp_path / "absent")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert run.returncode == 1
    assert f"lacks {len(mitdb_table())} records' files" in run.stderr
    assert "make mitdb" in run.stderr and "MITDB=" in run.stderr


@pytest.fixture
def mirror(tmp_path):
    """A PhysioNet mirror on this machine, over HTTP, holding the bundled 209 and 220 in its layout: the
    content page that names the version, and the version's files with their RECORDS and ANNOTATORS lists."""
    root = tmp_path / "physionet"
    files = root / "files" / "mitdb" / "1.0.0"
    files.mkdir(parents=True)
    (root / "content" / "mitdb" / "1.0.0").mkdir(parents=True)
    (root / "content" / "mitdb" / "index.html").write_text("<p>Version: 1.0.0</p>\n")
    (root / "content" / "mitdb" / "1.0.0" / "index.html").write_text("mitdb\n")
    (files / "RECORDS").write_text("209\n220\n")
    (files / "ANNOTATORS").write_text("atr\treference beat, rhythm and signal quality annotations\n")
    for f in SAMPLE.iterdir():
        if f.stem in ("209", "220"):
            shutil.copy(f, files / f.name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class Quiet(SimpleHTTPRequestHandler):
    requests: list[str] = []  # "METHOD path" of every request served, in order

    def log_message(self, *args):  # the test's output is the test's
        pass

    def log_request(self, code="-", size="-"):
        Quiet.requests.append(f"{self.command} {self.path}")


def test_missing_records_are_downloaded_through_wfdb_whole_and_nothing_else(mirror, tmp_path):
    folder = tmp_path / "mitdb"
    fetch(folder, ["209"], mirror)
    assert sorted(p.name for p in folder.iterdir()) == ["209.atr", "209.dat", "209.hea"]  # no staging left
    for f in folder.iterdir():
        assert f.read_bytes() == (SAMPLE / f.name).read_bytes()
    assert "209" not in missing(folder) and "220" in missing(folder)


def test_a_signal_file_two_leads_share_is_fetched_once(mirror, tmp_path):
    """209's header names 209.dat once per lead: wfdb's dl_database downloads it in both of its threads,
    and the second appends to the file the first is still writing (a doubled signal, seen in CI)."""
    Quiet.requests.clear()
    fetch(tmp_path / "mitdb", ["209"], mirror)
    assert [r for r in Quiet.requests if r.startswith("GET") and r.endswith("/209.dat")] == [
        "GET /files/mitdb/1.0.0/209.dat"
    ]


@pytest.mark.parametrize("damage", ["doubled", "truncated"])
def test_a_signal_file_of_the_wrong_size_is_refused_and_nothing_moves(mirror, tmp_path, damage):
    served = tmp_path / "physionet" / "files" / "mitdb" / "1.0.0" / "220.dat"
    data = served.read_bytes()
    served.write_bytes(data + data if damage == "doubled" else data[:-3])
    folder = tmp_path / "mitdb"
    with pytest.raises(OSError, match=r"220\.dat: downloaded .* bytes where its header names 1,950,000"):
        fetch(folder, ["209", "220"], mirror)
    assert [p.name for p in folder.iterdir()] == [STAGING]


def test_a_failed_download_says_what_to_do_and_leaves_no_file_the_check_would_take(mirror, tmp_path):
    folder = tmp_path / "mitdb"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.fetch_mitdb", str(folder), "--physionet", mirror],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    # the mirror lacks most of the protocol's records: wfdb fails on the first it cannot read
    assert run.returncode == 1
    assert f"download from {mirror} failed" in run.stderr and "PHYSIONET=" in run.stderr
    assert "Traceback" not in run.stderr


def test_an_interrupted_download_moves_nothing_into_place(mirror, tmp_path):
    """wfdb fetches a record's header before its signal: a signal that fails must not leave the header
    (nor a truncated signal) where the next `make mitdb` would take the record as partly there."""
    (tmp_path / "physionet" / "files" / "mitdb" / "1.0.0" / "209.dat").unlink()
    folder = tmp_path / "mitdb"
    with pytest.raises(OSError, match="209.dat"):
        fetch(folder, ["209"], mirror)
    assert [p.name for p in folder.iterdir()] == [STAGING]
    fetch(folder, ["220"], mirror)  # the next download starts its staging afresh
    assert sorted(p.name for p in folder.iterdir()) == ["220.atr", "220.dat", "220.hea"]
