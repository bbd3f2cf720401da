"""What `python -m ecgnet predict` takes from a user before it scores anything: a record named by one of its
files, a row count that cannot slice from the end, an --out format it can write; and what it says while a
long record goes through."""

import logging
import shutil

import pytest

from ecgnet.__main__ import main as ecgnet_main
from ecgnet.predict import record_path, records_in
from feature_store.views.catalog import ViewInput
from tests.records import MITDB, SAMPLE_DATA

EXCERPT = SAMPLE_DATA / "mitdb-excerpt"


def test_a_record_named_by_its_header_or_signal_file_is_the_record(tmp_path):
    assert (
        record_path(MITDB / "100.hea") == record_path(MITDB / "100.dat") == record_path(MITDB / "100") == MITDB / "100"
    )
    assert records_in(MITDB / "100.atr") == ([MITDB / "100"], [])
    assert record_path(tmp_path / "nope.hea") == tmp_path / "nope.hea"  # no header there: refused later, as given


def test_a_negative_row_count_and_an_unwritable_table_format_stop_before_scoring(tmp_path, capsys):
    with pytest.raises(SystemExit) as bad:
        ecgnet_main(["predict", str(MITDB / "100"), "--rows", "-3"])  # it used to print all rows but the last 3
    assert bad.value.code == 2 and "'-3': a whole number of at least 0" in capsys.readouterr().err
    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "scores.txt"
    assert ecgnet_main(["predict", str(MITDB / "100"), "--home", str(home), "--out", str(out)]) == 2
    said = capsys.readouterr().err
    assert "scores.txt: --out writes .csv or .parquet" in said and "champion" not in said  # before the model


def test_a_long_record_is_followed_step_by_step_in_the_log_and_a_short_one_is_not(tmp_path, monkeypatch, caplog):
    from feature_store.views import online

    for ext in ("hea", "dat"):  # without its .atr: the beats are detected, the step a Holter waits longest on
        shutil.copy(EXCERPT / f"233.{ext}", tmp_path / f"233.{ext}")
    spec = ViewInput(fs=360.0, samples=720, crop=(270, 522), lead_names=("MLII", "V1"), unit="beat")
    with caplog.at_level(logging.INFO, logger=online.log.name):
        online.record_input(tmp_path / "233", spec, task="beats")  # 3 minutes: under LONG_RECORD_S
        assert not caplog.messages
        monkeypatch.setattr(online, "LONG_RECORD_S", 60.0)
        inp = online.record_input(tmp_path / "233", spec, task="beats")
    read, detecting, beats = caplog.messages
    assert read.startswith(f"{tmp_path / '233'}: 0.1 h at 360 Hz, 2 lead(s), read in")
    assert detecting.endswith("no beat annotations; detecting the beats of its 0.1 h (GQRS, minutes)")
    assert beats.endswith(f": {len(inp.keys)} beats; making their features")
