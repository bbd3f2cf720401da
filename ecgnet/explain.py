"""Explanations of any variant with Captum's Integrated Gradients, and the numbers that make
explainability comparable across fusion strategies: modality shares, modality ablation, faithfulness.

Every variant is explained the same way: through its packed form (`ecgnet.export.Packed`, one flat
input, class probabilities out), so one attribution covers every input of every view (waveform: lead x
sample; PSD: lead x frequency; spectrogram: lead x frequency x frame; the scalar descriptors) and
`Layout` maps it back. Late variants are differentiable too (a weighted mean or a linear stacker over
their single models' probabilities), so their attributions are exactly the weights times the single
models' gradients along the path. The baseline is the train split's mean row: "an average beat".

Tree ensembles (the boosted classical reference) are piecewise constant: their gradients are zero
almost everywhere, so Integrated Gradients says nothing of them. Where the output carries no
gradient, the attributions are Shapley value samples instead (Captum's `ShapleyValueSampling`,
from the same baseline), which share IG's completeness: each row's attributions sum to f(x) -
f(baseline) exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from .classical import HandMadeFeatures
from .config import ExplainConfig
from .data import InputNames, Split, TaskData
from .export import Layout, Packed, packed_probs
from .fusion import EarlyFusion
from .models import MODALITIES

NETWORKS = (*MODALITIES.values(), EarlyFusion, HandMadeFeatures)  # what a variant runs a row through
BASELINE_FILE = "baseline.npy"  # the train mean row, logged under explain/ beside every model in MLflow


@dataclass
class Explanation:
    rows: np.ndarray  # rows of the split explained
    target: np.ndarray  # class explained per row (the predicted one)
    attributions: np.ndarray  # (rows, width): packed like Layout
    delta: np.ndarray  # (rows,) completeness gap: sum(attr) - (f(x) - f(baseline))
    layout: Layout
    inputs: np.ndarray  # (rows, width): the packed rows explained
    baseline: np.ndarray  # (1, width): the train mean they were integrated from
    moved: np.ndarray  # (rows,) f(x) - f(baseline) for the explained class

    def by_input(self) -> dict[tuple[str, str], np.ndarray]:
        """(modality, input) -> (rows, *shape) attributions."""
        return {(m, k): self.attributions[:, cols].reshape(-1, *shape) for m, k, shape, cols in self.layout.spans()}

    def shares(self, rows: np.ndarray | None = None) -> dict[str, float]:
        """Fraction of the total absolute attribution that falls on each view (over `rows`, default all)."""
        attributions = self.attributions if rows is None else self.attributions[rows]
        per: dict[str, float] = {}
        for m, _, _, cols in self.layout.spans():
            per[m] = per.get(m, 0.0) + float(np.abs(attributions[:, cols]).sum())
        total = sum(per.values()) or 1.0
        return {m: v / total for m, v in per.items()}

    def shares_by_class(self, classes: tuple[str, ...]) -> dict[str, dict[str, float]]:
        """Shares over the rows explained for each class (the class they were predicted as)."""
        return {classes[c]: self.shares(np.flatnonzero(self.target == c)) for c in np.unique(self.target)}

    def class_maps(self, classes: tuple[str, ...]) -> dict[str, dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]]:
        """class -> (modality, input) -> (mean input, mean attribution), each of the input's shape, over
        the rows explained as that class: what the pictures show."""
        inputs = {(m, k): self.inputs[:, cols].reshape(-1, *shape) for m, k, shape, cols in self.layout.spans()}
        attributions, out = self.by_input(), {}
        for c in np.unique(self.target):
            rows = self.target == c
            out[classes[c]] = {
                key: (inputs[key][rows].mean(axis=0), a[rows].mean(axis=0)) for key, a in attributions.items()
            }
        return out


def stratified_rows(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Up to `per_class` rows of each class present, sorted; multi-label y (rows, classes): up to
    `per_class` rows carrying each class (a row may stand for several)."""
    rng = np.random.default_rng(seed)
    members = [y[:, c] > 0 for c in range(y.shape[1])] if y.ndim == 2 else [y == c for c in np.unique(y)]
    picks = [rng.permutation(np.flatnonzero(m))[:per_class] for m in members]
    return np.unique(np.concatenate(picks)) if picks else np.zeros(0, np.int64)


