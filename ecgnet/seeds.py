"""How far a cross-validated variant's figures move with its seeds: the comparison's intervals resample
patients and say nothing of that.

With `seeds` members a fold, a variant's fold ensemble holds, for each seed, the fold ensemble a run with
that one seed would have trained (seed 0's is what `seeds=1` gives). Scoring each of those on its own
shows whether a variant's place in the table, or the champion's test figure, would survive another
draw of initialisation and batch order: on MIT-BIH the time variant's DS2 S sensitivity moved between
0.22 and 0.39 over its one-seed fold ensembles (`benchmarks/member_spread.py`). Validation (out of fold)
costs nothing more, the members' held-out probabilities being computed anyway; test costs one more
inference pass over the members. Nothing here chooses anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .crossval import FoldEnsemble
from .data import Split, TaskData
from .decisions import apply_offsets
from .evaluate import point_metrics
from .train import predict_probs

CV_KEY = "cv_metric_per_seed"  # fitted: each seed's out-of-fold headline, decided as that seed alone would
OFFSETS_KEY = "offsets_per_seed"  # fitted: each seed's kept decision offsets (class -> shift), or None


def test_per_seed(
    members: Sequence[Sequence[nn.Module]],
    data: TaskData,
    offsets: Sequence[np.ndarray | None],
    device: torch.device,
    metrics: Sequence[str],
) -> dict[str, list[float]]:
    """`metrics` (point values) on the test split of each seed's fold ensemble (`members`: one list a seed,
    its member in every fold), each decided with its own seed's `offsets` (None: the argmax), as a run with
    that one seed would decide."""
    spec, test = data.spec, data.test
    out: dict[str, list[float]] = {m: [] for m in metrics}
    for seed_members, seed_offsets in zip(members, offsets, strict=True):
        ensemble = FoldEnsemble(list(seed_members), data.multilabel).eval()
        probs = predict_probs(ensemble, test, data.multilabel, device=device)
        if seed_offsets is not None:
            probs = apply_offsets(probs, seed_offsets)
        point = point_metrics(probs, test.y, spec.classes, spec.multilabel, spec.focus_classes, spec.metric_classes)
        for m in metrics:
            out[m].append(round(float(point[m]), 4))
    return out


def cv_per_seed(
    by_seed: Sequence[np.ndarray], val: Split, metric: Callable[[np.ndarray, np.ndarray], float]
) -> list[float]:
    """The headline of each seed's out-of-fold probabilities (as that seed decides them: cross-fitted
    where it keeps offsets): what cross-validation would have read with that one seed."""
    return [round(float(metric(p, val.y)), 4) for p in by_seed]


def by_seed(values: Sequence[float] | None) -> str:
    """'0.741 / 0.752': one value a seed, for a table cell ('' without)."""
    return " / ".join(f"{v:.3f}" for v in values) if values else ""


def seed_metrics(fitted: dict, test_per_seed: dict[str, list[float]]) -> dict[str, float]:
    """A variant's per-seed figures as tracking metrics: cv_metric_seed<s> (from its `fitted`),
    test_<metric>_seed<s> (NaN left out)."""
    out = {f"cv_metric_seed{s}": v for s, v in enumerate(fitted.get(CV_KEY, []))}
    for m, values in test_per_seed.items():
        out |= {f"test_{m}_seed{s}": v for s, v in enumerate(values) if np.isfinite(v)}
    return out
