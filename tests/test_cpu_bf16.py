"""TrainConfig.cpu_bf16: bfloat16 autocast in CPU training for the convolutional models, and gradients that
are what bfloat16 operands give (torch 2.13's oneDNN computed wrong gradients in another layout, channels-last:
benchmarks/ABLATIONS.md), checked against a float64 emulation of bfloat16 convolutions and linear layers."""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgnet.config import ModelConfig, TrainConfig
from ecgnet.fusion import build
from ecgnet.models.spectrogram import SpectrogramNet
from ecgnet.models.time import TimeNet
from ecgnet.train import CPU, autocast_args, bf16_unit, native_bf16, predict_probs, seed_everything, train
from ecgnet.variants import VARIANTS

SMALL = ModelConfig(embed_dim=16, channels=4, scalar_dim=8, heads=2, layers=1, fusion_hidden=16)


@pytest.fixture(scope="module")
def data(beat_task_sample):
    return beat_task_sample(300)


@pytest.mark.parametrize(
    ("variant", "on"), [("time", True), ("spectrogram", True), ("frequency", False), ("early", False)]
)
def test_bfloat16_is_used_on_the_cpu_only_when_asked_and_only_where_it_pays(data, variant, on):
    model = build(VARIANTS[variant], data, SMALL)
    assert autocast_args(TrainConfig(cpu_bf16=True), model, CPU) == {"enabled": on, "dtype": torch.bfloat16}
    assert autocast_args(TrainConfig(), model, CPU)["enabled"] is False  # off by default
    cuda = torch.device("cuda")  # a device object only: nothing runs there
    assert autocast_args(TrainConfig(cpu_bf16=True, amp=False), model, cuda) == {"enabled": False}


@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "unit"),
    [(True, True, "amx"), (False, True, "avx512_bf16"), (False, False, "none"), (None, None, "none")],
)
def test_native_bfloat16_is_amx_or_avx512_bf16_and_a_torch_without_the_probes_reads_as_none(
    monkeypatch, amx, avx512_bf16, unit
):
    for probe, answer in (("_is_amx_tile_supported", amx), ("_is_avx512_bf16_supported", avx512_bf16)):
        if answer is None:  # a torch build without the private helper
            monkeypatch.delattr(torch.cpu, probe, raising=False)
        else:
            monkeypatch.setattr(torch.cpu, probe, lambda answer=answer: answer)
    assert bf16_unit() == unit
    assert native_bf16() is (unit != "none")


def test_a_model_trained_in_bfloat16_keeps_float32_weights_and_scores_in_float32(data):
    seed_everything(0)
    cfg = TrainConfig(epochs=2, batch_size=64, cpu_bf16=True)
    fitted = train(build(VARIANTS["time"], data, SMALL), data, cfg)
    assert all(p.dtype == torch.float32 for p in fitted.model.state_dict().values() if p.is_floating_point())
    losses = [h["train_loss"] for h in fitted.history]
    assert all(np.isfinite(losses))
    probs = predict_probs(fitted.model, data.test, False)
    assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    seed_everything(0)
    plain = train(build(VARIANTS["time"], data, SMALL), data, replace(cfg, cpu_bf16=False))
    assert [h["train_loss"] for h in plain.history] != losses  # the option reaches the training step


def _emulated(op):
    """`op` (F.conv1d, F.conv2d or F.linear) as bfloat16 arithmetic with exact accumulation: operands,
    output and incoming gradient rounded to bfloat16, everything else in float64."""

    def r16(t):
        return t.to(torch.bfloat16).to(t.dtype)

    class Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b, *rest):
            xr, wr = r16(x), r16(w)
            ctx.save_for_backward(xr, wr, b)
            ctx.rest = rest
            return r16(op(xr, wr, b, *rest))

        @staticmethod
        def backward(ctx, g):
            xr, wr, b = ctx.saved_tensors
            leaves = [t.detach().requires_grad_() for t in (xr, wr) + (() if b is None else (b,))]
            with torch.enable_grad():
                out = op(*leaves[:2], leaves[2] if b is not None else None, *ctx.rest)
                grads = torch.autograd.grad(out, leaves, r16(g))
            return (*grads, *(() if b is not None else (None,)), *(None,) * len(ctx.rest))

    return lambda x, w, b=None, *rest: Op.apply(x, w, b, *rest)


def _grads(model, x, y, mode: str, monkeypatch) -> dict[str, torch.Tensor]:
    model = copy.deepcopy(model)
    if mode != "bf16":
        model, x = model.double(), {k: v.double() for k, v in x.items()}
    with monkeypatch.context() as m:
        if mode == "emulated":
            for name in ("conv1d", "conv2d", "linear"):
                m.setattr(F, name, _emulated(getattr(F, name)))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
    return {n: p.grad.double().flatten() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    ("net", "shapes"),
    [(TimeNet, {"waveform": (2, 252), "scalars": (46,)}), (SpectrogramNet, {"image": (2, 13, 29)})],
)
@pytest.mark.parametrize("channels", [4, 16])  # 4 in-channels: where channels-last corrupted the 1x1 shortcut
def test_bfloat16_gradients_are_as_close_to_float64_as_bfloat16_arithmetic_allows(net, shapes, channels, monkeypatch):
    torch.manual_seed(channels)

    def stats(shape):
        return torch.zeros(shape[0], *[1] * (len(shape) - 1)), torch.ones(shape[0], *[1] * (len(shape) - 1))

    cfg = replace(ModelConfig(), channels=channels, dropout=0.0)  # no dropout: the same function three times
    model = net(shapes, {k: stats(v) for k, v in shapes.items()}, 5, cfg)
    x, y = {k: torch.randn(64, *v) for k, v in shapes.items()}, torch.randint(0, 5, (64,))
    exact, emulated, bf16 = (_grads(model, x, y, mode, monkeypatch) for mode in ("float64", "emulated", "bf16"))

    def error(g):
        return np.array([float((g[n] - exact[n]).norm() / exact[n].norm()) for n in exact if exact[n].norm() > 0])

    expected, measured = error(emulated), error(bf16)
    # bfloat16 keeps 8 bits: at initialisation, where gradients cancel, a tenth of a parameter's gradient is
    # its rounding (median 0.09 measured, both ways); a wrong kernel is off by its whole size
    assert np.median(expected) > 0.005  # the emulation rounds
    assert np.median(measured) < 2 * np.median(expected)
    assert measured.max() < max(0.6, 2 * expected.max())
