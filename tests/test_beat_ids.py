"""Beat ids: the raw store's names for beats, and reading a record and R peak back from them."""

import numpy as np
import pytest

from feature_store.beat_ids import beat_ids, beat_positions, record_rows


def test_beat_ids_read_back_to_their_record_and_r_peak():
    ids = beat_ids("mitdb/x:1", np.array([77, 1200])) + beat_ids("232", [5])
    assert ids == ["mitdb/x:1:77", "mitdb/x:1:1200", "232:5"]
    records, peaks = beat_positions(np.array(ids))
    assert records.tolist() == ["mitdb/x:1", "mitdb/x:1", "232"] and peaks.tolist() == [77, 1200, 5]


@pytest.mark.parametrize("bad", ["232", "232:", "232:5#reference0"])
def test_an_id_that_is_not_a_beats_is_named(bad):
    with pytest.raises(ValueError, match="not a beat id"):
        beat_positions(np.array(["100:1", bad]))


def test_each_records_rows_come_in_time_order_ties_in_row_order():
    record = np.array(["b", "a", "b", "a", "b"])
    r_peak = np.array([30, 20, 10, 20, 30])
    assert [rows.tolist() for rows in record_rows(record, r_peak)] == [[1, 3], [2, 0, 4]]
