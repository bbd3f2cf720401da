"""The rhythm rule of benchmarks/rhythm_rule.py: the table it printed (benchmarks/ABLATIONS.md) rests on the
rule telling early beats apart out of fold, a weight of 0 leaving a variant as it was, and a rule that says
nothing not being taken. Generated rows: no ECG is needed to check the arithmetic."""

import numpy as np
import pytest

from benchmarks.rhythm_rule import cross_fitted, out_of_fold, rule_scores, saved_run_parser, tree_rule, with_rule
from ecgnet.data import Split
from feature_store.beat_ids import beat_positions

N, S, V = 0, 1, 2


def _rows(patients: int = 10, per: int = 200, seed: int = 0):
    """Three classes; the model under test misses half the S rows, which come with a short first interval."""
    rng = np.random.default_rng(seed)
    y = rng.choice([N, S, V], size=patients * per, p=[0.8, 0.15, 0.05])
    groups = np.repeat(np.arange(patients).astype(str), per)
    intervals = rng.normal(1.0, 0.05, size=(len(y), 4))
    intervals[y == S, 0] -= 0.3  # S beats come early
    probs = np.full((len(y), 3), 0.05)
    probs[np.arange(len(y)), y] = 0.9
    missed = (y == S) & (rng.random(len(y)) < 0.5)
    probs[missed] = [0.9, 0.05, 0.05]  # read as N
    return probs, y, groups, intervals


def test_a_weight_of_zero_leaves_the_probabilities_and_a_higher_score_raises_s():
    probs, *_ = _rows()
    np.testing.assert_allclose(with_rule(probs, np.full(len(probs), 3.0), 0.0, S), probs, atol=1e-9)
    raised = with_rule(probs, np.full(len(probs), 3.0), 1.0, S)
    assert np.all(raised[:, S] > probs[:, S]) and np.allclose(raised.sum(axis=1), 1.0)
    # the other classes keep their ratio
    np.testing.assert_allclose(raised[:, N] / raised[:, V], probs[:, N] / probs[:, V], rtol=1e-9)


def test_the_rule_finds_early_beats_and_a_rule_of_noise_is_not_taken():
    probs, y, groups, intervals = _rows()
    score = rule_scores(intervals, y, groups, N, S)
    assert score[y == S].mean() > score[y == N].mean() + 1.0  # out of fold, it still tells them apart
    labels = (N, S, V)
    decided, chosen = cross_fitted(probs, score, y, groups, labels, S)
    assert all(w > 0 for _, w in chosen)  # informative everywhere: every fold takes it
    assert np.mean(decided[y == S].argmax(axis=1) == S) > np.mean(probs[y == S].argmax(axis=1) == S) + 0.3
    # a rule that says nothing (its score is noise) is not taken where it costs
    noise = np.random.default_rng(1).normal(size=len(y)) * 5
    _, chosen = cross_fitted(probs, noise, y, groups, labels, S)
    assert max(w for _, w in chosen) <= 0.25


def test_a_wider_qrs_reads_as_a_wider_spread_and_the_gate_confines_the_rule(beat_task_sample):
    """qrs_spread on real beats (the sample's training patient, conducted normally): the same beats stretched
    in time 1.5x around their R peak read wider by about as much; and a gate no record reaches leaves a
    variant as it was."""
    from benchmarks.rhythm_rule import qrs_spread, r_peak_sample
    from ecgnet.data import Split

    data = beat_task_sample(300)
    train = data.train
    records = beat_positions(train.ids)[0]
    one = train.take(np.flatnonzero(records == records[0]))
    spread = qrs_spread(one, data)
    assert len(np.unique(spread)) == 1 and 20 < spread[0] < 120  # one record, one spread, in ms
    centre, _ = r_peak_sample(data)
    wave = np.asarray(one.x["time"]["waveform"])
    t = np.arange(wave.shape[-1], dtype=float)
    wider = np.stack([[np.interp(centre + (t - centre) / 1.5, t, lead) for lead in beat] for beat in wave])
    moved = Split(
        {**one.x, "time": {**one.x["time"], "waveform": wider.astype(np.float32)}}, one.y, one.ids, one.groups
    )
    assert 1.2 < qrs_spread(moved, data)[0] / spread[0] < 1.8
    probs, y, groups, intervals = _rows()
    score = rule_scores(intervals, y, groups, N, S)
    decided, chosen = cross_fitted(probs, score, y, groups, (N, S, V), S, width=np.zeros(len(y)))
    assert all(gate > 0 for gate, _ in chosen)  # no record is as wide as any gate...
    np.testing.assert_allclose(decided, probs, atol=1e-9)  # ...so the rule applies nowhere


def test_the_tree_rule_finds_early_beats_out_of_fold_and_reads_no_v_row():
    _, y, groups, intervals = _rows()
    score = rule_scores(intervals, y, groups, N, S, fit=tree_rule)
    assert (score[y == S] > 0).mean() > 0.9 and (score[y == N] > 0).mean() < 0.1
    v_early = intervals.copy()
    v_early[y == V, 0] -= 0.3  # V rows moved: the rule is fitted on N and S rows only, so nothing changes
    np.testing.assert_allclose(rule_scores(v_early, y, groups, N, S, fit=tree_rule)[y != V], score[y != V])


def test_saved_runs_are_read_out_of_fold_in_the_development_order_or_refused_by_name(tmp_path):
    dev = Split({}, np.array([N, S, N]), np.array(["101:5", "101:9", "106:2"]), np.array(["101", "101", "106"]))
    np.savez(tmp_path / "time.npz", raw_val=np.eye(3)[[0, 1, 0]])
    harness = tmp_path / "00.npz"  # the harness writes its rows in its own order
    np.savez(harness, ablation="row", ids=dev.ids[::-1], y=dev.y[::-1], probs=np.eye(3)[[2, 1, 0]])
    args = saved_run_parser("test").parse_args([str(tmp_path), "--variants", "time", "--oof", str(harness)])
    read = out_of_fold(args.run, dev, args.variants, args.oof)
    np.testing.assert_array_equal(read["time"], np.eye(3)[[0, 1, 0]])
    np.testing.assert_array_equal(read["00: row"], np.eye(3)[[0, 1, 2]])

    np.savez(tmp_path / "val_only.npz", raw_val=np.eye(3)[[0, 1]])  # a run chosen on a validation split
    with pytest.raises(ValueError, match=r"val_only\.npz: 2 validation rows.*ECGNET_FOLDS"):
        out_of_fold(tmp_path, dev, ["val_only"], [])
    other = tmp_path / "01.npz"
    np.savez(other, ablation="row", ids=np.array(["101:5", "101:9", "108:1"]), y=dev.y, probs=np.eye(3))
    with pytest.raises(ValueError, match=r"01\.npz: not the run's DS1 beats"):
        out_of_fold(tmp_path, dev, ["none"], [other])
