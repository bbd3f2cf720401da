"""Fusion variants, one registry entry each: adding a strategy is one small class.

- single:       one modality's network alone (the baselines).
- early:        every modality's inputs flattened, normalised per modality and projected to the same
                width (so 10 band powers weigh as much as a 500-sample waveform), joined, one MLP.
                Views are aligned by entity id (one beat or record per row) by the feature store.
- intermediate: the three modality encoders, their embeddings joined by concatenation + MLP
                (`intermediate_concat`) or by a learned softmax gate over modalities
                (`intermediate_gated`, whose per-row gate weights explain which view it used). The
                encoders come from the trained single models; by default they stay frozen and only
                the fusion head trains, on embeddings computed once (`FusionHead`).
- late:         the three trained single models' probabilities, combined by weights tuned on the
                validation split (`late_average`) or by a logistic-regression stacker fitted on
                validation predictions (`late_stacker`).
- ensemble:     `fusion_ensemble`, the mean probability of the five fusion variants (early, both
                intermediate, both late), with its own decision offsets. On MIT-BIH DS1 the fusion
                variants are within cross-validation noise of each other, so choosing one of them is
                partly luck; their mean beat the best of them on DS1 out-of-fold in two runs of two
                (macro F1 0.443 vs 0.419, 0.445 vs 0.411), and it needs no training of its own.
- classical:    the reference the deep variants must beat: hand-made RR and morphology features and a
                linear discriminant (de Chazal et al. 2004), fitted with scikit-learn (ecgnet.classical);
                `classical_trees`: the same descriptors with gradient-boosted trees, the stronger classic.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
from torch import nn

from .classical import BoostedReference, LinearReference
from .config import ModelConfig
from .data import TaskData, cross_fit, rhythm_columns
from .models import MODALITIES, FrequencyNet, SpectrogramNet, TimeNet
from .models.blocks import Normalizer, mlp
from .models.readings import ReferenceReadings
from .models.rhythm import MonotoneRhythm
from .variants import Variant

if TYPE_CHECKING:
    pass

Inputs = dict[str, dict[str, torch.Tensor]]  # modality -> input -> (B, ...)
EMBEDDING = "embedding"  # the one modality and input a FusionHead reads: embeddings (B, M, E)
Encoder = TimeNet | FrequencyNet | SpectrogramNet  # what MODALITIES builds: each has encode(x) -> (B, embed_dim)


def time_readings(net: nn.Module, data: TaskData, cfg: ModelConfig) -> nn.Module:
    """`net`, given reference readings (ecgnet/models/readings.py) where it is a beat task's time encoder
    and `cfg.reference_readings` > 0, and its beat's intervals read monotonically
    (ecgnet/models/rhythm.py) where `cfg.monotone_rhythm`."""
    if cfg.monotone_rhythm not in ("off", "additive", "gated"):  # a typo is an error on any task
        raise ValueError(f"ModelConfig.monotone_rhythm={cfg.monotone_rhythm!r}; fix: 'off', 'additive' or 'gated'")
    if cfg.reference_readings > 0 and cfg.monotone_rhythm != "off":
        raise ValueError("reference_readings and monotone_rhythm both rewrite the RR columns; fix: set one of them")
    if not (isinstance(net, TimeNet) and data.spec.unit == "beat"):
        return net
    rr_names, context_names = rhythm_columns(data.spec)
    if cfg.reference_readings > 0:
        net.readings = ReferenceReadings(rr_names, cfg.reference_readings)
    if cfg.monotone_rhythm != "off":
        gated = cfg.monotone_rhythm == "gated"
        net.rhythm = MonotoneRhythm(rr_names, context_names, data.classes, cfg.embed_dim if gated else None)
    return net


class SingleModality(nn.Module):
    def __init__(self, modality: str, data: TaskData, cfg: ModelConfig):
        super().__init__()
        self.modality = modality
        self.net = time_readings(
            MODALITIES[modality](data.shapes(modality), data.stats(modality), len(data.classes), cfg), data, cfg
        )
        self.cpu_bf16 = getattr(self.net, "cpu_bf16", False)  # TrainConfig.cpu_bf16: the encoder's say

    def forward(self, x: Inputs) -> torch.Tensor:
        return self.net(x[self.modality])


class EarlyFusion(nn.Module):
    def __init__(self, data: TaskData, cfg: ModelConfig):
        super().__init__()
        self.keys = [(m, k) for m in MODALITIES for k in data.shapes(m)]
        self.norms = nn.ModuleDict()
        self.proj = nn.ModuleDict()
        for m in MODALITIES:
            stats, width = data.stats(m), sum(int(np.prod(s)) for s in data.shapes(m).values())
            self.norms[m] = nn.ModuleList([nn.Sequential(Normalizer(*stats[k]), nn.Flatten(1)) for k in data.shapes(m)])
            self.proj[m] = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, cfg.embed_dim), nn.ReLU())
        self.head = mlp(len(MODALITIES) * cfg.embed_dim, cfg.fusion_hidden, len(data.classes), cfg.dropout)

    def forward(self, x: Inputs) -> torch.Tensor:
        parts = []
        for m in MODALITIES:
            norms = cast(nn.ModuleList, self.norms[m])  # a ModuleDict's item reads as any Module
            flat = [norm(x[m][k]) for norm, k in zip(norms, x[m])]  # each (B, width_k)
            parts.append(self.proj[m](torch.cat(flat, dim=1)))  # (B, embed)
        return self.head(torch.cat(parts, dim=1))


class IntermediateFusion(nn.Module):
    """Three encoders trained end to end; `gated` fuses with a learned softmax over modalities."""

    def __init__(self, data: TaskData, cfg: ModelConfig, *, gated: bool):
        super().__init__()
        self.encoders = nn.ModuleDict(
            {
                m: time_readings(MODALITIES[m](data.shapes(m), data.stats(m), len(data.classes), cfg), data, cfg)
                for m in MODALITIES
            }
        )
        if getattr(self.encoders["time"], "rhythm", None) is not None:
            # its embedding no longer holds the beat's intervals, and a fusion head reads embeddings only
            raise ValueError(
                "monotone_rhythm is for the time variant; fix: monotone_rhythm='off' for intermediate fusion"
            )
        for encoder in self.encoders.values():
            encoder.head = nn.Identity()  # only encode() is used: no dead weights, honest sizes
        self.gated = gated
        width = cfg.embed_dim if gated else len(MODALITIES) * cfg.embed_dim
        self.gate = nn.Linear(len(MODALITIES) * cfg.embed_dim, len(MODALITIES)) if gated else None
        self.head = mlp(width, cfg.fusion_hidden, len(data.classes), cfg.dropout)

    def embed(self, x: Inputs) -> torch.Tensor:
        # a ModuleDict's item reads as any Module; these are MODALITIES' encoders
        return torch.stack([cast(Encoder, self.encoders[m]).encode(x[m]) for m in MODALITIES], dim=1)  # (B, M, E)

    def gates_and_embedding(self, x: Inputs) -> tuple[torch.Tensor | None, torch.Tensor]:
        return fuse(self.embed(x), self.gate)

    def forward(self, x: Inputs) -> torch.Tensor:
        return self.head(self.gates_and_embedding(x)[1])

    def fusion_head(self) -> FusionHead:
        """The gate and head as a module of their own over cached embeddings, sharing their weights."""
        return FusionHead(self.gate, self.head)

    def warm_start(self, singles: dict[str, nn.Module]) -> None:
        """Start each encoder from its trained single-modality network."""
        for m, single in singles.items():
            net = cast(SingleModality, single).net  # the trained single variants' models
            weights = {k: v for k, v in net.state_dict().items() if not k.startswith("head.")}
            self.encoders[m].load_state_dict(weights)


def fuse(emb: torch.Tensor, gate: nn.Module | None) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Modality embeddings (B, M, E) joined: concatenated, or mixed by a softmax gate (then also
    returned, (B, M), as the per-row explanation of which view was used)."""
    if gate is None:
        return None, emb.flatten(1)  # (B, M*E)
    gates = torch.softmax(gate(emb.flatten(1)), dim=1)  # (B, M)
    return gates, (gates.unsqueeze(-1) * emb).sum(dim=1)  # (B, E)


