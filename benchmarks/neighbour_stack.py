"""Does what the model says of a beat's neighbours help decide the beat? A DS1-only question on saved
out-of-fold probabilities (`benchmarks.ablations --save-oof`; no training, DS2 not read).

Premature beats come in runs and in records full of them (DS2's 232 is mostly S; its S beats sit at a median
S probability of 0.18 where its N beats sit at 0.000: benchmarks/ABLATIONS.md, "Missed for their level").
Each beat's log-probabilities are moved by a weight times the mean log-probabilities of the `k` beats either
side (the same record, in time order): if a beat's neighbours lean S, its own lean might be worth more. Weight
0 is the row as saved; the weight is chosen on four folds of DS1 patients by the pooled headline and applied to
the fifth (`ecgnet.data.cross_fit`), and the result paired by patient against the row as saved
(`benchmarks.paired_rows`). (A logistic regression over the beat's own and its neighbours' log-probabilities was
the first instrument, dropped: refitting the decision from the beat's own alone already lost 0.14-0.20 out of
fold, so it could not say what the neighbours add.)

    python -m benchmarks.neighbour_stack ROW.npz [ROW.npz ...] [--beats 4 16] [--draws 1000]
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.paired_rows import SavedRow, figures, load_rows, paired
from ecgnet.data import cross_fit
from ecgnet.evaluate import headline
from feature_store.beat_ids import beat_positions, record_rows
from feature_store.tasks import BEATS

FLOOR = 1e-6  # log-probabilities floored here: a saved 0 is a rounding, not a certainty
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)  # the neighbours' weight, chosen on DS1 patients


def neighbour_means(values: np.ndarray, records: np.ndarray, r_peak: np.ndarray, beats: int) -> np.ndarray:
    """(rows, C) the mean of `values` over the `beats` rows either side of each row in its own record (time
    order), the row itself left out; at a record's ends the window holds what the record has (a record of
    one beat gets its own values)."""
    out = np.empty_like(values, dtype=np.float64)
    for rows in record_rows(records, r_peak):
        v = values[rows].astype(np.float64)
        csum = np.concatenate([np.zeros((1, v.shape[1])), np.cumsum(v, axis=0)])
        idx = np.arange(len(rows))
        lo, hi = np.maximum(idx - beats, 0), np.minimum(idx + beats + 1, len(rows))
        count = (hi - lo - 1)[:, None]
        total = csum[hi] - csum[lo] - v
        out[rows] = np.where(count > 0, total / np.maximum(count, 1), v)
    return out


def leaned(own: np.ndarray, near: np.ndarray, weight: float) -> np.ndarray:
    """Probabilities from each beat's log-probabilities plus `weight` times its neighbours' mean ones
    (weight 0: the beat's own, unchanged)."""
    logits = own + weight * near
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def cross_fitted(own: np.ndarray, near: np.ndarray, row: SavedRow, *, seed: int = 0) -> tuple[np.ndarray, list]:
    """Out-of-fold probabilities with the neighbours' weight chosen on the other folds of patients (the
    pooled headline over WEIGHTS, ties to the smaller weight), and each fold's weight."""
    metric = headline(BEATS)

    def fit(rows: np.ndarray) -> float:
        scores = [metric(leaned(own[rows], near[rows], w), row.y[rows]) for w in WEIGHTS]
        return WEIGHTS[int(np.argmax(scores))]

    return cross_fit(row.patients, fit, lambda w, rows: leaned(own[rows], near[rows], w), seed=seed, dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", help="NN.npz, or several joined by + (averaged)")
    parser.add_argument("--beats", type=int, nargs="+", default=[4, 16], help="neighbours either side")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    metric = headline(BEATS)
    for path in args.rows:
        row = load_rows(path)
        records, r_peak = beat_positions(row.ids)
        own = np.log(np.maximum(row.probs, FLOOR))
        print(f"\n{path}: as saved OOF {metric(row.probs, row.y):.3f}; {figures(row)}")
        for beats in args.beats:
            near = neighbour_means(own, records, r_peak, beats)
            in_sample = ", ".join(f"{w:g} {metric(leaned(own, near, w), row.y):.3f}" for w in WEIGHTS)
            probs, weights = cross_fitted(own, near, row)
            leaning = SavedRow(f"{row.name}: leaning on {beats} either side", probs, row.y, row.ids, row.patients)
            print(f"  {beats} neighbours either side, in sample by weight: {in_sample}")
            print(f"    weight chosen on the other patients, a fold: {', '.join(f'{w:g}' for w in weights)}")
            print(f"    out of fold {metric(probs, row.y):.3f}, paired {paired(leaning, row, draws=args.draws)}")
            print(f"    {figures(leaning)}")


if __name__ == "__main__":
    main()
