"""Choosing the candidate and the promotion policy: pure functions, no MLflow."""

import pytest

from ecgnet.interval import Interval
from ecgnet.promotion import Candidate, Champion, choose_candidate, choose_parsimonious, gate


def candidate(value: float, hi: float) -> Candidate:
    return Candidate("beats", "early", "3", Interval(value, value - 0.05, hi), "parent")


def test_the_candidate_is_the_best_on_validation_and_nan_never_wins():
    assert choose_candidate({"time": 0.6, "early": 0.8, "late_average": 0.7}) == "early"
    assert choose_candidate({"time": 0.7, "early": 0.7}) == "time"  # a tie keeps the first in order
    assert choose_candidate({"time": float("nan"), "early": 0.1}) == "early"
    with pytest.raises(ValueError, match="no variant has a validation metric"):
        choose_candidate({"time": float("nan")})


def test_parsimony_picks_the_smallest_variant_the_best_does_not_beat_beyond_noise():
    values = {"time": 0.70, "early": 0.72, "late_average": 0.71, "classical": 0.50}
    params = {"time": 100, "early": 500, "late_average": 600, "classical": 10}
    gaps = {  # each variant minus the best (early), patient-paired on validation
        "time": Interval(-0.02, -0.05, 0.01),
        "late_average": Interval(-0.01, -0.03, 0.02),
        "classical": Interval(-0.22, -0.30, -0.15),  # worse beyond noise: not eligible, however small
    }
    assert choose_parsimonious(values, params, gaps) == "time"
    assert choose_parsimonious(values, params, gaps | {"time": Interval(-0.02, -0.05, -0.001)}) == "early"
    assert choose_parsimonious(values, params, {}) == "early"  # nothing compared: the best
    tie = {"time": 500, "early": 500, "late_average": 600, "classical": 10}  # equal size: the better one
    assert choose_parsimonious(values, tie, gaps) == "early"


def test_the_gate_passes_a_first_champion_above_the_minimum():
    decision = gate(candidate(0.5, 0.6), 0.3, None)
    assert decision.passed and decision.reasons == () and decision.previous is None


def test_the_gate_refuses_below_the_minimum_and_below_the_champion_beyond_its_interval():
    champion = Champion("ecgnet-beats-time", "1", 0.9, 0.85)
    decision = gate(candidate(0.2, 0.4), 0.3, champion)
    assert not decision.passed and len(decision.reasons) == 2
    assert "minimum 0.3" in decision.reasons[0] and "champion ecgnet-beats-time v1" in decision.reasons[1]
    assert gate(candidate(0.8, 0.95), 0.3, champion).passed  # worse, but within its interval
    assert decision.to_json()["candidate"]["val"] == {"value": 0.2, "lo": pytest.approx(0.15), "hi": 0.4}


def test_an_identical_retrain_is_not_worse_than_a_champion_whose_metric_the_registry_rounded():
    """Registries written before every digit was kept hold 6 decimals: 0.941088947839189 became 0.941089,
    and a retrain on the same data, with a validation split too small for its interval to open, read as
    worse than itself, which failed the weekly retrain."""
    same = Candidate("beats", "late_average", "2", Interval(*[0.941088947839189] * 3), "parent")
    assert gate(same, 0.3, Champion("ecgnet-beats-late_average", "1", 0.941089, 0.941089)).passed
    assert not gate(same, 0.3, Champion("ecgnet-beats-late_average", "1", 0.94109, 0.94109)).passed


def test_a_champion_scored_by_another_metric_is_not_compared():
    """A task whose headline changed (beats: five-class macro-F1, then over N, S and V): the old
    champion's number is in other units, so the gate says so instead of comparing."""
    old = Champion("ecgnet-beats-time", "1", 0.99, 0.98, "macro_f1")
    new = Candidate("beats", "early", "3", Interval(0.5, 0.45, 0.6), "parent", "macro_f1_N_S_V")
    decision = gate(new, 0.3, old)
    assert decision.passed and decision.reasons == ()
    assert "macro_f1" in decision.notes[0] and "not compared" in decision.notes[0]
    assert not gate(new, 0.3, Champion("ecgnet-beats-time", "1", 0.99, 0.98, "macro_f1_N_S_V")).passed
