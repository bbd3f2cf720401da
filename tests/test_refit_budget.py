"""The nested refit-or-ensemble benchmark's refit: one model on every training row, kept at its budget epoch,
blind to the validation rows it is handed."""

import dataclasses

import torch

from benchmarks.refit_budget import refit
from ecgnet.config import ComparisonConfig, TrainConfig
from tests.test_models import SMALL


def _states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_refit_keeps_its_budget_epoch_and_never_reads_the_validation_rows(beat_task_sample):
    data = beat_task_sample(200)
    cfg = ComparisonConfig(model=SMALL, train=TrainConfig(epochs=2, batch_size=64, device="cpu"))
    model, seconds = refit(data, cfg, budget=1)
    assert seconds > 0 and not model.training
    other_val = dataclasses.replace(data, val=data.test)  # other held-out rows: nothing may change
    assert _states_equal(model, refit(other_val, cfg, budget=1)[0])
    assert not _states_equal(model, refit(data, cfg, budget=0)[0])  # the budget is where it stops
