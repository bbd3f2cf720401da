"""A rhythm rule beside each variant, tried on DS1 out-of-fold probabilities: does it add S beats?

A linear discriminant of N against S on the four raw RR intervals (before, after, the last ten's mean, the
record mean; `benchmarks.linear_ds2`) finds most S beats on both halves of MIT-BIH, however a beat is
shaped; the networks read shape first, and in records whose N beats are blocked (DS1's 118, 124, 207;
DS2's 232) shape says N. Here the rule's score, out of fold itself, is added to each variant's S
log-probability with a weight chosen on the other patients (cross-fitted by patient, as decision
offsets are), and the variant's out-of-fold headline is compared with and without it, paired by patient.
`--gate`: the rule only in records whose median beat has a wide QRS (`qrs_spread`, label-free), the
threshold cross-fitted with the weight: a blocked record is where shape misleads. `--gate-records`: an
oracle gate for a diagnostic (the records named, known blocked from their labels): what a perfect
detector of blocked conduction could add. Reads a comparison's
saved results (`<ECGNET_HOME>/training/<run>`: `data/` and `<variant>.npz`); DS2's rows are not read.

    python -m benchmarks.rhythm_rule RUN_DIR [--variants time early ...] [--context | --trees]
                                     [--gate | --gate-records R ...] [--oof DIR/NN.npz ...]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from benchmarks.paired_rows import load_row
from ecgnet.classical import RAW_INTERVALS, equal_prior_lda  # RAW_INTERVALS: de Chazal's four
from ecgnet.comparison import development
from ecgnet.crossval import patient_folds
from ecgnet.data import Split, TaskData, cross_fit, rhythm_columns
from ecgnet.decisions import macro_f1_of
from ecgnet.evaluate import aami, headline, paired_bootstrap, per_group
from feature_store.beat_ids import beat_positions
from feature_store.config import IngestConfig
from feature_store.tasks import BEATS
from feature_store.transforms.rhythm import BEAT_RR_NAMES
from feature_store.views.families import template_geometry

WEIGHTS = (0.0, 0.125, 0.25, 0.5, 0.75, 1.0)  # of the rule's score (its log-odds) on the S log-probability
GATES_MS = (45.0, 50.0, 55.0, 60.0, 65.0, 70.0, np.inf)  # `--gate`: QRS spreads the rule may start at (inf: never)
FOLDS = 5
MIN_S = 50  # records listed by S sensitivity: those with at least this many S beats


def tree_rule(x: np.ndarray, is_s: np.ndarray) -> HistGradientBoostingClassifier:
    """The rule without the LDA's straight boundary (`--trees`): class-balanced boosted trees."""
    return HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.05, class_weight="balanced", random_state=0
    ).fit(x, is_s)


def rule_scores(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, n: int, s: int, fit: Callable = equal_prior_lda
) -> np.ndarray:
    """Out-of-fold log-odds of S against N: `fit(x, is_s)` (a model with `decision_function`, positive
    for S) on the N and S rows of the other folds, scoring the held-out fold's rows."""
    fold, out = patient_folds(groups, FOLDS, 0), np.zeros(len(y))
    for f in range(FOLDS):
        rows = (fold != f) & np.isin(y, [n, s])
        out[fold == f] = fit(x[rows], y[rows] == s).decision_function(x[fold == f])
    return out


