"""benchmarks/bar_offsets.py: the bar ratio its paragraph reports, and offsets chosen on other patients.
Generated rows: the arithmetic needs no ECG."""

import numpy as np

from benchmarks.bar_offsets import bar_decided, bar_ratio
from feature_store.tasks import BEATS

N, S, V = (BEATS.classes.index(c) for c in "NSV")
FIGURES = {"accuracy": 0.862, "se_S": 0.759, "pp_S": 0.385, "se_V": 0.777, "pp_V": 0.819}


def _rows(s_margin: float, patients: int = 10, seed: int = 0):
    """Per patient 80 N, 10 S and 10 V beats; each beat's own class leads by 1 in log-probability, but
    S beats sit `s_margin` below N (negative: the argmax reads them as N)."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.r_[np.full(80, N), np.full(10, S), np.full(10, V)], patients)
    logits = rng.normal(0, 0.1, (len(y), len(BEATS.classes)))
    logits[np.arange(len(y)), y] += 1.0
    logits[y == S, N] += 1.0 - s_margin
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs.astype(np.float32), y, np.repeat(np.arange(patients).astype(str), 100)


def test_the_bar_ratio_is_the_smallest_figure_over_its_published_value():
    probs, y, _ = _rows(s_margin=-0.5)  # every S beat read as N; N and V all right
    assert bar_ratio(FIGURES)(probs, y) == 0.0  # S Se 0 and S +P undefined (NaN counts 0)
    right, _, _ = _rows(s_margin=0.5)
    assert abs(bar_ratio(FIGURES)(right, y) - 1 / 0.862) < 1e-9


def test_offsets_chosen_on_other_patients_lift_a_class_every_patient_under_calls():
    probs, y, groups = _rows(s_margin=-0.5)
    decided, chosen = bar_decided(probs, y, groups, FIGURES)
    assert all(o[S] > 0.0 for o in chosen)
    assert bar_ratio(FIGURES)(decided, y) > 1.0  # every figure met once S is shifted up


def test_a_fold_keeps_the_argmax_when_no_shift_scores_higher():
    probs, y, groups = _rows(s_margin=0.5)
    decided, chosen = bar_decided(probs, y, groups, FIGURES)
    assert all(not o.any() for o in chosen)
    np.testing.assert_array_equal(decided.argmax(axis=1), probs.argmax(axis=1))