def packed(split: Split, layout: Layout, rows: np.ndarray | None = None) -> np.ndarray:
    x = split.x if rows is None else split.take(rows).x
    return layout.pack(x)


def train_baseline(data: TaskData, layout: Layout) -> np.ndarray:
    """(1, width): the train split's mean packed row (input by input: the packed split is not built)."""
    x = data.train.x
    return np.concatenate(
        [np.asarray(x[m][k], np.float32).reshape(len(data.train), -1).mean(axis=0) for m, k, _ in layout.entries]
    )[None, :]


def explain(
    model: nn.Module, data: TaskData, split: Split, cfg: ExplainConfig | None = None, rows: np.ndarray | None = None
) -> Explanation:
    """Attributions (Integrated Gradients; Shapley values for trees) of the predicted class's probability for a
    stratified sample of `split`."""
    cfg, layout = cfg or ExplainConfig(), Layout.of(data)
    rows = stratified_rows(np.asarray(split.y), cfg.rows_per_class, cfg.seed) if rows is None else rows
    net = Packed(model, layout, data.multilabel).eval()
    return attribute(net, layout, packed(split, layout, rows), train_baseline(data, layout), cfg, rows)


def attribute(
    net: nn.Module,
    layout: Layout,
    x: np.ndarray,
    baseline: np.ndarray,
    cfg: ExplainConfig | None = None,
    rows: np.ndarray | None = None,
) -> Explanation:
    """Integrated Gradients of a packed model (flat rows in, probabilities out: what MLflow serves) for
    each row's predicted class, from `baseline` (1, width); Shapley value samples where the model
    passes no gradient (trees)."""
    cfg = cfg or ExplainConfig()
    inputs, base = torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(np.asarray(baseline, np.float32))
    with torch.no_grad():
        probs = net(inputs)
        target = probs.argmax(dim=1)
        moved = probs[torch.arange(len(inputs)), target] - net(base)[0, target]
    params = [p for p in net.parameters() if p.requires_grad]
    try:
        for p in params:  # gradients with respect to the inputs only: no weight gradients to compute
            p.requires_grad_(False)
        if net(inputs[:1].clone().requires_grad_(True)).requires_grad:
            from captum.attr import IntegratedGradients  # here: the GPU check imports this module without captum

            attr, delta = IntegratedGradients(net).attribute(
                inputs,
                baselines=base,
                target=target,
                n_steps=cfg.n_steps,
                internal_batch_size=ig_batch(net, inputs.shape[1]),
                return_convergence_delta=True,
            )
        else:
            attr = shapley(net, layout, inputs, base, target, cfg.shapley_samples)
            delta = attr.sum(dim=1) - moved
    finally:
        for p in params:
            p.requires_grad_(True)
    return Explanation(
        np.arange(len(inputs)) if rows is None else rows,
        target.numpy(),
        attr.detach().numpy(),
        delta.detach().numpy(),
        layout,
        inputs.numpy(),
        base.numpy(),
        moved.numpy(),
    )


def shapley(
    net: nn.Module, layout: Layout, x: torch.Tensor, base: torch.Tensor, target: torch.Tensor, samples: int
) -> torch.Tensor:
    """Shapley value samples of each row's `target` probability, spread evenly over the columns of
    each feature group: every column of an input of at most SHAPLEY_GROUP columns (the scalar
    descriptors) is a player of its own, a wider input (a waveform, a spectrogram) one player."""
    from captum.attr import ShapleyValueSampling

    mask, size, group = torch.zeros(layout.width, dtype=torch.int64), [], 0
    for _, _, _, cols in layout.spans():
        width = cols.stop - cols.start
        if width <= SHAPLEY_GROUP:
            mask[cols] = torch.arange(group, group + width)
            size += [1] * width
            group += width
        else:
            mask[cols] = group
            size.append(width)
            group += 1
    attr = ShapleyValueSampling(net).attribute(
        x, baselines=base, target=target, feature_mask=mask.unsqueeze(0), n_samples=samples, perturbations_per_eval=16
    )
    return attr / torch.as_tensor(size, dtype=attr.dtype)[mask]  # a group's value is repeated on each of its columns


