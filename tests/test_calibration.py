"""Calibration figures: the Brier score is scikit-learn's, the ECE is the reliability diagram's weighted
gap, a weight per row counts as that many copies of it, and miscalibration shows where it should."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from ecgnet.calibration import BINS, Calibration, Reliability, confidence_and_hits
from ecgnet.data import Split
from ecgnet.evaluate import point_metrics
from ecgnet.interval import Interval
from ecgnet.plots import reliability_grid_png, reliability_png


def _single(seed: int, n: int = 3000, k: int = 4, temperature: float = 1.0):
    """Labels drawn from softmax(logits) (calibrated by construction), and the probabilities a model
    would give at `temperature` (below 1: overconfident)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, (n, k))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=p) for p in truth])
    shown = np.exp(logits / temperature)
    return shown / shown.sum(axis=1, keepdims=True), y


def _figures(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> dict[str, float]:
    return Calibration.of(probs, y, multilabel).figures()  # every row once


def _multi(seed: int, n: int = 2000, k: int = 5):
    rng = np.random.default_rng(seed)
    probs = rng.uniform(0, 1, (n, k))
    return probs, (rng.uniform(0, 1, (n, k)) < probs**1.5).astype(float)


def test_the_brier_score_is_scikit_learns_weighted_or_not():
    probs, y = _single(0)
    weights = np.random.default_rng(1).integers(0, 4, len(y)).astype(float)
    cal = Calibration.of(probs, y, False)
    assert cal.figures()["brier"] == pytest.approx(brier_score_loss(y, probs, labels=range(4)), abs=1e-12)
    want = brier_score_loss(y, probs, labels=range(4), sample_weight=weights)
    assert cal.figures(weights)["brier"] == pytest.approx(want, abs=1e-12)
    probs, y = _multi(2)
    each = [brier_score_loss(y[:, c], probs[:, c]) for c in range(probs.shape[1])]
    assert _figures(probs, y, True)["brier"] == pytest.approx(np.mean(each), abs=1e-12)


@pytest.mark.parametrize("multilabel", [False, True])
def test_a_weight_counts_as_that_many_copies_of_the_row(multilabel):
    probs, y = _multi(3) if multilabel else _single(3)
    weights = np.random.default_rng(4).integers(0, 3, len(y))
    repeated = np.repeat(np.arange(len(y)), weights)
    got = Calibration.of(probs, y, multilabel).figures(weights.astype(float))
    want = _figures(probs[repeated], y[repeated], multilabel)
    assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("multilabel", [False, True])
def test_the_ece_is_the_reliability_diagrams_weighted_gap_and_its_bins_are_scikit_learns(multilabel):
    probs, y = _multi(5) if multilabel else _single(5)
    bins = Reliability.of(probs, y, multilabel)
    filled = bins.weight > 0
    gap = np.sum(bins.weight[filled] * np.abs(bins.accuracy[filled] - bins.confidence[filled])) / bins.weight.sum()
    assert _figures(probs, y, multilabel)["ece"] == pytest.approx(gap, abs=1e-12)
    confidence, hits = confidence_and_hits(probs, y, multilabel)
    assert bins.weight.sum() == len(confidence) == len(y) * (probs.shape[1] if multilabel else 1)
    # scikit-learn's equal-width bins (random confidences fall on no edge), empty bins left out
    accuracy, mean_confidence = calibration_curve(hits, confidence, n_bins=BINS, strategy="uniform")
    np.testing.assert_allclose(bins.accuracy[filled], accuracy, atol=1e-12)
    np.testing.assert_allclose(bins.confidence[filled], mean_confidence, atol=1e-12)


def test_overconfidence_shows_in_the_ece_and_the_brier_score():
    calibrated, overconfident, underconfident = (
        _figures(probs, y, False) for probs, y in (_single(6, 20000, temperature=t) for t in (1.0, 0.4, 3.0))
    )
    assert calibrated["ece"] < 0.02  # labels drawn from the probabilities: only sampling noise
    assert overconfident["ece"] > 0.08 and underconfident["ece"] > 0.08
    assert calibrated["brier"] < min(overconfident["brier"], underconfident["brier"])  # proper: truth scores best


def test_point_metrics_carry_calibration_and_each_focus_class_alone_and_nothing_is_scored_without_rows():
    probs, y = _single(7, n=300, k=5)
    figures = point_metrics(probs, y, ("N", "S", "V", "F", "Q"), False, focus=("S", "V"))
    assert figures["brier"] == pytest.approx(brier_score_loss(y, probs, labels=range(5)))
    assert 0.0 <= figures["ece"] <= 1.0
    for c, name in ((1, "S"), (2, "V")):  # one-vs-rest: that class's probability, is the row of it
        assert figures[f"brier_{name}"] == pytest.approx(brier_score_loss(y == c, probs[:, c]), abs=1e-12)
        bins = Reliability.of(probs[:, [c]], (y == c).astype(float)[:, None], True)
        filled = bins.weight > 0
        gap = np.sum(bins.weight[filled] * np.abs(bins.accuracy[filled] - bins.confidence[filled])) / len(y)
        assert figures[f"ece_{name}"] == pytest.approx(gap, abs=1e-12)
    assert "ece_F" not in figures  # not a focus class
    multi, present = _multi(7)
    assert "ece_b" not in point_metrics(multi, present, ("a", "b", "c", "d", "e"), True, focus=("b",))
    empty = Calibration.of(probs, y, False).figures(np.zeros(len(y)))
    assert np.isnan(empty["brier"]) and np.isnan(empty["ece"])


def test_the_reliability_diagram_is_a_png_even_with_empty_bins():
    probs, y = _single(8, n=40)
    assert reliability_png(probs, y, False, "time: test reliability").startswith(b"\x89PNG")
    picture = reliability_png(probs, y, False, "time: test reliability", ("N", "S", "V", "F"), ("S", "V"))
    assert picture.startswith(b"\x89PNG")
    probs, y = _multi(9, n=30)
    assert reliability_png(probs, y, True, "records: test reliability").startswith(b"\x89PNG")


def test_the_side_by_side_diagrams_take_any_number_of_variants():
    probs, y = _single(10, n=200)
    row = {"kind": "single", "bins": Reliability.of(probs, y, False), "ece": Interval(0.05, 0.02, 0.09)}
    for n in (1, 4, 11):
        rows = [{**row, "variant": f"v{i}"} for i in range(n)]
        assert reliability_grid_png(rows, "v0", False, "beats: test reliability").startswith(b"\x89PNG")


def test_a_temperature_fitted_on_other_patients_undoes_overconfidence_and_moves_no_decision(tmp_path, capsys):
    from benchmarks.calibration_oof import cross_fitted, fit_temperature, main
    from benchmarks.paired_rows import load_row

    probs, y = _single(11, n=6000, k=5, temperature=0.4)  # softmax(logits / 0.4): 2.5 undoes it
    assert fit_temperature(probs, y) == pytest.approx(2.5, rel=0.1)
    patients = np.repeat([f"p{i}" for i in range(10)], 600)
    ids = np.array([f"{p}:{i:06d}" for i, p in enumerate(patients)])
    path = tmp_path / "00.npz"
    np.savez(
        path, ablation="overconfident", probs=probs, y=y, ids=ids, groups=patients, classes=np.array(list("NSVFQ"))
    )
    row = load_row(path)
    after, temperatures = cross_fitted(row, folds=5)
    assert len(temperatures) == 5 and all(2.0 < t < 3.0 for t in temperatures)
    assert np.array_equal(after.argmax(axis=1), row.probs.argmax(axis=1))
    assert _figures(after, row.y, False)["ece"] < _figures(row.probs, row.y, False)["ece"] / 3
    main([str(path), "--draws", "20"])
    out = capsys.readouterr().out
    assert "overconfident: 6,000 beats, 10 patients" in out and "decisions moved: 0" in out
    assert "ece_S" in out and "temperatures by fold: 2." in out
    (change,) = [line for line in out.splitlines() if "change (paired)" in line]
    ece = Interval.parse(change.split(" ece ")[1])  # after minus before, on the same patients: a gain beyond noise
    assert ece.hi < 0 and ece.value == pytest.approx(
        _figures(after, row.y, False)["ece"] - _figures(row.probs, row.y, False)["ece"], abs=1e-3
    )


def test_a_comparisons_variants_are_read_as_they_report_after_offsets_and_refused_without_folds(
    tmp_path, monkeypatch, capsys
):
    from benchmarks import calibration_oof

    calibrated, y = _single(12, n=3000, k=5)
    sharp, _ = _single(12, n=3000, k=5, temperature=0.4)  # the same beats read overconfidently
    patients = np.repeat([f"1{i:02d}" for i in range(10)], 300)
    dev = Split({}, y, np.array([f"{p}:{i:06d}" for i, p in enumerate(patients)]), patients)
    monkeypatch.setattr(calibration_oof, "saved_development", lambda run: (None, dev))
    # what the variant reports (after offsets) is calibrated; the raw probabilities are not
    np.savez(tmp_path / "time.npz", val=calibrated, raw_val=sharp, test=calibrated[:10])
    np.savez(tmp_path / "early.npz", val=sharp, raw_val=calibrated, test=sharp[:10])
    (row,) = calibration_oof.run_rows(tmp_path, ["time"])
    assert row.name == "time" and np.array_equal(row.probs, calibrated) and np.array_equal(row.patients, patients)
    calibration_oof.main([str(tmp_path), "--draws", "20"])
    out = capsys.readouterr().out
    ece = {line.split(":")[0]: float(line.split(" ece ")[1].split()[0]) for line in _as_trained(out)}
    assert set(ece) == {"time", "early"} and ece["time"] < 0.03 < 0.1 < ece["early"]

    np.savez(tmp_path / "spectrogram.npz", val=calibrated[:300], raw_val=calibrated[:300], test=calibrated[:10])
    with pytest.raises(ValueError, match=r"spectrogram\.npz: 300 validation rows.*ECGNET_FOLDS"):
        calibration_oof.run_rows(tmp_path, ["spectrogram"])


def _as_trained(out: str) -> list[str]:
    """Each row's name joined to its "as trained" line."""
    lines = out.splitlines()
    return [f"{lines[i - 1].split(':')[0]}:{lines[i]}" for i, line in enumerate(lines) if "as trained" in line]
