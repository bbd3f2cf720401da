"""The SVM row of benchmarks/ABLATIONS.md rests on three things checked here: the N subsample keeps every
other beat and spreads the N beats it keeps over the records, the SVM's probabilities are a proper
distribution that never picks a class it was not trained on, and the blend takes a second opinion only
where it helps on other patients. Generated rows: no ECG is needed to check the arithmetic."""

import numpy as np

from benchmarks.svm_reference import Svm, blend, majority_subsample
from ecgnet.decisions import macro_f1_of

N, S, V = 0, 1, 2


def test_the_subsample_keeps_every_minority_row_and_spreads_the_majority():
    y = np.array([N] * 90 + [S] * 5 + [N] * 90 + [V] * 5)
    rows = majority_subsample(y, 20, N)
    assert set(np.flatnonzero(y != N)) <= set(rows)
    kept_n = rows[y[rows] == N]
    assert len(kept_n) == 20 and len(set(kept_n)) == 20
    assert (kept_n < 90).sum() >= 9 and (kept_n > 95).sum() >= 9  # both halves of the order keep their share
    assert np.array_equal(majority_subsample(y, 0, N), np.arange(len(y)))  # 0: all


def test_the_svm_gives_a_distribution_and_never_an_absent_class():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = np.where(x[:, 0] > 0.8, S, N)  # no V in training
    probs = Svm(1.0, 3).fit(x, y).probs(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.all(probs[:, V] == 0.0)
    assert np.mean(probs.argmax(axis=1) == y) > 0.9  # a separable rule is learnt
    three = np.where(x[:, 1] > 1.0, V, y)
    assert Svm(1.0, 3).fit(x, three).probs(x)[three == V, V].mean() > 0.5


def _metric(probs, y):
    return macro_f1_of(probs.argmax(axis=1), y, 3, (N, S, V))


def test_the_blend_takes_a_helpful_opinion_and_leaves_noise():
    rng = np.random.default_rng(1)
    y = rng.choice([N, S, V], size=2000, p=[0.8, 0.15, 0.05])
    groups = np.repeat(np.arange(10).astype(str), 200)
    base = np.full((len(y), 3), 0.05)
    base[np.arange(len(y)), y] = 0.9
    missed = (y == S) & (rng.random(len(y)) < 0.5)
    base[missed] = [0.9, 0.05, 0.05]  # S read as N
    helpful = np.full((len(y), 3), 0.1)
    helpful[:, S] = np.where(y == S, 0.8, 0.1)  # knows S and nothing else
    mixed, shares = blend(base, helpful, y, groups, _metric)
    assert all(w > 0 for w in shares)
    assert _metric(mixed, y) > _metric(base, y) + 0.05
    noise = rng.dirichlet(np.ones(3), size=len(y))
    mixed, shares = blend(base, noise, y, groups, _metric)
    assert max(shares) < 0.5  # noise never outvotes the base
    assert abs(_metric(mixed, y) - _metric(base, y)) < 0.02
