"""benchmarks/fetch_mitdb.py: the bench refuses a MIT-BIH folder that lacks any record of the protocol and
says which, on the bundled sample's real records (no download: CI has no network)."""

import shutil
import subprocess
import sys

from benchmarks.fetch_mitdb import missing
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
