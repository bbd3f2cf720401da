"""Ablation rows saved by `benchmarks.ablations --save-oof` paired against a baseline row: the pooled
out-of-fold headline (N, S, V macro-F1) of each row minus the baseline's, with the 95 % interval from
resampling DS1's patients (both rows on the same draws). This is what benchmarks/ABLATIONS.md's "paired"
columns read; pair only rows of the same machine (a machine moves a row by as much as a seed does). Any
argument may be several files joined by "+": their probabilities averaged, as a comparison averages its
seeds' members (`00.npz+02.npz`, two seeds of one configuration).

    python -m benchmarks.paired_rows BASELINE.npz ROW.npz [ROW.npz ...] [--draws 1000]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgnet.evaluate import aami_line, headline, paired_bootstrap
from ecgnet.interval import Interval
from feature_store.beat_ids import beat_positions
from feature_store.tasks import BEATS


@dataclass(frozen=True)
class SavedRow:
    name: str
    probs: np.ndarray  # (beats, classes), rows in id order
    y: np.ndarray
    ids: np.ndarray
    patients: np.ndarray  # what the bootstrap resamples


def load_row(path: Path) -> SavedRow:
    saved = np.load(path)
    order = np.argsort(saved["ids"], kind="stable")
    ids = saved["ids"][order]
    # rows saved before 2026-12-05 carry no patients: their records stand in (one patient each in DS1)
    patients = saved["groups"][order] if "groups" in saved else beat_positions(ids)[0]
    return SavedRow(str(saved["ablation"]), saved["probs"][order], saved["y"][order], ids, patients)


def _require_same_beats(row: SavedRow, other: SavedRow, problem: str) -> None:
    if not (np.array_equal(row.ids, other.ids) and np.array_equal(row.y, other.y)):
        raise ValueError(f"{problem}; fix: pair and average rows of one harness (same --mitdb, same task)")


def load_rows(argument: str) -> SavedRow:
    """One file, or the files of "A.npz+B.npz" averaged (every one over the same beats, else refused by name)."""
    paths = [Path(p) for p in argument.split("+")]
    rows = [load_row(p) for p in paths]
    for path, row in zip(paths[1:], rows[1:]):
        _require_same_beats(row, rows[0], f"{path}: its beats or labels differ from {paths[0]}'s")
    if len(rows) == 1:
        return rows[0]
    name = " + ".join(r.name for r in rows)
    return SavedRow(name, np.mean([r.probs for r in rows], axis=0), rows[0].y, rows[0].ids, rows[0].patients)


def paired(row: SavedRow, baseline: SavedRow, *, draws: int = 1000, path: Path | None = None) -> Interval:
    """row's headline minus baseline's, patients resampled; raises, naming the file, where the two rows
    did not score the same beats with the same labels (another task, another DS1)."""
    _require_same_beats(row, baseline, f"{path or row.name}: its beats or labels differ from the baseline row's")
    return paired_bootstrap(row.probs, baseline.probs, row.y, row.patients, headline(BEATS), n_boot=draws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", help="NN.npz, or several joined by + (averaged)")
    parser.add_argument("rows", nargs="+", help="NN.npz, or several joined by + (averaged)")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    base = load_rows(args.baseline)
    metric = headline(BEATS)
    print(f"baseline {base.name}: OOF {metric(base.probs, base.y):.3f}; {figures(base)}")
    for path in args.rows:
        row = load_rows(path)
        diff = paired(row, base, draws=args.draws, path=Path(path))
        print(f"{row.name}: OOF {metric(row.probs, row.y):.3f}, paired {diff}; {figures(row)}")


def figures(row: SavedRow) -> str:
    """The trade a headline hides: accuracy and the S and V sensitivities and positive predictivities."""
    return aami_line(row.probs, row.y, BEATS.classes, BEATS.focus_classes)


if __name__ == "__main__":
    main()
