"""The patient bootstrap read off per-patient confusion matrices and weighted ranks gives what scoring
every draw's rows with scikit-learn gives: the same draws, the same figures, NaN where a draw lacks a class."""

from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ecgnet.evaluate import (
    MacroF1,
    _Ranked,
    bootstrap,
    evaluate,
    headline,
    macro_f1,
    paired_bootstrap,
    patient_counts,
    patient_resamples,
    per_class_auc,
    point_metrics,
    resampled,
)
from feature_store.tasks import BEATS

CLASSES = ("N", "S", "V", "F", "Q")


def _rows(seed: int, n: int = 600, patients: int = 9):
    rng = np.random.default_rng(seed)
    groups = rng.choice([f"p{i}" for i in range(patients)], n)
    y = rng.choice(5, n, p=[0.7, 0.12, 0.12, 0.05, 0.01])  # Q: absent from many draws
    probs = rng.dirichlet(np.ones(5), n)
    probs[np.arange(n), y] += rng.uniform(0, 0.6, n)  # some skill, so figures are not all near chance
    probs = np.round(probs / probs.sum(axis=1, keepdims=True), 1)  # ties, which the AUC must share out
    return probs, y, groups


def test_counts_are_the_resampled_rows():
    groups = np.array(list("ccaabbbdd"))
    owner, counts = patient_counts(groups, n_boot=20, seed=4)
    for rows, drawn in zip(patient_resamples(groups, n_boot=20, seed=4), counts):
        assert np.array_equal(np.bincount(owner[rows], minlength=4), np.bincount(owner, minlength=4) * drawn)


def test_weighted_ranks_give_the_auc_of_repeated_rows():
    probs, y, _ = _rows(0)
    weights = np.random.default_rng(1).integers(0, 3, len(y))
    repeated = np.repeat(np.arange(len(y)), weights)
    for c in range(3):
        want = roc_auc_score(y[repeated] == c, probs[repeated, c])
        assert _Ranked.of(probs[:, c], y == c).auc(weights.astype(float)) == pytest.approx(want, abs=1e-12)
    assert np.isnan(_Ranked.of(probs[:, 4], np.zeros(len(y), bool)).auc(np.ones(len(y))))


def test_per_class_auc_is_scikit_learns_single_and_multi_label():
    probs, y, _ = _rows(2)
    got = per_class_auc(probs, y, False)
    for c in range(5):
        assert got[c] == pytest.approx(roc_auc_score(y == c, probs[:, c]), abs=1e-12)
    multi = (np.random.default_rng(3).random((len(y), 5)) < [0.3, 0.5, 0.1, 0.02, 0.0]).astype(float)
    got = per_class_auc(probs, multi, True)
    for c in range(4):
        assert got[c] == pytest.approx(roc_auc_score(multi[:, c], probs[:, c]), abs=1e-12)
    assert np.isnan(got[4])  # no positives: no AUC, as before


@pytest.mark.parametrize("seed", [0, 1])
def test_evaluate_equals_scoring_every_draws_rows(seed):
    probs, y, groups = _rows(seed)
    spec = replace(BEATS, classes=CLASSES)
    args = (spec.classes, spec.multilabel, spec.focus_classes, spec.metric_classes)
    fast = evaluate(probs, y, groups, spec, n_boot=60, seed=seed)
    slow = bootstrap(lambda r: point_metrics(probs[r], y[r], *args), groups, n_boot=60, seed=seed)
    point = point_metrics(probs, y, *args)
    assert fast.keys() == slow.keys() == point.keys()
    for name, got in fast.items():
        np.testing.assert_allclose([got.value, got.lo, got.hi], [point[name], *slow[name]], atol=1e-12, err_msg=name)
    assert fast["auc_Q"].lo < fast["auc_Q"].hi  # Q in some draws, not in others: NaN draws left out


def test_the_headline_resampled_from_confusions_equals_scoring_rows():
    probs, y, groups = _rows(2)
    metric = headline(replace(BEATS, classes=CLASSES))
    assert isinstance(metric, MacroF1) and metric(probs, y) == pytest.approx(macro_f1(probs, y, False, (0, 1, 2)))

    def by_rows(p, t):  # the same metric, opaque: scored on each draw's rows
        return metric(p, t)

    fast = resampled(metric, probs, y, groups, n_boot=80, seed=5)
    np.testing.assert_allclose(fast, resampled(by_rows, probs, y, groups, n_boot=80, seed=5), atol=1e-12)
    other = np.roll(probs, 1, axis=1)
    paired = paired_bootstrap(probs, other, y, groups, metric, n_boot=80, seed=5)
    assert paired == paired_bootstrap(probs, other, y, groups, by_rows, n_boot=80, seed=5)
    assert paired.lo > 0  # the skilled probabilities beat the shuffled ones on every draw's patients


def test_the_benchmark_runs_both_paths_and_prints_their_ratio(monkeypatch, capsys):
    from benchmarks import bootstrap as bench

    monkeypatch.setattr(bench, "DS2", (400, 30, 40, 8, 2))
    monkeypatch.setattr(bench, "ROWS", 480)
    monkeypatch.setattr(bench, "DRAWS", 10)
    bench.main()
    out = capsys.readouterr().out
    assert "(baseline)" in out and "1.0x" in out and "weighted ranks" in out
