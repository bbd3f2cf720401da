"""benchmarks/member_spread.py: the one-seed fold ensembles it scores are every choice of one member a
fold, read in the order the comparison stores members (fold by fold, a fold's seeds together), each the
mean of the members chosen. Generated probabilities: the arithmetic needs no ECG."""

import numpy as np
import pytest

from benchmarks.member_spread import one_seed_ensembles, spread


def test_every_choice_of_one_seed_a_fold_is_scored_once_from_the_right_members():
    folds, seeds = 3, 2
    # member m predicts m everywhere, so a mean names the members it was made of
    members = np.arange(folds * seeds, dtype=np.float64)[:, None, None] * np.ones((1, 4, 2))
    seen = {}
    for pick, mean in one_seed_ensembles(members, folds):
        chosen = [fold * seeds + seed for fold, seed in enumerate(pick)]
        np.testing.assert_allclose(mean, np.mean(chosen))
        seen[pick] = chosen
    assert len(seen) == seeds**folds
    assert seen[(0, 0, 0)] == [0, 2, 4] and seen[(1, 1, 1)] == [1, 3, 5] and seen[(1, 0, 1)] == [1, 2, 5]


def test_one_member_a_fold_is_the_variant_itself_and_a_wrong_fold_count_is_named():
    members = np.random.default_rng(0).random((5, 7, 3))
    (pick, mean), *rest = list(one_seed_ensembles(members, 5))
    assert pick == (0, 0, 0, 0, 0) and not rest
    np.testing.assert_allclose(mean, members.mean(axis=0))
    with pytest.raises(ValueError, match="--folds"):
        next(one_seed_ensembles(members, 3))


def test_spread_leaves_undefined_figures_out():
    assert spread([0.3, float("nan"), 0.1, 0.2]) == "0.100 / 0.200 / 0.300"
    assert spread([float("nan")]) == "-"


def test_the_within_patient_ranking_reads_only_that_patients_n_and_s_beats():
    from benchmarks.member_spread import ranked_within
    from ecgnet.data import Split, TaskData
    from feature_store.tasks import BEATS

    n, s, v = (BEATS.classes.index(c) for c in ("N", "S", "V"))
    y = np.array([n, n, s, s, v, n, s, n])
    groups = np.array(["a", "a", "a", "a", "a", "b", "b", "c"])
    probs = np.zeros((len(y), len(BEATS.classes)))
    probs[:, s] = [0.1, 0.2, 0.3, 0.4, 0.9, 0.5, 0.1, 0.2]  # a: S above N, V ignored; b: reversed
    rows = Split({}, y, np.arange(len(y)).astype(str), groups)
    data = TaskData(BEATS, rows.take(np.arange(0)), rows.take(np.arange(0)), rows, {})
    assert ranked_within(probs, data, "a") == 1.0
    assert ranked_within(probs, data, "b") == 0.0
    assert np.isnan(ranked_within(probs, data, "c"))
