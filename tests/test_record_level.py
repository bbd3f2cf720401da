"""benchmarks/record_level.py: the three record-level corrections its table rests on. Generated rows: the
arithmetic needs no ECG."""

import numpy as np
from scipy.special import log_softmax, softmax

from benchmarks.record_level import bias_corrected_temperature, cluster, raised_prior, relative


def test_relative_reads_each_beat_against_its_own_records_quantile():
    probs = np.full((6, 3), 0.1)
    probs[:, 1] = [0.01, 0.02, 0.04, 0.2, 0.2, 0.4]  # S
    probs[:, 0] = 1 - probs[:, 1] - 0.1  # N
    records = np.array(["a", "a", "a", "b", "b", "b"])
    got = relative(probs, records, s=1, n=0, q=0.0)  # q 0: against the record's lowest
    lo = np.log(probs[:, 1]) - np.log(probs[:, 0])
    np.testing.assert_allclose(got, np.r_[lo[:3] - lo[0], lo[3:] - lo[3]])
    assert got[0] == 0 and got[3] == 0 and got[5] > 0


def test_the_calibration_recovers_a_known_temperature_and_bias():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, size=(20_000, 3))
    y = np.array([rng.choice(3, p=p) for p in softmax(z, axis=1)])
    bias = np.array([0.0, -1.0, 0.5])
    logp = log_softmax((z - bias) * 2.0, axis=1)  # over-confident by 2, shifted per class
    t, b = bias_corrected_temperature(logp, y)
    assert abs(t - 2.0) < 0.1
    np.testing.assert_allclose(b - b[0], bias - bias[0], atol=0.1)


def test_a_record_richer_in_s_than_the_mix_is_raised_and_no_record_is_lowered():
    rng = np.random.default_rng(1)
    patients = np.repeat([f"p{i}" for i in range(10)], 300)
    share = np.where(patients == "p0", 0.6, 0.05)  # p0: S-rich
    y = (rng.random(len(patients)) < share).astype(int)  # 0 N, 1 S
    lo = rng.normal(np.where(y == 1, 2.0, -2.0), 1.0)
    p_s = 1 / (1 + np.exp(-lo))
    probs = np.stack([1 - p_s, p_s], axis=1)
    raised = raised_prior(probs, y, patients, patients, s=1)
    assert (raised >= 0).all()
    assert raised[patients == "p0"].min() > 1.5  # log(0.6 / ~0.1)
    assert np.median(raised[patients != "p0"]) < 0.5


def test_a_separate_cluster_below_the_decision_is_lifted_towards_it_and_a_single_one_is_not():
    rng = np.random.default_rng(2)
    lo = np.r_[rng.normal(-8.0, 0.5, 900), rng.normal(-2.0, 0.5, 100), rng.normal(-8.0, 0.5, 1000)]
    p_s = 1 / (1 + np.exp(-lo))
    probs = np.stack([(1 - p_s) * 0.99, p_s * 0.99, np.full(len(lo), 0.01)], axis=1)
    records = np.repeat(["two", "one"], 1000)
    lifted = cluster(probs, records, s=1, n=0, separation=3.0)
    assert np.median(lifted[900:1000]) > 1.5  # the upper cluster, about 2 below the decision
    assert np.abs(lifted[:900]).max() < 0.1
    assert (lifted[1000:] == 0).all()  # one component: nothing to lift
