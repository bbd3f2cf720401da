"""How much of a variant's DS2 figure is its members' draw: each fold member scored on its own, and every
fold ensemble of one member a fold (one seed's choice per fold) beside the variant's own.

A cross-validated variant is tested as the mean of its fold members (k folds times its seeds). The
comparison's intervals resample patients; they say nothing of how the figures would move had other
seeds been drawn. Here every member of a saved run's trained variants is run over the test split once,
and the one-seed fold ensembles (seeds ** folds of them, each a comparison run with one seed a fold
could have made) are scored from those probabilities: their range is the spread a rerun with other
seeds would show. Reads a comparison's saved results (`<ECGNET_HOME>/training/<run>`: `data/`,
`<variant>.state.pt`, `<variant>.json`), with the folds and seeds that run used. A diagnostic: it
scores DS2 and chooses nothing.

    python -m benchmarks.member_spread RUN_DIR [--variants time early ...] [--folds 5] [--seeds 2]
        [--one-seed frequency]
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ecgnet.comparison import VARIANTS, members_per_fold
from ecgnet.config import ComparisonConfig
from ecgnet.crossval import member_index
from ecgnet.data import TaskData
from ecgnet.evaluate import aami
from ecgnet.fusion import MeanEnsemble
from ecgnet.results import load_result
from ecgnet.train import predict_probs
from feature_store.tasks import BEATS

FIGURES = ("accuracy", "se_S", "pp_S", "se_V", "pp_V")
TRAINED = ("single", "early", "intermediate", "classical")  # kinds with fold members of their own


def one_seed_ensembles(members: np.ndarray, folds: int) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """(members, rows, classes) probabilities of a fold ensemble, stored fold by fold with a fold's seeds
    together -> each choice of one seed a fold and the mean of the members chosen."""
    if len(members) % folds:
        raise ValueError(f"{len(members)} members do not split into {folds} folds; fix: --folds as the run had")
    per = len(members) // folds
    for pick in itertools.product(range(per), repeat=folds):
        yield pick, members[[member_index(fold, seed, per) for fold, seed in enumerate(pick)]].mean(axis=0)


def spread(values: list[float]) -> str:
    """min / median / max of `values`, NaN left out."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return "-" if not len(v) else f"{v.min():.3f} / {np.median(v):.3f} / {v.max():.3f}"


def focus_group(probs: np.ndarray, data: TaskData, group: str) -> float:
    """S sensitivity of one patient's beats (NaN where it has none)."""
    rows = data.test.groups.astype(str) == group
    return aami(probs[rows], data.test.y[rows], data.classes, ("S",))["se_S"] if rows.any() else float("nan")


def ranked_within(probs: np.ndarray, data: TaskData, group: str) -> float:
    """How well the S probability orders one patient's S beats above its N beats (ROC AUC; NaN without
    both): a record whose S beats rank well but fall below the decision is missed for its level, not
    for what the model sees."""
    n, s = data.classes.index("N"), data.classes.index("S")
    rows = (data.test.groups.astype(str) == group) & np.isin(data.test.y, [n, s])
    if len(np.unique(data.test.y[rows])) < 2:
        return float("nan")
    return float(roc_auc_score(data.test.y[rows] == s, probs[rows, s]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a comparison's results folder (data/ and <variant>.state.pt)")
    parser.add_argument("--variants", nargs="*", default=None, help="default: every trained variant saved there")
    parser.add_argument("--folds", type=int, default=5, help="the run's folds (make bench-mitdb: 5)")
    parser.add_argument("--seeds", type=int, default=2, help="the run's seeds a fold (make bench-mitdb: 2)")
    parser.add_argument("--one-seed", nargs="*", default=["frequency"], help="variants the run kept at one seed")
    parser.add_argument("--patient", default="232", help="a test patient whose S sensitivity is listed apart")
    args = parser.parse_args()
    data = TaskData.load(args.run / "data", BEATS)
    cfg = ComparisonConfig(folds=args.folds, seeds=args.seeds, one_seed=tuple(args.one_seed))
    names = args.variants or [
        n for n, v in VARIANTS.items() if v.kind in TRAINED and (args.run / f"{n}.state.pt").is_file()
    ]
    focus = ("S", "V")
    print(f"{args.run}: test split, {len(data.test)} rows; figures {', '.join(FIGURES)}, S Se of {args.patient}")
    for name in names:
        result = load_result(name, data, cfg, args.run)
        # a fold ensemble (a trained variant under cross-validation) or an ensemble variant: both keep members
        assert isinstance(result.model, MeanEnsemble), f"{name}: {type(result.model).__name__} has no members"
        per = members_per_fold(VARIANTS[name], cfg)
        members = np.stack([predict_probs(m, data.test, data.multilabel) for m in result.model.members])
        print(f"\n{name}: {len(members)} members ({per} a fold); the variant as tested (argmax, no offsets):")
        mean = members.mean(axis=0)
        whole = aami(mean, data.test.y, data.classes, focus)
        named = focus_group(mean, data, args.patient)
        ranked = ranked_within(mean, data, args.patient)
        print(
            "  " + "  ".join(f"{k} {whole[k]:.3f}" for k in FIGURES),
            f" {args.patient}: S Se {named:.3f}, S against N ranked within it (AUC) {ranked:.4f}",
        )
        singles = [aami(p, data.test.y, data.classes, focus) for p in members]
        print("  members, min / median / max: " + "; ".join(f"{k} {spread([s[k] for s in singles])}" for k in FIGURES))
        if per > 1:
            picks = [
                (aami(p, data.test.y, data.classes, focus), focus_group(p, data, args.patient))
                for _, p in one_seed_ensembles(members, args.folds)
            ]
            print(
                f"  {len(picks)} one-seed fold ensembles, min / median / max: "
                + "; ".join(f"{k} {spread([f[k] for f, _ in picks])}" for k in FIGURES)
                + f"; {args.patient} S Se {spread([g for _, g in picks])}"
            )


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
