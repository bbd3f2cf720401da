"""Weight averaging (TrainConfig.weight_average): off by default; on, what is scored and returned is the
moving average of the weights, and a resumed run carries the average on."""

from dataclasses import replace

import pytest
import torch

from ecgnet.config import TrainConfig
from ecgnet.fusion import build
from ecgnet.train import seed_everything, train
from ecgnet.variants import VARIANTS
from tests.test_models import SMALL


@pytest.fixture(scope="module")
def data(beat_task_sample):
    return beat_task_sample(300)


def _trained(data, cfg, **kwargs):
    seed_everything(cfg.seed)
    return train(build(VARIANTS["time"], data, SMALL), data, cfg, **kwargs)


def _same(a, b) -> bool:
    a, b = a.model.state_dict(), b.model.state_dict()
    return all(torch.equal(a[k], b[k]) for k in a)


def test_the_default_leaves_training_as_it_was():
    assert TrainConfig().weight_average is None


def test_the_average_is_what_is_scored_and_returned(data):
    cfg = TrainConfig(epochs=2, batch_size=64, seed=3, patience=10)
    plain = _trained(data, cfg)
    # decay 0: the average is the last step's weights, so training is unchanged, scores and all
    last = _trained(data, replace(cfg, weight_average=0.0))
    assert _same(plain, last)
    assert [h["val_metric"] for h in last.history] == [h["val_metric"] for h in plain.history]
    # decay 1: the average stays at the weights after the first step, whatever follows
    first = _trained(data, replace(cfg, weight_average=1.0))
    assert not _same(plain, first)
    one_step = _trained(data, replace(cfg, epochs=1, weight_average=1.0, batch_size=len(data.train.y) - 1))
    frozen = _trained(data, replace(cfg, weight_average=1.0, batch_size=len(data.train.y) - 1))
    assert _same(one_step, frozen)  # one step an epoch (the remainder row is skipped): epoch 2 moved nothing
    between = _trained(data, replace(cfg, weight_average=0.9))
    assert not _same(between, plain) and not _same(between, first)


def test_a_resumed_run_carries_the_average_on(data, tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=64, seed=1, patience=10, weight_average=0.9)
    straight = _trained(data, cfg)

    def stop_after_first(epoch, record):
        if epoch == 0:
            raise KeyboardInterrupt("simulated interruption")

    ckpt = tmp_path / "time.pt"
    with pytest.raises(KeyboardInterrupt):
        _trained(data, cfg, checkpoint=ckpt, on_epoch=stop_after_first)
    seed_everything(99)
    resumed = train(build(VARIANTS["time"], data, SMALL), data, cfg, checkpoint=ckpt)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2]
    assert _same(straight, resumed) and resumed.best_val == straight.best_val
