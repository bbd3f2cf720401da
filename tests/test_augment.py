"""Waveform augmentation: repeatable from its generator, bounded as configured, off by default."""

import torch

from ecgnet.augment import AugmentConfig, augment_waveform
from ecgnet.train import TrainConfig


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
