"""Monotone rhythm: a beat's prematurity can only argue for the premature classes."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from ecgnet.config import ModelConfig
from ecgnet.fusion import build
from ecgnet.models.rhythm import MonotoneRhythm
from ecgnet.train import tensors
from ecgnet.variants import VARIANTS
from feature_store.transforms.rhythm import BEAT_RR_NAMES, rr_context_names
from tests.nets import time_net

SMALL = ModelConfig(embed_dim=16, channels=4, scalar_dim=8, heads=2, layers=1, fusion_hidden=16)
CLASSES = ("N", "S", "V", "F", "Q")
CONTEXT = rr_context_names(2)  # rr_m2, rr_m1, rr_m0, rr_p0, rr_p1, rr_p2


def _rows(prev: np.ndarray, nxt: np.ndarray, local=0.95, mean=0.9, slow=1.0, q90=1.3, around=0.8) -> torch.Tensor:
    """RR columns as the time view computes them, then rr_context (2 beats either side: the beat's own
    intervals over the median around it, its neighbours' at 0) and two more scalars."""
    n = len(prev)
    cols = [prev, nxt, np.full(n, local), np.full(n, mean), prev / mean, nxt / mean, prev / slow, nxt / slow]
    cols += [prev / q90, nxt / q90]
    context = [np.zeros(n), np.zeros(n), np.log2(prev / around), np.log2(nxt / around), np.zeros(n), np.zeros(n)]
    rng = np.random.default_rng(0)
    return torch.tensor(np.stack(cols + context + [rng.normal(size=n)] * 2, axis=1), dtype=torch.float32)


def test_readings_are_the_log_of_each_reference_over_the_preceding_interval_then_the_pause():
    prev, nxt = np.array([0.5, 0.9, 1.4]), np.array([1.2, 0.9, 0.6])
    rhythm = MonotoneRhythm(BEAT_RR_NAMES, CONTEXT, CLASSES)
    got = rhythm.readings(_rows(prev, nxt)).numpy()
    want = np.stack([np.log(r / prev) for r in (0.95, 0.9, 1.0, 1.3, 0.8)] + [np.log(nxt / prev)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # without rr_context there is no reading against the intervals around the beat
    plain = MonotoneRhythm(BEAT_RR_NAMES, (), CLASSES)
    np.testing.assert_allclose(plain.readings(_rows(prev, nxt)[:, :10]).numpy(), want[:, [0, 1, 2, 3, 5]], rtol=1e-5)


def test_an_earlier_beat_never_argues_less_for_s_or_v_whatever_the_weights():
    """The premature classes' logits rise (never fall) as the beat comes earlier against fixed
    references, for any parameter values; the other classes get nothing from the rhythm."""
    rhythm = MonotoneRhythm(BEAT_RR_NAMES, CONTEXT, CLASSES)
    prev = np.linspace(1.6, 0.3, 40)  # ever earlier, the following interval fixed
    x = _rows(prev, np.full(40, 1.0))
    for seed in range(5):
        torch.manual_seed(seed)
        with torch.no_grad():
            rhythm.theta.normal_(0.0, 3.0)  # weights of any size, as training may leave them
            logits = rhythm(x)
        assert (logits[:, [0, 3, 4]] == 0).all()
        assert (torch.diff(logits[:, [1, 2]], dim=0) >= 0).all()
        assert (rhythm.weights() >= 0).all()
    # gated by the beat's embedding: each row's weights its own, still never negative
    gated = MonotoneRhythm(BEAT_RR_NAMES, CONTEXT, CLASSES, embed_dim=8)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in gated.parameters():
            p.normal_(0.0, 3.0)
        embedding = torch.randn(1, 8).expand(40, 8)  # one beat's shape, coming ever earlier
        logits = gated(x, embedding)
        assert (gated.weights(torch.randn(40, 8)) >= 0).all()
    assert (torch.diff(logits[:, [1, 2]], dim=0) >= 0).all() and (logits[:, [0, 3, 4]] == 0).all()
    # a longer pause after the beat argues for premature too
    with torch.no_grad():
        paused = rhythm(_rows(np.full(10, 0.6), np.linspace(0.6, 1.8, 10)))
    assert (torch.diff(paused[:, [1, 2]], dim=0) >= 0).all()


def test_the_rest_of_the_time_network_no_longer_reads_the_beats_own_intervals(beat_task_sample):
    data = beat_task_sample(80)
    on = build(VARIANTS["time"], data, replace(SMALL, monotone_rhythm="gated")).eval()
    net = time_net(on)
    rhythm = net.rhythm
    assert rhythm is not None and rhythm.gate is not None
    assert time_net(build(VARIANTS["time"], data, SMALL)).rhythm is None
    x = {m: {k: v[:16] for k, v in inp.items()} for m, inp in tensors(data.val).items()}
    moved = x["time"]["scalars"].clone()
    own = rhythm.own
    moved[:, own] = moved[:, own] * 1.7  # the beat's intervals and its readings change; nothing else does
    y = {**x, "time": {**x["time"], "scalars": moved}}
    with torch.no_grad():
        torch.testing.assert_close(net.encode(x["time"]), net.encode(y["time"]))
        changed = on(y) - on(x)
    s, v = data.classes.index("S"), data.classes.index("V")
    others = [i for i in range(len(data.classes)) if i not in (s, v)]
    assert changed[:, [s, v]].abs().max() > 0 and changed[:, others].abs().max() < 1e-5
    # the columns it leaves out: the ten RR columns and the beat's own two in rr_context
    context = data.spec.view_params["time"].rr_context_beats
    assert len(own) == len(BEAT_RR_NAMES) + 2 and context > 0


def test_monotone_rhythm_and_reference_readings_are_one_or_the_other(beat_task_sample):
    data = beat_task_sample(40)
    with pytest.raises(ValueError, match="fix: set one of them"):
        build(VARIANTS["time"], data, replace(SMALL, monotone_rhythm="additive", reference_readings=0.5))
    with pytest.raises(ValueError, match="fix: 'off', 'additive' or 'gated'"):
        build(VARIANTS["time"], data, replace(SMALL, monotone_rhythm="yes"))
    with pytest.raises(ValueError, match="monotone_rhythm='off' for intermediate fusion"):
        build(VARIANTS["intermediate_gated"], data, replace(SMALL, monotone_rhythm="additive"))
    with pytest.raises(ValueError, match="none of"):
        MonotoneRhythm(BEAT_RR_NAMES, (), ("normal", "afib"))
