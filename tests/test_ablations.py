"""The DS1 S-majority stress test's records: thinned of N beats only, S three quarters of what is left."""

import numpy as np

from benchmarks.ablations import s_majority
from benchmarks.beat_arrays import read_beats
from tests.records import MITDB


def test_an_s_rich_record_is_thinned_of_n_until_s_is_the_majority():
    beats = read_beats(MITDB, records={"209", "100"})  # 209: 383 S beats; 100: 33
    thinned = s_majority(beats)
    assert set(thinned.record_id.tolist()) == {"209"}  # fewer than 50 S beats: left out
    before = beats.label[beats.record_id == "209"]
    after = thinned.label
    assert (after == "S").sum() == (before == "S").sum() and (after == "V").sum() == (before == "V").sum()
    assert abs((after == "S").mean() - 0.75) < 0.05
    # N beats are kept evenly over the record, so the record's rhythm is still sampled throughout
    kept_n = thinned.r_peak[after == "N"]
    assert kept_n.min() < 0.1 * beats.r_peak.max() and kept_n.max() > 0.9 * beats.r_peak[beats.record_id == "209"].max()
    assert np.isin(thinned.ids, beats.ids).all() and thinned.windows.shape[1:] == beats.windows.shape[1:]