class FusionHead(nn.Module):
    """The trainable part of an intermediate variant whose encoders are frozen. Training it on
    embeddings computed once per fit, instead of running three encoders every step, is what makes
    intermediate fusion as cheap as a late combiner (on MIT-BIH, 4.5 CPU minutes a fold -> seconds)."""

    def __init__(self, gate: nn.Module | None, head: nn.Module):
        super().__init__()
        self.gate, self.head = gate, head

    def forward(self, x: Inputs) -> torch.Tensor:
        return self.head(fuse(x[EMBEDDING][EMBEDDING], self.gate)[1])


class LateFusion(nn.Module):
    """Combines the probabilities of trained single models; `combine` is fitted on validation only."""

    def __init__(self, singles: dict[str, nn.Module], combine: nn.Module, multilabel: bool):
        super().__init__()
        self.singles = nn.ModuleDict(singles)
        self.combine = combine
        self.multilabel = multilabel

    def forward(self, x: Inputs) -> torch.Tensor:
        probs = [activation(self.singles[m](x), self.multilabel) for m in MODALITIES]
        return self.combine(torch.stack(probs, dim=1))  # logits of the combined model


class MeanEnsemble(nn.Module):
    """Models as one: the mean of their probabilities, returned as logits (log of the mean for
    single-label, its logit for multi-label) so `activation` gives the mean back."""

    def __init__(self, members: list[nn.Module], multilabel: bool):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.multilabel = multilabel

    def forward(self, x: Inputs) -> torch.Tensor:
        return mean_logits(torch.stack([activation(m(x), self.multilabel) for m in self.members]), self.multilabel)