def with_rule(probs: np.ndarray, score: np.ndarray, weight: float, s: int) -> np.ndarray:
    logp = np.log(np.clip(probs, 1e-7, 1.0))
    logp[:, s] += weight * score
    e = np.exp(logp - logp.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def chosen_out_of_fold(groups: np.ndarray, candidates: list, decided: Callable, score: Callable) -> tuple:
    """Each fold of patients decided by the candidate whose `decided(candidate, rows)` probabilities
    `score(probs, rows)` best on the other patients' rows (the first best on ties); returns the decided
    rows and the candidate each fold chose."""

    def best(rows: np.ndarray) -> Any:
        return max(candidates, key=lambda candidate: score(decided(candidate, rows), rows))

    return cross_fit(groups, best, decided, folds=FOLDS)


def cross_fitted(
    probs: np.ndarray,
    score: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    labels: tuple[int, ...],
    s: int,
    width: np.ndarray | None = None,
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Each fold of patients decided with the weight (and, given each row's record `width`, the gate: the
    rule only where the width is at least a threshold) that maximise the headline on the others."""
    thresholds = (0.0,) if width is None else GATES_MS
    width = np.zeros(len(y)) if width is None else width

    def decided(trial: tuple[float, float], rows: np.ndarray) -> np.ndarray:
        t, w = trial
        return with_rule(probs[rows], np.where(width[rows] >= t, score[rows], 0.0), w, s)

    return chosen_out_of_fold(
        groups,
        [(t, w) for t in thresholds for w in WEIGHTS],
        decided,
        lambda p, rows: macro_f1_of(p.argmax(axis=1), y[rows], probs.shape[1], labels),
    )


def r_peak_sample(data: TaskData) -> tuple[int, float]:
    """Where the R peak sits in the time view's beat window (a sample index), and the window's rate."""
    ingest, params = IngestConfig(), data.spec.view_params["time"]
    fs = params.preprocess.fs or ingest.beat_fs
    centre, _ = template_geometry(
        ingest.context_samples, ingest.beat_span(), fs_in=ingest.beat_fs, fs=fs, params=params
    )
    return centre, fs


def qrs_spread(split: Split, data: TaskData, half_s: float = 0.08) -> np.ndarray:
    """Per row, its record's median beat's QRS spread in ms (the largest over leads): the area of |beat -
    isoelectric level| within `half_s` of the R peak over its peak, a width that a bundle-branch block
    widens. Label-free, from the time view's waveform; the isoelectric level is the median of the 120-60 ms
    before the R peak (the PR segment). Not a delineator: on DS1 it ranks 118, 108 (unblocked), 207 and 109
    highest and 124 ninth (benchmarks/ABLATIONS.md)."""
    centre, fs = r_peak_sample(data)
    half, pr = int(round(half_s * fs)), slice(centre - int(round(0.12 * fs)), centre - int(round(0.06 * fs)))
    records, wave = beat_positions(split.ids)[0], np.asarray(split.x["time"]["waveform"])
    out = np.zeros(len(records))
    for record in np.unique(records):
        mine = records == record
        median = np.median(wave[mine], axis=0)  # (leads, samples)
        spread = np.abs(median[:, centre - half : centre + half] - np.median(median[:, pr], axis=1, keepdims=True))
        out[mine] = (spread.sum(axis=1) / np.maximum(spread.max(axis=1), 1e-9)).max() / fs * 1000
    return out


def out_of_fold(
    run: Path, dev: Split, variants: list[str] | None, oof: list[Path], *, key: str = "raw_val"
) -> dict[str, np.ndarray]:
    """DS1's out-of-fold probabilities (before decision offsets; `key="val"`: after them, as the variant
    reports), in `dev`'s row order: each saved variant's of the comparison `run` (`variants`: these; None:
    all; ["none"]: none) and each harness file of `oof` (`python -m benchmarks.ablations --save-oof DIR`),
    aligned by beat."""
    names = variants or sorted(p.stem for p in run.glob("*.npz"))
    runs = {v: np.load(run / f"{v}.npz")[key] for v in names if v != "none"}
    for v, probs in runs.items():
        if len(probs) != len(dev.y):  # a run chosen on a validation split holds the validation rows only
            raise ValueError(
                f"{run / f'{v}.npz'}: {len(probs):,} validation rows, not the {len(dev.y):,} development rows "
                "out of fold; fix: read a cross-validated comparison (make bench-mitdb, or ECGNET_FOLDS >= 2)"
            )
    position, y = {beat: i for i, beat in enumerate(dev.ids)}, np.asarray(dev.y)
    for path in oof:
        saved = load_row(path)
        order = np.array([position.get(beat, -1) for beat in saved.ids])
        if len(order) != len(y) or (order < 0).any() or not np.array_equal(saved.y, y[order]):
            raise ValueError(f"{path}: not the run's DS1 beats; fix: save out-of-fold rows of the same database")
        probs = np.zeros((len(y), saved.probs.shape[1]))
        probs[order] = saved.probs
        runs[f"{path.stem}: {saved.name[:40]}"] = probs
    return runs


def saved_run_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every reader of a saved comparison takes: its folder, its variants, harness files."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("run", type=Path, help="a comparison's results folder (data/ and <variant>.npz)")
    parser.add_argument("--variants", nargs="*", default=None, help="default: every <variant>.npz there")
    parser.add_argument(
        "--oof",
        nargs="*",
        type=Path,
        default=(),
        help="also (or instead, with --variants none) the out-of-fold "
        "probabilities `python -m benchmarks.ablations --save-oof DIR` wrote (DIR/NN.npz), over the same DS1 beats",
    )
    return parser


def saved_development(run: Path) -> tuple[TaskData, Split]:
    """A saved comparison's task data and its DS1 rows, in the order of its out-of-fold probabilities."""
    data = TaskData.load(run / "data", BEATS)
    return data, development(data)


def main() -> None:
    parser = saved_run_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--context", action="store_true", help="the rule also reads rr_context (the intervals around the beat)"
    )
    parser.add_argument(
        "--trees",
        action="store_true",
        help="the rule as boosted trees over every RR column and rr_context instead of the LDA on four",
    )
    parser.add_argument(
        "--gate", action="store_true", help="the rule only in records whose median beat's QRS is wide (qrs_spread)"
    )
    parser.add_argument(
        "--gate-records",
        nargs="*",
        default=None,
        help="an oracle gate instead: the rule only in these records (DS1's bundle-branch-blocked: 109 118 124 207)",
    )
    args = parser.parse_args()
    data, dev = saved_development(args.run)
    y, groups, classes = np.asarray(dev.y), dev.groups, data.classes
    n, s = classes.index("N"), classes.index("S")
    labels = tuple(classes.index(c) for c in data.spec.metric_classes)
    scalars = np.asarray(dev.x["time"]["scalars"]).reshape(len(y), -1)
    columns = [BEAT_RR_NAMES.index(c) for c in RAW_INTERVALS]
    rr, context = rhythm_columns(data.spec)
    if args.context:  # rr_context follows the RR columns (ecgnet.data.rhythm_columns)
        columns += list(range(len(rr), len(rr) + len(context)))
    if args.trees:
        score = rule_scores(scalars[:, : len(rr) + len(context)], y, groups, n, s, fit=tree_rule)
    else:
        score = rule_scores(scalars[:, columns], y, groups, n, s)
    width = qrs_spread(dev, data) if args.gate else None
    records = beat_positions(dev.ids)[0]
    if args.gate_records is not None:  # every finite threshold admits exactly these records
        width = np.where(np.isin(records.astype(str), args.gate_records), 1e9, 0.0)
    if args.gate:
        assert width is not None  # --gate measured it (or --gate-records replaced it)
        spread = sorted({(round(float(w)), r) for r, w in zip(records, width)}, reverse=True)
        print("QRS spread of each record's median beat (ms):", " ".join(f"{r} {w}" for w, r in spread))
    metric = headline(data.spec)
    runs = out_of_fold(args.run, dev, args.variants, args.oof)
    read = ", ".join(RAW_INTERVALS) + (" and rr_context" if args.context else "")
    how = (
        "boosted trees of N against S on every RR column and rr_context"
        if args.trees
        else f"LDA of N against S on {read}"
    )
    print(f"DS1 {len(y):,} beats; rule: {how}, out of fold")
    rich = [r for r, k in zip(*np.unique(records[y == s], return_counts=True)) if k >= MIN_S]
    found = {r: float((score[(records == r) & (y == s)] > 0).mean()) for r in rich}
    print(
        "the rule alone (S where its log-odds > 0), S Se by record: "
        + " ".join(f"{r} {v:.2f}" for r, v in found.items())
    )
    for variant, probs in runs.items():
        probs = probs.astype(np.float64)
        decided, chosen = cross_fitted(probs, score, y, groups, labels, s, width)
        before, after = aami(probs, y, classes, ("S",)), aami(decided, y, classes, ("S",))
        by_record = " ".join(
            f"{a['group']} {a['se_S']:.2f}->{b['se_S']:.2f}"
            for a, b in zip(
                per_group(probs, y, records, classes, ("S",)), per_group(decided, y, records, classes, ("S",))
            )
            if a["n_S"] >= MIN_S
        )
        print(
            f"{variant:20s} {metric(probs, y):.3f} -> {metric(decided, y):.3f} "
            f"({paired_bootstrap(decided, probs, y, groups, metric, n_boot=1000)}), (gate, weight) {chosen}; "
            f"S {before['se_S']:.3f} / {before['pp_S']:.3f} -> {after['se_S']:.3f} / {after['pp_S']:.3f}; "
            f"S Se by record {by_record}",
            flush=True,
        )


if __name__ == "__main__":
    main()
