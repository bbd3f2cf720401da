"""Typed views of the networks `ecgnet.fusion.build` and the trainers return: they are typed as any
nn.Module, whose attributes read as `Tensor | Module`; each view asserts the kind the test relies on."""

from __future__ import annotations

from torch import nn

from ecgnet.classical import BoostedReference, LinearReference
from ecgnet.crossval import FoldEnsemble
from ecgnet.fusion import IntermediateFusion, SingleModality
from ecgnet.models import TimeNet


def single_net(model: nn.Module) -> nn.Module:
    """The encoder (with its head) of a single-modality model."""
    assert isinstance(model, SingleModality), type(model)
    return model.net


def time_net(model: nn.Module) -> TimeNet:
    """The time encoder of a time variant's model."""
    net = single_net(model)
    assert isinstance(net, TimeNet), type(net)
    return net


def intermediate(model: nn.Module) -> IntermediateFusion:
    assert isinstance(model, IntermediateFusion), type(model)
    return model


def fold_members(model: nn.Module) -> list[nn.Module]:
    """The members of a cross-validated variant's fold ensemble, fold by fold."""
    assert isinstance(model, FoldEnsemble), type(model)
    return list(model.members)


def reference(model: nn.Module) -> LinearReference | BoostedReference:
    """A classical variant's model, as `fit_reference` takes it."""
    assert isinstance(model, LinearReference | BoostedReference), type(model)
    return model
