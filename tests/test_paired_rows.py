"""Saved ablation rows paired against a baseline (benchmarks.paired_rows): the difference on the same beats,
its interval from resampled patients, and a clear refusal of rows that scored other beats."""

import numpy as np
import pytest

from benchmarks.ablations import save_oof
from benchmarks.paired_rows import load_row, load_rows, paired
from ecgnet.data import Split, TaskData
from ecgnet.evaluate import headline
from feature_store.tasks import BEATS


def _dev(n_patients: int = 8, beats: int = 60) -> TaskData:
    rng = np.random.default_rng(0)
    ids = np.array([f"{100 + p}:{b * 300:09d}" for p in range(n_patients) for b in range(beats)])
    y = rng.choice(3, size=len(ids), p=[0.7, 0.15, 0.15])
    split = Split({}, y, ids, np.array([f"patient {int(i[:3]) // 2}" for i in ids]))  # two records a patient
    return TaskData(BEATS, split, split, split.take(np.arange(0)), {})


def _probs(y: np.ndarray, skill: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((len(y), 3)) + skill * np.eye(3)[y]
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_a_row_is_paired_on_the_same_beats_in_any_order(tmp_path):
    dev = _dev()
    weak, strong = _probs(dev.val.y, 0.5, 1), _probs(dev.val.y, 3.0, 2)
    base_path = save_oof(tmp_path, "baseline", weak, dev)
    shuffled = np.random.default_rng(3).permutation(len(dev.val.y))  # saved in another order: aligned by id
    moved = TaskData(dev.spec, dev.val.take(shuffled), dev.val.take(shuffled), dev.test, {})
    row_path = save_oof(tmp_path, "stronger", strong[shuffled], moved)
    assert (base_path.name, row_path.name) == ("00.npz", "01.npz")
    base, row = load_row(base_path), load_row(row_path)
    diff = paired(row, base, draws=200)
    metric = headline(BEATS)
    assert diff.value == pytest.approx(metric(strong, dev.val.y) - metric(weak, dev.val.y), abs=1e-6)
    assert 0 < diff.lo <= diff.value <= diff.hi
    same = paired(base, base, draws=50)
    assert (same.value, same.lo, same.hi) == (0.0, 0.0, 0.0)
    assert sorted(set(base.patients.tolist())) == [f"patient {p}" for p in range(50, 54)]  # as saved


def test_rows_of_other_beats_are_refused_naming_the_file(tmp_path):
    dev = _dev()
    base = load_row(save_oof(tmp_path, "baseline", _probs(dev.val.y, 1.0, 1), dev))
    fewer = dev.val.take(np.arange(len(dev.val.y) - 60))
    other = TaskData(dev.spec, fewer, fewer, dev.test, {})
    path = save_oof(tmp_path, "other", _probs(fewer.y, 1.0, 2), other)
    with pytest.raises(ValueError, match=f"{path}.*same --mitdb"):
        paired(load_row(path), base, path=path)


def test_rows_joined_by_a_plus_are_averaged_as_a_comparison_averages_its_seeds(tmp_path):
    dev = _dev()
    a, b = _probs(dev.val.y, 1.0, 1), _probs(dev.val.y, 2.0, 2)
    first, second = save_oof(tmp_path, "seed 0", a, dev), save_oof(tmp_path, "seed 1", b, dev)
    both = load_rows(f"{first}+{second}")
    np.testing.assert_allclose(both.probs, (a + b) / 2, rtol=1e-6)
    assert both.name == "seed 0 + seed 1" and np.array_equal(both.y, dev.val.y)
    assert load_rows(str(first)).name == "seed 0"
    fewer = dev.val.take(np.arange(60, len(dev.val.y)))
    other = save_oof(tmp_path, "other", _probs(fewer.y, 1.0, 3), TaskData(dev.spec, fewer, fewer, dev.test, {}))
    with pytest.raises(ValueError, match=f"{other}: its beats or labels differ from {first}"):
        load_rows(f"{first}+{other}")


def test_the_command_prints_each_rows_headline_gain_and_the_figures_behind_it(tmp_path, monkeypatch, capsys):
    import sys

    from benchmarks import paired_rows

    dev = _dev()
    weak, strong = _probs(dev.val.y, 0.5, 1), _probs(dev.val.y, 3.0, 2)
    base, row = save_oof(tmp_path, "baseline", weak, dev), save_oof(tmp_path, "stronger", strong, dev)
    monkeypatch.setattr(sys, "argv", ["paired_rows", str(base), str(row), "--draws", "50"])
    paired_rows.main()
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("baseline baseline: OOF ") and "se_S" in first and "pp_V" in first
    assert second.startswith("stronger: OOF ") and ", paired " in second and "accuracy" in second
    stronger = paired_rows.figures(load_row(row))
    assert second.endswith(stronger) and stronger.startswith("accuracy ")
