"""What DS2 should be scored with, measured on DS1 alone: the fold ensemble, or one model refitted on every
development patient with the budget the folds chose.

The comparison scores DS2 with each variant's fold ensemble (ecgnet.crossval): k members, each trained
without one fold of patients and stopped early on it. The issue allows the other answer too, one model
refitted on all of DS1 for the members' budget, which sees every patient (a fifth more than any member)
but is one model, not an average, and cannot stop early. Nested cross-validation puts the two side by side
where both can be scored: in each outer fold of DS1 patients, the training patients play DS1 (an inner
fold ensemble, and a refit on all of them cut at the median of the inner members' best epochs, with the
members' cosine schedule) and the held-out patients play DS2. Out of fold over all 22 DS1 patients, paired
by patient; `--save-oof DIR` keeps both as harness rows (benchmarks.paired_rows reads them). The scale is
one step smaller than the comparison's (members on three fifths of DS1 against a refit on four fifths,
where the comparison's are four fifths against all), which the reading must allow for. DS2 files are
never opened.

    python -m benchmarks.refit_budget [--seed 0] [--epochs 10] [--save-oof DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from torch import nn

from benchmarks.ablations import development, save_oof
from benchmarks.common import MITDB
from ecgnet.comparison import fit_variant
from ecgnet.config import ComparisonConfig
from ecgnet.crossval import folds
from ecgnet.data import TaskData, training_rows
from ecgnet.evaluate import aami_line, headline, paired_bootstrap
from ecgnet.fusion import build
from ecgnet.train import predict_probs, seed_everything, train
from ecgnet.variants import VARIANTS


def refit(data: TaskData, cfg: ComparisonConfig, budget: int, variant: str = "time") -> tuple[nn.Module, float]:
    """One model of `variant` on all of data.train (and the extra rows of its patients), trained on the
    members' schedule and kept as it stands after epoch `budget` (0-based); data.val is not looked at.
    Returns the model and the seconds it took."""
    started = time.perf_counter()
    joined = training_rows(data)
    seed_everything(cfg.train.seed)
    model = train(build(VARIANTS[variant], joined, cfg.model), joined, cfg.train, stop_after=budget).model
    return model, time.perf_counter() - started


def nested(base: TaskData, cfg: ComparisonConfig, k: int, variant: str = "time") -> dict[str, np.ndarray]:
    """Out-of-fold probabilities over every development row of the inner fold ensembles ("ensemble") and
    of the refits ("refit"); each outer fold's inner best epochs, budget and scores are printed."""
    metric = headline(base.spec)
    ensemble = np.zeros((len(base.val.y), len(base.classes)), np.float32)
    refitted = np.zeros_like(ensemble)
    for outer in folds(base, k, cfg.train.seed):
        started = time.perf_counter()
        rest = outer.data.train
        inner_base = TaskData(base.spec, rest, rest, base.test, base.versions, base.extra)
        epochs, probs = [], []
        for inner in folds(inner_base, k - 1, cfg.train.seed):
            model, _, info = fit_variant(VARIANTS[variant], inner.data, cfg, None, None, None)
            epochs.append(int(info["best_epoch"]))
            probs.append(predict_probs(model, outer.data.val, False))
        ensemble[outer.rows] = np.mean(probs, axis=0)
        budget = int(np.median(epochs))
        held = TaskData(base.spec, rest, outer.data.val, base.test, base.versions, base.extra)
        model, _ = refit(held, cfg, budget, variant)
        refitted[outer.rows] = predict_probs(model, outer.data.val, False)
        held_out = ", ".join(outer.patients())
        y = outer.data.val.y
        print(
            f"  outer fold {outer.index + 1}/{k} (held out: {held_out}): inner best epochs {epochs}, refit cut "
            f"after epoch {budget}; ensemble {metric(ensemble[outer.rows], y):.3f}, "
            f"refit {metric(refitted[outer.rows], y):.3f} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    return {"ensemble": ensemble, "refit": refitted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, default=MITDB)
    parser.add_argument("--variant", default="time")
    parser.add_argument("--folds", type=int, default=5, help="outer folds; each outer fold's inner CV has one fewer")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu-bf16", action="store_true", help="train in bfloat16 (TrainConfig.cpu_bf16)")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--save-oof", type=Path, default=None, help="write both as harness rows here (NN.npz)")
    args = parser.parse_args()
    start = time.perf_counter()
    base, _ = development(args.mitdb)
    read = time.perf_counter() - start
    print(f"DS1 only: {len(base.val.y):,} beats, {args.folds} outer folds by patient ({read:.0f} s to read)")
    cfg = ComparisonConfig()
    cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(cfg.train, epochs=args.epochs, device="cpu", seed=args.seed, cpu_bf16=args.cpu_bf16),
    )
    out = nested(base, cfg, args.folds, args.variant)
    metric, y, patients = headline(base.spec), base.val.y, base.val.groups
    for name in ("ensemble", "refit"):
        line = aami_line(out[name], y, base.classes, base.spec.focus_classes)
        print(f"{name:9s} OOF {metric(out[name], y):.3f}; {line}")
    diff = paired_bootstrap(out["refit"], out["ensemble"], y, patients, metric, n_boot=args.draws)
    print(f"refit minus ensemble, paired by patient: {diff}")
    if args.save_oof is not None:
        tag = f"seed {args.seed}, {args.epochs} epochs{', bfloat16' if args.cpu_bf16 else ''}"
        labels = {"ensemble": "nested: inner fold ensemble", "refit": "nested: refit at the median budget"}
        for name, label in labels.items():
            print(f"  {name}: {save_oof(args.save_oof, f'{label} ({tag})', out[name], base)}")


if __name__ == "__main__":
    main()