def mean_logits(probs: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """(members, B, C) probabilities -> (B, C) logits whose activation is their mean."""
    return probability_logits(probs.mean(dim=0), multilabel)


def probability_logits(p: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Logits whose activation gives `p` back (log p for softmax, logit p for sigmoid), p clamped away
    from 0 and 1 so the log stays finite: how a combination of probabilities is returned as a model's."""
    p = p.clamp(1e-7, 1 - 1e-7)
    return torch.logit(p) if multilabel else torch.log(p)


def mean_probs(probs: np.ndarray, multilabel: bool) -> np.ndarray:
    """What a MeanEnsemble of models predicts, from the (members, rows, C) probabilities they gave."""
    with torch.no_grad():
        return activation(mean_logits(torch.as_tensor(probs, dtype=torch.float32), multilabel), multilabel).numpy()


class WeightedAverage(nn.Module):
    """Weighted mean of probabilities, returned as logits (log p for softmax, logit p for sigmoid)."""

    weights: torch.Tensor  # a buffer, declared for the type checker

    def __init__(self, weights: np.ndarray, multilabel: bool):
        super().__init__()
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))
        self.multilabel = multilabel

    def forward(self, probs: torch.Tensor) -> torch.Tensor:  # probs (B, M, C)
        return probability_logits((self.weights[None, :, None] * probs).sum(dim=1), self.multilabel)  # (B, C)


class Stacker(nn.Module):
    def __init__(self, coef: np.ndarray, intercept: np.ndarray):
        super().__init__()
        self.linear = nn.Linear(coef.shape[1], coef.shape[0])
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
            self.linear.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))

    def forward(self, probs: torch.Tensor) -> torch.Tensor:  # (B, M, C) -> (B, C) logits
        return self.linear(probs.flatten(1))


def activation(logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    return torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=1)


def simplex_weights(step: float = 0.1, n: int = 3) -> Iterator[np.ndarray]:
    """Every weight vector on a grid of the simplex (non-negative, summing to one)."""
    ticks = np.round(np.arange(0, 1 + 1e-9, step), 6)
    for w in itertools.product(ticks, repeat=n):
        if abs(sum(w) - 1) < 1e-6:
            yield np.asarray(w)


