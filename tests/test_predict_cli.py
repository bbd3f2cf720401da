"""What `python -m ecgnet predict` takes from a user before it scores anything: a record named by one of its
files, a row count that cannot slice from the end, an --out format it can write."""

import pytest

from ecgnet.__main__ import main as ecgnet_main
from ecgnet.predict import record_path, records_in
from tests.records import MITDB


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
