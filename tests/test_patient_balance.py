"""Patient balance (TrainConfig.patient_balance): within each class every patient can be given the
same say, whatever its share of the class's rows; off, training is what it was."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from ecgnet.config import TrainConfig
from ecgnet.fusion import build
from ecgnet.train import _row_weighted, patient_weights, train
from ecgnet.variants import VARIANTS
from tests.test_models import SMALL


def test_patient_weights_give_each_patient_an_equal_share_of_a_class_and_keep_its_total():
    y = np.array([0] * 6 + [1] * 4)
    groups = np.array(["a"] * 5 + ["b"] + ["a"] * 3 + ["b"])  # a: 5 N, 3 S; b: 1 N, 1 S
    assert np.array_equal(patient_weights(y, groups, 0.0), np.ones(10))
    w = patient_weights(y, groups, 1.0)
    for c, rows in ((0, 6), (1, 4)):
        mine = y == c
        assert w[mine].sum() == pytest.approx(rows)  # the class keeps its weight
        assert w[mine & (groups == "a")].sum() == pytest.approx(w[mine & (groups == "b")].sum())
    half = patient_weights(y, groups, 0.5)
    assert w[5] > half[5] > 1.0  # b's lone N beat: between no balance and full balance


def test_row_weights_of_one_are_the_class_weighted_loss():
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(32, 5, generator=g), torch.randint(0, 5, (32,), generator=g)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor([0.2, 3.0, 1.5, 8.0, 1.0]))
    torch.testing.assert_close(_row_weighted(loss_fn, logits, target, torch.ones(32)), loss_fn(logits, target))
    doubled = _row_weighted(loss_fn, logits, target, torch.full((32,), 2.0))  # a scale of all rows: the same
    torch.testing.assert_close(doubled, loss_fn(logits, target))


def test_patient_balance_changes_what_is_learnt_from_two_patients(beat_task_sample):
    data = beat_task_sample(300)
    both = replace(data, train=data.train.join(data.val))  # 209 and 220: balance has someone to weigh
    cfg = TrainConfig(epochs=1, batch_size=64, device="cpu")
    assert TrainConfig().patient_balance == 0.0
    plain = train(build(VARIANTS["time"], both, SMALL), both, cfg).model.state_dict()
    balanced = train(build(VARIANTS["time"], both, SMALL), both, replace(cfg, patient_balance=1.0)).model.state_dict()
    assert any(not torch.equal(plain[k], balanced[k]) for k in plain)
