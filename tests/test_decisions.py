"""Decision offsets: the fast macro F1 is evaluate's, the search helps where argmax is off, the
cross-fitted metric never uses a row's own label, and the module decides as the arrays do."""

import numpy as np
import torch

from ecgnet.data import cross_fit
from ecgnet.decisions import DecisionOffsets, apply_offsets, cross_fit_offsets, fit_offsets, macro_f1_of
from ecgnet.evaluate import macro_f1


def _overconfident_in_rare(n: int = 3000, seed: int = 0):
    """Four classes, 90 % class 0; the scores lean towards classes 1 and 2 (as class weighting does)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(4, n, p=[0.9, 0.05, 0.04, 0.01])
    logits = rng.normal(0, 1.0, (n, 4))
    logits[np.arange(n), y] += 2.0
    logits[:, 1:3] += 1.5  # the rare classes are over-predicted
    p = np.exp(logits)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32), y, rng.integers(0, 12, n)


def test_fast_macro_f1_is_evaluates():
    probs, y, _ = _overconfident_in_rare()
    for drop in (None, 3):  # also with a class absent from y
        keep = np.ones(len(y), bool) if drop is None else y != drop
        for labels in (None, (0, 1, 3)):  # also over some classes only (a task's metric_classes)
            expected = macro_f1(probs[keep], y[keep], False, labels)
            assert abs(macro_f1_of(probs[keep].argmax(axis=1), y[keep], 4, labels) - expected) < 1e-12


def test_offsets_fitted_for_some_classes_ignore_the_others():
    """Scored over classes 0 and 1 only, the search gains nothing from class 3 decisions: its offset
    may only move where that helps classes 0 and 1, and the result is scored as evaluate scores it."""
    probs, y, _ = _overconfident_in_rare()
    labels = (0, 1)
    offsets = fit_offsets(probs, y, labels)
    before = macro_f1(probs, y, False, labels)
    after = macro_f1(apply_offsets(probs, offsets), y, False, labels)
    assert after > before + 0.02 and after >= macro_f1(apply_offsets(probs, fit_offsets(probs, y)), y, False, labels)


def test_offsets_raise_macro_f1_and_push_the_over_predicted_classes_down():
    probs, y, _ = _overconfident_in_rare()
    offsets = fit_offsets(probs, y)
    before, after = macro_f1(probs, y, False), macro_f1(apply_offsets(probs, offsets), y, False)
    assert after > before + 0.02
    assert offsets[0] == 0 and offsets[1] < 0 and offsets[2] < 0


def test_no_offsets_when_argmax_is_already_right():
    y = np.repeat(np.arange(3), 50)
    probs = np.eye(3, dtype=np.float32)[y] * 0.8 + 0.2 / 3
    assert np.all(fit_offsets(probs, y) == 0)


def test_cross_fitted_rows_never_see_their_own_labels():
    probs, y, groups = _overconfident_in_rare()
    out = cross_fit_offsets(probs, y, groups)
    poisoned = y.copy()
    rows = groups == 5
    poisoned[rows] = 3  # one patient's labels changed: only the other patients' rows may move
    again = cross_fit_offsets(probs, poisoned, groups)
    np.testing.assert_array_equal(again[rows], out[rows])
    assert not np.array_equal(again[~rows], out[~rows])


def test_the_module_decides_as_the_arrays_do():
    torch.manual_seed(0)
    linear = torch.nn.Linear(5, 4)
    x = torch.randn(64, 5)
    offsets = np.array([0.0, -1.0, 0.5, 2.0])
    with torch.no_grad():
        probs = torch.softmax(linear(x), dim=1).numpy()
        decided = torch.softmax(DecisionOffsets(linear, offsets)(x), dim=1).numpy()
    np.testing.assert_allclose(decided, apply_offsets(probs, offsets), atol=1e-5)


def test_cross_fit_decides_each_patient_by_what_the_other_patients_taught() -> None:
    groups = np.repeat(np.array(["a", "b", "c", "d", "e", "f"]), 7)
    seen: list[set] = []

    def fit(rows):
        seen.append(set(groups[rows]))
        return seen[-1]

    def apply(taught, rows):
        assert not taught & set(groups[rows])  # no patient is decided by its own rows
        return np.full((len(rows), 2), len(taught), dtype=np.int16)

    out, learnt = cross_fit(groups, fit, apply, folds=3, dtype=np.float32)
    assert len(learnt) == 3 and learnt == seen
    assert out.dtype == np.float32 and out.shape == (len(groups), 2)
    assert (out == 4).all()  # every row written, each from the four patients outside its fold
    assert set().union(*learnt) == set(groups)
