"""benchmarks/neighbour_stack.py: a beat's neighbours in its own record, in time order, and their weight chosen
on other patients only (weight 0 gives the saved probabilities back)."""

import numpy as np
import pytest

from benchmarks.neighbour_stack import cross_fitted, leaned, neighbour_means
from benchmarks.paired_rows import SavedRow


def test_neighbours_are_the_beats_either_side_in_the_same_record_in_time_order_without_the_beat():
    values = np.array([[1.0], [2.0], [4.0], [100.0], [8.0], [16.0]])
    records = np.array(["a", "a", "a", "b", "a", "a"])
    r_peak = np.array([10, 30, 20, 10, 50, 40])  # record a in time order: rows 0, 2, 1, 5, 4
    near = neighbour_means(values, records, r_peak, beats=1)
    # row 0 (first): only row 2 after it; row 2: rows 0 and 1; row 1: rows 2 and 5; row 4 (last): row 5
    np.testing.assert_allclose(near[:, 0], [4.0, (4.0 + 16.0) / 2, (1.0 + 2.0) / 2, 100.0, 16.0, (2.0 + 8.0) / 2])


def test_no_weight_gives_the_beats_own_probabilities_back():
    probs = np.random.default_rng(0).dirichlet(np.ones(5), size=40)
    own = np.log(probs)
    np.testing.assert_allclose(leaned(own, np.zeros_like(own) + 7.0, 0.0), probs, rtol=1e-10)
    assert leaned(own, own, 1.0) == pytest.approx(probs**2 / (probs**2).sum(axis=1, keepdims=True))


def test_the_weight_is_chosen_on_the_other_patients():
    rng = np.random.default_rng(1)
    patients = np.repeat([f"p{i}" for i in range(6)], 50)
    ids = np.array([f"{100 + i // 50}:{(i % 50) * 360:09d}" for i in range(len(patients))])
    y = rng.choice(3, size=len(ids), p=[0.6, 0.2, 0.2])
    probs = np.full((len(y), 5), 1e-3)
    probs[np.arange(len(y)), y] = 0.9  # every beat already decided right: leaning can only cost
    probs /= probs.sum(axis=1, keepdims=True)
    row = SavedRow("right", probs, y, ids, patients)
    own = np.log(probs)
    near = -own  # neighbours that argue against every beat
    out, weights = cross_fitted(own, near, row)
    assert weights == [0.0] * 5 and np.allclose(out, probs, atol=1e-6)
