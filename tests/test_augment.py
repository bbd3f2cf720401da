"""Training augmentation (waveforms, RR references, conduction): repeatable from its generator, bounded as
configured, off by default."""

from dataclasses import replace

import pytest
import torch

from ecgnet.augment import augment_waveform, drop_shape, jitter_rhythm, mix_rows, rhythm_exponents, swap_conduction
from ecgnet.config import AugmentConfig, ConductionSwap, RhythmJitter, ShapeDropout, TrainConfig
from ecgnet.fusion import build
from ecgnet.train import train
from ecgnet.variants import VARIANTS
from feature_store.transforms.rhythm import BEAT_RR_NAMES
from tests.test_models import SMALL


def test_augmentation_is_repeatable_and_bounded():
    x = torch.sin(torch.linspace(0, 12, 256)).repeat(32, 2, 1)
    cfg = AugmentConfig()
    a = augment_waveform(x, cfg, torch.Generator().manual_seed(1))
    b = augment_waveform(x, cfg, torch.Generator().manual_seed(1))
    c = augment_waveform(x, cfg, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    gain_only = augment_waveform(x, AugmentConfig(noise=0, wander=0, shift=0), torch.Generator().manual_seed(1))
    ratio = gain_only.abs().amax(dim=2) / x.abs().amax(dim=2)
    assert ratio.min() >= 1 - cfg.scale - 1e-6 and ratio.max() <= 1 + cfg.scale + 1e-6
    shifted = augment_waveform(x, AugmentConfig(scale=0, noise=0, wander=0, shift=3), torch.Generator().manual_seed(1))
    assert any(torch.equal(shifted[0, 0, 3:-3], x[0, 0, 3 + s : 253 + s]) for s in range(-3, 4))


def test_augmentation_is_off_by_default():
    assert TrainConfig().augment is None


def _rr_rows(n: int = 64) -> torch.Tensor:
    """RR columns as feature_store.transforms.rhythm makes them (intervals over each reference), and a
    column after them that is not RR."""
    g = torch.Generator().manual_seed(0)
    prev, nxt, local = (
        0.4 + torch.rand(n, generator=g),
        0.4 + torch.rand(n, generator=g),
        0.6 + torch.rand(n, generator=g),
    )
    mean, slow, q90 = 0.8 + 0.1 * torch.rand(n, generator=g), torch.full((n,), 0.9), torch.full((n,), 1.1)
    cols = [prev, nxt, local, mean, prev / mean, nxt / mean, prev / slow, nxt / slow, prev / q90, nxt / q90]
    return torch.stack([*cols, torch.randn(n, generator=g)], dim=1)


def test_rhythm_jitter_moves_each_reference_alone_and_keeps_every_ratio_it_implies():
    x, cfg = _rr_rows(), RhythmJitter()
    exponents = rhythm_exponents(BEAT_RR_NAMES)
    a = jitter_rhythm(x, exponents, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(a, jitter_rhythm(x, exponents, cfg, torch.Generator().manual_seed(1)))  # repeatable
    assert torch.equal(a[:, 10:], x[:, 10:])  # columns after the RR ones untouched
    col = {name: i for i, name in enumerate(BEAT_RR_NAMES)}
    ratio = a / x
    # one factor per reference: both intervals over it move together, and the interval over the record
    # mean is still the interval in seconds over the mean in seconds
    for pair in (("rr_prev_norm", "rr_next_norm"), ("rr_prev_slow_norm", "rr_next_slow_norm")):
        assert torch.allclose(ratio[:, col[pair[0]]], ratio[:, col[pair[1]]])
    assert torch.allclose(a[:, col["rr_prev_norm"]], a[:, col["rr_prev_s"]] / a[:, col["rr_record_s"]], rtol=1e-5)
    assert torch.allclose(ratio[:, col["rr_prev_s"]], ratio[:, col["rr_next_s"]])  # tempo: all seconds alike
    tempo = ratio[:, col["rr_prev_s"]]
    assert tempo.min() >= 1 / cfg.tempo - 1e-6 and tempo.max() <= cfg.tempo + 1e-6
    slow, q90 = ratio[:, col["rr_prev_slow_norm"]], ratio[:, col["rr_prev_q90_norm"]]
    assert slow.min() >= 1 / cfg.reference - 1e-6 and slow.max() <= cfg.reference + 1e-6
    assert not torch.allclose(slow, q90)  # independent draws: the references may disagree
    with pytest.raises(ValueError, match="fix: add them to ecgnet.augment.RR_JITTER"):
        rhythm_exponents((*BEAT_RR_NAMES, "rr_next_next_s"))


def _changes_training(data, **change) -> bool:
    """Whether one epoch of the time variant ends elsewhere with `change` to TrainConfig than without."""
    cfg = TrainConfig(epochs=1, batch_size=64, device="cpu")
    plain = train(build(VARIANTS["time"], data, SMALL), data, cfg).model.state_dict()
    changed = train(build(VARIANTS["time"], data, SMALL), data, replace(cfg, **change)).model.state_dict()
    return any(not torch.equal(plain[k], changed[k]) for k in plain)


def test_rhythm_jitter_changes_what_a_beat_model_learns_and_is_off_by_default(beat_task_sample):
    assert TrainConfig().rhythm_jitter is None
    assert _changes_training(beat_task_sample(400), rhythm_jitter=RhythmJitter())


def test_conduction_swap_gives_s_beats_n_shapes_and_keeps_their_rhythm_and_everything_else():
    n, rhythm = 400, 3
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 3, (n,), generator=g)  # 0 N, 1 S, 2 V
    time = {"waveform": torch.randn(n, 2, 16, generator=g), "scalars": torch.randn(n, 7, generator=g)}
    before = {k: v.clone() for k, v in time.items()}
    out = swap_conduction(time, target, rhythm, (1, 0), 0.5, torch.Generator().manual_seed(1))
    again = swap_conduction(time, target, rhythm, (1, 0), 0.5, torch.Generator().manual_seed(1))
    assert all(torch.equal(out[k], again[k]) for k in time)  # repeatable from its generator
    assert torch.equal(out["scalars"][:, :rhythm], time["scalars"][:, :rhythm])  # every rhythm column kept
    moved = (out["waveform"] != time["waveform"]).flatten(1).any(dim=1)
    assert not moved[target != 1].any()  # only S rows change
    assert 0.35 < moved[target == 1].float().mean() < 0.65  # about `share` of them
    n_rows = torch.nonzero(target == 0).flatten()
    for row in torch.nonzero(moved).flatten():  # each took one N row's waveform and morphology together
        donor = [d for d in n_rows if torch.equal(out["waveform"][row], time["waveform"][d])]
        assert len(donor) == 1 and torch.equal(out["scalars"][row, rhythm:], time["scalars"][donor[0], rhythm:])
    assert all(torch.equal(time[k], before[k]) for k in time)  # the input is not written to
    no_donor = swap_conduction(time, torch.ones(n, dtype=torch.long), rhythm, (1, 0), 1.0, torch.Generator())
    assert no_donor is time


def test_conduction_swap_trains_differently_is_off_by_default_and_names_a_missing_class(beat_task_sample):
    assert TrainConfig().conduction_swap is None
    data = beat_task_sample(400)
    assert _changes_training(data, conduction_swap=ConductionSwap())
    cfg = TrainConfig(epochs=1, batch_size=64, device="cpu", conduction_swap=ConductionSwap(donor="X"))
    with pytest.raises(ValueError, match="has no class"):
        train(build(VARIANTS["time"], data, SMALL), data, cfg)


def test_shape_dropout_flattens_some_rows_shapes_and_keeps_their_rhythm():
    n, rhythm = 400, 3
    g = torch.Generator().manual_seed(0)
    time = {"waveform": torch.randn(n, 2, 16, generator=g), "scalars": torch.randn(n, 7, generator=g)}
    before = {k: v.clone() for k, v in time.items()}
    out = drop_shape(time, rhythm, 0.3, torch.Generator().manual_seed(1))
    again = drop_shape(time, rhythm, 0.3, torch.Generator().manual_seed(1))
    assert all(torch.equal(out[k], again[k]) for k in time)  # repeatable from its generator
    assert torch.equal(out["scalars"][:, :rhythm], time["scalars"][:, :rhythm])  # every rhythm column kept
    dropped = (out["waveform"] != time["waveform"]).flatten(1).any(dim=1)
    assert 0.2 < dropped.float().mean() < 0.4  # about `share` of the rows, of any class
    lead_means = time["waveform"].mean(dim=(0, 2))
    for row in torch.nonzero(dropped).flatten():  # each lead flat at its batch mean, morphology at the means
        torch.testing.assert_close(out["waveform"][row], lead_means[:, None].expand(2, 16))
        torch.testing.assert_close(out["scalars"][row, rhythm:], time["scalars"][:, rhythm:].mean(dim=0))
    kept = ~dropped
    assert torch.equal(out["scalars"][kept], time["scalars"][kept])  # the other rows untouched
    assert all(torch.equal(time[k], before[k]) for k in time)  # the input is not written to
    assert drop_shape(time, rhythm, 0.0, torch.Generator()) is time


def test_shape_dropout_trains_differently_and_is_off_by_default(beat_task_sample):
    assert TrainConfig().shape_dropout is None
    assert _changes_training(beat_task_sample(400), shape_dropout=ShapeDropout())


def test_mixup_mixes_every_input_of_every_modality_with_one_partner_per_row():
    g = torch.Generator().manual_seed(0)
    batch = {
        "time": {"waveform": torch.randn(64, 2, 16, generator=g), "scalars": torch.randn(64, 7, generator=g)},
        "spectrogram": {"image": torch.randn(64, 1, 4, 4, generator=g)},
    }
    mixed, partner, lam = mix_rows(batch, 0.2, torch.Generator().manual_seed(1))
    again, partner_again, lam_again = mix_rows(batch, 0.2, torch.Generator().manual_seed(1))
    assert lam == lam_again and torch.equal(partner, partner_again)  # repeatable from its generator
    assert 0.5 <= lam <= 1.0  # folded: each row stays nearer its own label
    assert sorted(partner.tolist()) == list(range(64))
    for m, inputs in batch.items():
        for k, v in inputs.items():
            torch.testing.assert_close(mixed[m][k], lam * v + (1 - lam) * v[partner])
            assert torch.equal(again[m][k], mixed[m][k])
    lams = [mix_rows(batch, 0.2, torch.Generator().manual_seed(s))[2] for s in range(200)]
    assert sum(lam > 0.95 for lam in lams) > 60  # Beta(0.2, 0.2) sits near its ends: mostly light mixes
    assert min(lams) < 0.7


def test_mixup_trains_differently_and_is_off_by_default(beat_task_sample):
    assert TrainConfig().mixup is None
    assert _changes_training(beat_task_sample(400), mixup=0.2)
