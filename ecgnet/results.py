"""A compared variant on disk: its weights, probabilities, scores and pictures saved, and loaded back
with its model rebuilt (`skeleton`) so that a later run or `predict` uses it without training again."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .comparison import VariantResult, members_per_fold
from .config import ComparisonConfig
from .crossval import FoldEnsemble
from .data import TaskData
from .decisions import kept_offsets
from .evaluate import evaluate
from .explain import Explained
from .fusion import MODALITIES, LateFusion, MeanEnsemble, Stacker, WeightedAverage, build
from .interval import Interval
from .train import predict_probs
from .variants import VARIANTS, Variant


def save_result(result: VariantResult, directory: Path) -> None:
    """Weights (state_dict), probabilities (npz) and scores (json) of one variant."""
    directory.mkdir(parents=True, exist_ok=True)
    name = result.variant.name
    torch.save(result.model.state_dict(), directory / f"{name}.state.pt")
    np.savez(
        directory / f"{name}.npz",
        val=result.val_probs,
        test=result.test_probs,
        raw_val=result.combinable_val_probs,
        raw_test=result.combinable_test_probs,
    )
    for file, content in result.pictures.items():
        (directory / f"{name}.{file}").write_bytes(content)
    (directory / f"{name}.json").write_text(
        json.dumps(
            {
                "val": asdict(result.val),
                "test": {k: asdict(v) for k, v in result.test.items()},
                "n_params": result.n_params,
                "latency_ms": result.latency_ms,
                "history": result.history,
                "fitted": result.fitted,
                "seconds": result.seconds,
                "explained": result.explained.to_json() if result.explained else None,
                "test_per_seed": result.test_per_seed,
            }
        )
    )


def skeleton(variant: Variant, data: TaskData, cfg: ComparisonConfig) -> nn.Module:
    """An untrained model shaped as `variant` is after training, for its saved weights: fold ensembles
    under cross-validation, late and ensemble variants with the trained variants they are made of."""
    if variant.kind == "late":
        m, c = len(MODALITIES), len(data.classes)
        combine: nn.Module
        if variant.stacker:
            combine = Stacker(np.zeros((c, m * c)), np.zeros(c))
        else:
            combine = WeightedAverage(np.zeros(m), data.multilabel)
        singles = {n: skeleton(VARIANTS[n], data, cfg) for n in MODALITIES}
        return LateFusion(singles, combine, data.multilabel)
    if variant.kind == "ensemble":
        return MeanEnsemble([skeleton(VARIANTS[n], data, cfg) for n in variant.members], data.multilabel)
    if cfg.folds > 1:
        members = cfg.folds * members_per_fold(variant, cfg)
        return FoldEnsemble([build(variant, data, cfg.model) for _ in range(members)], data.multilabel)
    return build(variant, data, cfg.model)


def load_result(name: str, data: TaskData, cfg: ComparisonConfig, directory: Path) -> VariantResult:
    """A saved variant, its model rebuilt with its weights."""
    variant = VARIANTS[name]
    scores = json.loads((directory / f"{name}.json").read_text())
    probs = np.load(directory / f"{name}.npz")
    model = skeleton(variant, data, cfg)
    model.load_state_dict(torch.load(directory / f"{name}.state.pt", weights_only=True))
    model.eval()
    offsets = kept_offsets(scores["fitted"].get("offsets"), data.classes)
    raw_test = probs["raw_test"] if "raw_test" in probs.files else None
    if raw_test is None and offsets is not None:  # saved before raw test probabilities were: the model says
        raw_test = predict_probs(model, data.test, data.multilabel)
    test = {k: Interval.from_json(v) for k, v in scores["test"].items()}
    if "ece" not in test:  # saved before calibration was scored: scored now, as `score` would have
        rescored = evaluate(
            probs["test"], data.test.y, data.test.groups, data.spec, n_boot=cfg.n_boot, seed=cfg.train.seed
        )
        test = rescored | test
    return VariantResult(
        variant,
        model,
        probs["val"],
        probs["test"],
        Interval.from_json(scores["val"]),
        test,
        scores["n_params"],
        scores["latency_ms"],
        scores["history"],
        scores["fitted"],
        scores["seconds"],
        probs["raw_val"] if "raw_val" in probs.files else None,  # saved before decision offsets existed
        offsets,
        Explained.from_json(scores["explained"]) if scores.get("explained") else None,
        {f.name.removeprefix(f"{name}."): f.read_bytes() for f in sorted(directory.glob(f"{name}.attribution_*.png"))},
        raw_test,
        scores.get("test_per_seed", {}),  # saved before seeds were scored alone: none
    )
