"""A pooled figure that is mostly one patient's is reported with and without that patient
(ecgnet.evaluate.concentration). Generated rows: the arithmetic needs no ECG."""

import numpy as np

from ecgnet.evaluate import concentration

CLASSES = ("N", "S", "V")
N, S, V = 0, 1, 2


def _probs(pred: np.ndarray) -> np.ndarray:
    return np.eye(3)[pred] * 0.9 + 0.1 / 3


def test_the_patient_with_most_rows_of_a_class_is_named_and_left_out():
    # patient a: 30 S rows, 6 found; patient b: 10 S rows, all found, and 10 N rows read as S
    y = np.r_[np.full(30, S), np.full(10, S), np.full(10, N), np.full(5, V)]
    pred = np.r_[np.full(6, S), np.full(24, N), np.full(10, S), np.full(10, S), np.full(5, V)]
    groups = np.r_[np.full(30, "a"), np.full(25, "b")]
    s, v = concentration(_probs(pred), y, groups, CLASSES, ("S", "V"))
    assert (s.label, s.patient, s.share) == ("S", "a", 0.75)
    assert s.se == 16 / 40 and s.se_without == 1.0  # without a: b's ten S rows, all found
    assert s.pp == 16 / 26 and s.pp_without == 10 / 20
    assert s.metrics() == {
        "dominant_share_S": 0.75,
        "test_se_S_without_dominant": 1.0,
        "test_pp_S_without_dominant": 0.5,
    }
    assert s.tags() == {"ecgnet.dominant_patient.S": "a"}
    assert "patient a holds 75% of the S rows" in str(s) and "0.400, 1.000 without them" in str(s)
    assert (v.patient, v.share) == ("b", 1.0) and "all theirs" in str(v)  # no V row is left without b


def test_no_report_for_an_absent_class_and_nothing_left_without_a_single_patient():
    y, pred = np.r_[np.full(5, N), np.full(5, S)], np.r_[np.full(5, N), np.full(5, S)]
    assert [c.label for c in concentration(_probs(pred), y, np.repeat(["a", "b"], 5), CLASSES, ("S", "V"))] == ["S"]
    (alone,) = concentration(_probs(pred), y, np.full(10, "a"), CLASSES, ("S", "V"))
    assert (alone.share, alone.se, alone.pp) == (1.0, 1.0, 1.0)
    assert np.isnan(alone.se_without) and np.isnan(alone.pp_without) and "all theirs" in str(alone)