def build(variant: Variant, data: TaskData, cfg: ModelConfig) -> nn.Module:
    """A fresh model for a single, early, intermediate or classical variant (late and ensemble variants
    are made of trained ones)."""

    def single() -> SingleModality:
        if variant.modality is None:
            raise ValueError(f"single variant {variant.name!r} names no modality; fix: set its modality")
        return SingleModality(variant.modality, data, cfg)

    builders = {
        "single": single,
        "early": lambda: EarlyFusion(data, cfg),
        "intermediate": lambda: IntermediateFusion(data, cfg, gated=variant.gated),
        "classical": lambda: (BoostedReference if variant.boosted else LinearReference)(data, cfg),
    }
    if variant.kind not in builders:
        raise ValueError(f"variant {variant.name!r} is made of trained variants, not built")
    return builders[variant.kind]()


def fit_late(
    variant: Variant,
    val_probs: np.ndarray,
    y_val: np.ndarray,
    multilabel: bool,
    score: Callable[[np.ndarray, np.ndarray], float],
) -> tuple[nn.Module, dict]:
    """Fit the combiner of a late variant on validation probabilities (rows, modalities, classes).

    `score(probs, y)` is the validation metric the weights maximise. Returns (module, what was fitted).
    """
    if variant.stacker:
        return _fit_stacker(val_probs, y_val, multilabel)
    best = max(simplex_weights(), key=lambda w: score((w[None, :, None] * val_probs).sum(axis=1), y_val))
    return WeightedAverage(best, multilabel), {f"weight_{m}": float(w) for m, w in zip(MODALITIES, best)}


def combine_probs(combine: nn.Module, probs: np.ndarray, multilabel: bool) -> np.ndarray:
    """Apply a fitted late combiner to (rows, modalities, classes) probabilities."""
    with torch.no_grad():
        return activation(combine(torch.as_tensor(probs, dtype=torch.float32)), multilabel).numpy()


def cross_fit_late(
    variant: Variant,
    val_probs: np.ndarray,
    y_val: np.ndarray,
    groups: np.ndarray,
    multilabel: bool,
    score: Callable[[np.ndarray, np.ndarray], float],
    *,
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Out-of-fold validation probabilities of a late variant: the combiner is fitted on the other
    folds (patients kept together when there are at least two) and applied to the held-out one.

    A combiner scored on the rows it was fitted on looks better than it is; these probabilities give
    late variants a validation metric as honest as the trained variants' when the best is chosen.
    """
    out, _ = cross_fit(
        groups,
        lambda rows: fit_late(variant, val_probs[rows], y_val[rows], multilabel, score)[0],
        lambda combine, rows: combine_probs(combine, val_probs[rows], multilabel),
        folds=folds,
        seed=seed,
        dtype=np.float32,
    )
    return out


def _fit_stacker(val_probs: np.ndarray, y_val: np.ndarray, multilabel: bool) -> tuple[nn.Module, dict]:
    from sklearn.linear_model import LogisticRegression

    x = val_probs.reshape(len(val_probs), -1)
    n_classes = val_probs.shape[2]
    coef, intercept = np.zeros((n_classes, x.shape[1])), np.full(n_classes, -10.0)  # unseen: never chosen
    columns = range(n_classes) if multilabel else [None]
    for c in columns:
        target = y_val[:, c] if multilabel else y_val
        if len(np.unique(target)) < 2:
            continue  # a class constant on validation keeps the "never" default
        lr = LogisticRegression(max_iter=2000, class_weight="balanced").fit(x, target)
        if multilabel:
            coef[c], intercept[c] = lr.coef_[0], lr.intercept_[0]
        elif len(lr.classes_) == 2:  # binary: sklearn keeps one row for the positive class
            coef[lr.classes_[1]], intercept[lr.classes_[1]] = lr.coef_[0], lr.intercept_[0]
            coef[lr.classes_[0]], intercept[lr.classes_[0]] = 0.0, 0.0
        else:
            coef[lr.classes_], intercept[lr.classes_] = lr.coef_, lr.intercept_
    return Stacker(coef, intercept), {"stacker_features": x.shape[1]}
