"""The per-record prior re-estimation of benchmarks/prior_shift.py: what it reports rests on it."""

import numpy as np
import pytest

from benchmarks.prior_shift import adapt


def test_em_finds_a_records_class_mix_and_a_strong_pull_keeps_the_posteriors():
    rng = np.random.default_rng(0)
    # a calibrated two-class model under a 50/50 training mix: every beat is S with probability 0.3
    # or 0.7, the one record has 80 % of the 0.7 kind
    p_s = np.where(rng.random(2_000) < 0.8, 0.7, 0.3)
    probs = np.stack([1 - p_s, p_s], axis=1)
    records = np.array(["r"] * 2_000)
    reference = np.array([0.5, 0.5])
    adapted = adapt(probs, records, reference, alpha=0)
    assert adapted[:, 1].mean() > probs[:, 1].mean() + 0.05  # the record's S prior is estimated above half
    np.testing.assert_allclose(adapted.sum(axis=1), 1.0)
    held = adapt(probs, records, reference, alpha=1e9)  # a pull worth a billion beats: the reference mix
    np.testing.assert_allclose(held, probs, atol=1e-5)
    two = adapt(np.concatenate([probs, probs[:, ::-1]]), np.array(["a"] * 2_000 + ["b"] * 2_000), reference, 0)
    assert two[:2_000, 1].mean() == pytest.approx(two[2_000:, 0].mean())  # each record its own mix
