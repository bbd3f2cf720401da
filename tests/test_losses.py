"""The focal loss (TrainConfig.focal_gamma): gamma 0 is the class-weighted cross-entropy, a larger gamma
takes weight from the rows already read right, and it composes with per-row weights."""

import pytest
import torch
from torch import nn

from ecgnet.config import TrainConfig
from ecgnet.losses import FocalLoss
from ecgnet.train import _row_weighted, loss_function

WEIGHT = torch.tensor([0.2, 3.0, 1.5, 8.0, 1.0])


def _rows(n: int = 32):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 5, generator=g) * 3, torch.randint(0, 5, (n,), generator=g)


@pytest.mark.parametrize("weight", [WEIGHT, None])
def test_gamma_zero_is_the_class_weighted_cross_entropy(weight):
    logits, target = _rows()
    torch.testing.assert_close(
        FocalLoss(weight, 0.0)(logits, target), nn.CrossEntropyLoss(weight=weight)(logits, target)
    )


def test_focal_loss_takes_weight_from_confident_rows_not_from_wrong_ones():
    target = torch.tensor([0, 0])
    logits = torch.tensor([[6.0, 0, 0, 0, 0], [-6.0, 0, 0, 0, 0]])  # the first read right, the second wrong
    ce = nn.functional.cross_entropy(logits, target, reduction="none")
    focal = FocalLoss(None, 2.0).per_row(logits, target)
    assert focal[0] < 1e-3 * ce[0] and focal[1] > 0.99 * ce[1]
    assert FocalLoss(WEIGHT, 2.0)(*_rows()) < FocalLoss(WEIGHT, 0.0)(*_rows())
    with pytest.raises(ValueError, match="focal gamma"):
        FocalLoss(None, -1.0)


def test_row_weights_compose_with_the_focal_loss(beat_task_sample):
    logits, target = _rows()
    focal = FocalLoss(WEIGHT, 2.0)
    torch.testing.assert_close(_row_weighted(focal, logits, target, torch.ones(32)), focal(logits, target))
    heavy = torch.ones(32)
    heavy[0] = 10.0
    assert not torch.isclose(_row_weighted(focal, logits, target, heavy), focal(logits, target))
    data = beat_task_sample(120)
    built = loss_function(data, TrainConfig(focal_gamma=2.0), torch.device("cpu"))
    assert isinstance(built, FocalLoss) and built.gamma == 2.0 and built.weight is not None
    assert isinstance(loss_function(data, TrainConfig(), torch.device("cpu")), nn.CrossEntropyLoss)
