"""Reference readings: a beat's RR columns read against one record reference at a time."""

from dataclasses import replace

import numpy as np
import torch

from ecgnet.config import ModelConfig
from ecgnet.fusion import build
from ecgnet.models.readings import REFERENCE_PAIRS, ReferenceReadings
from ecgnet.train import tensors
from ecgnet.variants import VARIANTS
from feature_store.transforms.rhythm import BEAT_RR_NAMES
from tests.nets import intermediate, time_net

SMALL = ModelConfig(embed_dim=16, channels=4, scalar_dim=8, heads=2, layers=1, fusion_hidden=16)
COL = {n: i for i, n in enumerate(BEAT_RR_NAMES)}


def _rr_rows(n: int = 6) -> torch.Tensor:
    """RR columns as the time view computes them (a beat's seconds over three different references),
    and two further scalars the readings must leave alone."""
    rng = np.random.default_rng(0)
    prev, nxt = rng.uniform(0.4, 1.6, n), rng.uniform(0.4, 1.6, n)
    mean, slow, q90 = 0.9, 1.0, 1.3
    cols = [prev, nxt, np.full(n, 0.95), np.full(n, mean), prev / mean, nxt / mean, prev / slow, nxt / slow]
    cols += [prev / q90, nxt / q90, rng.normal(size=n), rng.normal(size=n)]
    return torch.tensor(np.stack(cols, axis=1), dtype=torch.float32)


def test_a_reading_puts_one_reference_in_every_reference_column_and_leaves_the_rest():
    x = _rr_rows()
    readings = ReferenceReadings(BEAT_RR_NAMES, 0.5)
    as_is, *each = readings.all(x)
    assert torch.equal(as_is, x) and len(each) == len(REFERENCE_PAIRS)
    for (prev_col, next_col), read in zip(REFERENCE_PAIRS, each):
        for pair in REFERENCE_PAIRS:
            assert torch.equal(read[:, COL[pair[0]]], x[:, COL[prev_col]])
            assert torch.equal(read[:, COL[pair[1]]], x[:, COL[next_col]])
        # the record-reference-in-seconds column holds this reference, in seconds
        reference_s = x[:, COL["rr_prev_s"]] / x[:, COL[prev_col]]
        torch.testing.assert_close(read[:, COL["rr_record_s"]], reference_s)
        torch.testing.assert_close(read[:, COL["rr_local_s"]], reference_s)
        untouched = [COL["rr_prev_s"], COL["rr_next_s"], 10, 11]
        assert torch.equal(read[:, untouched], x[:, untouched])
    torch.testing.assert_close(each[2][:, COL["rr_record_s"]], torch.full((len(x),), 1.3))
    assert not torch.equal(each[0][:, COL["rr_local_s"]], x[:, COL["rr_local_s"]])


def test_training_draws_read_the_given_share_of_rows():
    x = _rr_rows(4000)
    torch.manual_seed(0)
    drawn = ReferenceReadings(BEAT_RR_NAMES, 0.5).draw(x)
    changed = (drawn != x).any(dim=1).float().mean().item()
    assert 0.4 < changed < 0.6
    assert torch.equal(ReferenceReadings(BEAT_RR_NAMES, 1.0).draw(x)[:, 10:], x[:, 10:])


def test_a_beat_models_time_encoder_averages_its_readings_in_evaluation(beat_task_sample):
    data = beat_task_sample(80)
    off = build(VARIANTS["time"], data, SMALL)
    on = build(VARIANTS["time"], data, replace(SMALL, reference_readings=0.5))
    on_readings = time_net(on).readings
    assert time_net(off).readings is None and on_readings is not None
    on.load_state_dict(off.state_dict())  # the readings hold no weights: the same network
    x = {m: {k: v[:16] for k, v in inp.items()} for m, inp in tensors(data.val).items()}
    on.eval(), off.eval()
    with torch.no_grad():
        per_reading = []
        for scalars in on_readings.all(x["time"]["scalars"]):
            per_reading.append(off({**x, "time": {**x["time"], "scalars": scalars}}))
        torch.testing.assert_close(on(x), torch.stack(per_reading).mean(dim=0), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(on(x), off(x))
    # intermediate fusion's time encoder reads alike; the other modalities and early fusion have no RR
    fused = intermediate(build(VARIANTS["intermediate_concat"], data, replace(SMALL, reference_readings=0.5)))
    assert fused.encoders["time"].readings is not None
    assert not hasattr(fused.encoders["frequency"], "readings")