SHAPLEY_GROUP = 64


def ig_batch(net: nn.Module, width: int, net_rows: int = 12_288, values: int = 2**20) -> int:
    """Interpolated rows per Integrated Gradients pass. The autograd graph of a pass grows with the
    networks it runs through, so `net_rows` (rows x networks) is held fixed: the fusion ensemble (13
    networks, or 65 as MIT-BIH fold ensembles) at 4,096 rows was killed for memory (24 GB). It grows with
    each row's `width` (input values) too, so a pass also takes at most `values` of them: 4,096 of the af
    task's packed rows (a 30 s window and its spectrogram: 6,142 values) took the time model to 6.9 GB and
    9.6 s for 27 rows x 128 steps on 2 cores, 170 rows 1.2 GB and 4.9 s (large passes are slower on a CPU
    as well)."""
    networks = sum(isinstance(m, NETWORKS) for m in net.modules())
    return max(64, min(4096, net_rows // max(networks, 1), values // max(width, 1)))


def modality_ablation(
    model: nn.Module,
    data: TaskData,
    split: Split,
    metric: Callable[[np.ndarray, np.ndarray], float],
    rows: np.ndarray | None = None,
) -> dict[str, float]:
    """Metric drop when one view's inputs are replaced by the train mean (the others kept)."""
    layout = Layout.of(data)
    rows = np.arange(len(split)) if rows is None else rows
    net = Packed(model, layout, data.multilabel).eval()
    x, y = packed(split, layout, rows), np.asarray(split.y)[rows]
    return _view_drops(net, layout, x, train_baseline(data, layout), y, metric)


def _view_drops(
    net: nn.Module,
    layout: Layout,
    x: np.ndarray,
    base: np.ndarray,
    y: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
) -> dict:
    full, out = metric(packed_probs(net, x), y), {}
    for m in dict.fromkeys(m for m, _, _, _ in layout.spans()):
        cut = x.copy()
        for _, _, _, cols in (s for s in layout.spans() if s[0] == m):
            cut[:, cols] = base[:, cols]
        out[m] = full - metric(packed_probs(net, cut), y)
    return out


def deletion_curves(
    model: nn.Module, data: TaskData, expl: Explanation, cfg: ExplainConfig | None = None
) -> dict[str, np.ndarray]:
    """Mean probability of the explained class as the top-attributed fraction of inputs is set to the
    baseline, against the same fraction chosen at random: {"fractions", "attributed", "random"}."""
    cfg = cfg or ExplainConfig()
    net = Packed(model, expl.layout, data.multilabel).eval()
    x, base = expl.inputs, expl.baseline
    order = np.argsort(-expl.attributions, axis=1)  # most positive evidence for the class first
    rng = np.random.default_rng(cfg.seed)
    shuffled = np.argsort(rng.random(x.shape), axis=1)
    width, rows = x.shape[1], np.arange(len(x))[:, None]
    curves: dict[str, list[float]] = {"attributed": [], "random": []}
    for fraction in cfg.fractions:
        k = int(round(fraction * width))
        for name, ranking in (("attributed", order), ("random", shuffled)):
            cut = x.copy()
            cols = ranking[:, :k]
            cut[rows, cols] = np.broadcast_to(base, x.shape)[rows, cols]
            curves[name].append(float(packed_probs(net, cut)[np.arange(len(x)), expl.target].mean()))
    return {"fractions": np.asarray(cfg.fractions), **{k: np.asarray(v) for k, v in curves.items()}}


def deletion_area(curves: dict[str, np.ndarray]) -> dict[str, float]:
    """Area under each deletion curve (trapezoid over the fractions) and the random-minus-attributed
    gap: larger gaps mean the attributions point at what the model uses (faithfulness)."""
    f = curves["fractions"]
    area = {k: float(np.trapezoid(curves[k], f)) for k in ("attributed", "random")}
    return {**area, "faithfulness": area["random"] - area["attributed"]}


@dataclass(frozen=True)
class Explained:
    """The explainability numbers of one variant, as the comparison reports and MLflow logs them."""

    shares: dict[str, float]  # view -> fraction of absolute attribution
    ablation: dict[str, float]  # view -> headline-metric drop with that view at the train mean
    faithfulness: float  # deletion area, random minus attributed (higher: more faithful)
    deletion_attributed: float
    deletion_random: float
    completeness_gap: float  # sum |delta| / sum |f(x) - f(baseline)|
    rows: int
    seconds: float
    shares_by_class: dict[str, dict[str, float]] = field(default_factory=dict)  # class -> view -> share
    # class -> its named descriptors with the largest mean attribution, "rr_prev_norm +0.062" (`strongest`)
    strongest: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        shares = " / ".join(f"{v:.2f}" for v in self.shares.values())
        return f"shares {shares}; faithfulness {self.faithfulness:+.3f}"

    def metrics(self) -> dict[str, float]:
        return {
            **{f"share_{m}": v for m, v in self.shares.items()},
            **{f"share_{m}_{c}": v for c, sh in self.shares_by_class.items() for m, v in sh.items()},
            **{f"ablation_drop_{m}": v for m, v in self.ablation.items()},
            "faithfulness": self.faithfulness,
            "deletion_area_attributed": self.deletion_attributed,
            "deletion_area_random": self.deletion_random,
            "ig_completeness_gap": self.completeness_gap,
            "explain_seconds": self.seconds,
        }

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Explained:
        return cls(**d)


STRONGEST = 3  # descriptors a class is said to read most, in words


def strongest(
    maps: dict[str, dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]], names: InputNames, k: int = STRONGEST
) -> dict[str, list[str]]:
    """class -> the `k` named scalar descriptors (every view's) with the largest mean |attribution| over
    the rows explained as it, each with its mean attribution ("rr_prev_norm +0.062": for the class,
    "V1 skewness -0.031": against): what a reader is told the variant reads, beside the pictures."""
    out = {}
    for cls, per in maps.items():
        named = [
            (name, float(value))
            for (modality, key), (_, attr) in per.items()
            if (labels := names.of(modality, key)) is not None and np.ndim(attr) == 1 and len(labels) == len(attr)
            for name, value in zip(labels, attr, strict=True)
        ]
        top = sorted(named, key=lambda nv: -abs(nv[1]))[:k]
        if top:
            out[cls] = [f"{name} {value:+.3g}" for name, value in top]
    return out


def explain_variant(
    model: nn.Module,
    data: TaskData,
    split: Split,
    metric: Callable[[np.ndarray, np.ndarray], float],
    cfg: ExplainConfig | None = None,
) -> tuple[Explained, Explanation]:
    """Shares, ablation and faithfulness of `model` on a stratified sample of `split`, and the
    attributions they come from (for the pictures)."""
    cfg, start = cfg or ExplainConfig(), time.perf_counter()
    expl = explain(model, data, split, cfg)
    area = deletion_area(deletion_curves(model, data, expl, cfg))
    net = Packed(model, expl.layout, data.multilabel).eval()
    drops = _view_drops(net, expl.layout, expl.inputs, expl.baseline, np.asarray(split.y)[expl.rows], metric)
    gap = float(np.abs(expl.delta).sum() / max(float(np.abs(expl.moved).sum()), 1e-12))
    by_class = {c: {m: round(v, 4) for m, v in sh.items()} for c, sh in expl.shares_by_class(data.classes).items()}
    summary = Explained(
        shares={m: round(v, 4) for m, v in expl.shares().items()},
        ablation={m: round(v, 4) for m, v in drops.items()},
        faithfulness=round(area["faithfulness"], 4),
        deletion_attributed=round(area["attributed"], 4),
        deletion_random=round(area["random"], 4),
        completeness_gap=round(gap, 5),
        rows=len(expl.rows),
        seconds=round(time.perf_counter() - start, 2),
        shares_by_class=by_class,
        strongest=strongest(expl.class_maps(data.classes), data.names),
    )
    return summary, expl
