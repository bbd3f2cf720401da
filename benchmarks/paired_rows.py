"""Ablation rows saved by `benchmarks.ablations --save-oof` paired against a baseline row: the pooled
out-of-fold headline (N, S, V macro-F1) of each row minus the baseline's, with the 95 % interval from
resampling DS1's patients (both rows on the same draws). This is what benchmarks/ABLATIONS.md's "paired"
columns read; pair only rows of the same machine (a machine moves a row by as much as a seed does).

    python -m benchmarks.paired_rows BASELINE.npz ROW.npz [ROW.npz ...] [--draws 1000]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgnet.evaluate import Interval, headline, paired_bootstrap
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


def paired(row: SavedRow, baseline: SavedRow, *, draws: int = 1000, path: Path | None = None) -> Interval:
    """row's headline minus baseline's, patients resampled; raises, naming the file, where the two rows
    did not score the same beats with the same labels (another task, another DS1)."""
    if not (np.array_equal(row.ids, baseline.ids) and np.array_equal(row.y, baseline.y)):
        raise ValueError(
            f"{path or row.name}: its beats or labels differ from the baseline row's; fix: pair rows of one "
            "harness (same --mitdb, same task)"
        )
    return paired_bootstrap(row.probs, baseline.probs, row.y, row.patients, headline(BEATS), n_boot=draws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path)
    parser.add_argument("rows", type=Path, nargs="+")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    base = load_row(args.baseline)
    metric = headline(BEATS)
    print(f"baseline {base.name}: OOF {metric(base.probs, base.y):.3f}")
    for path in args.rows:
        row = load_row(path)
        diff = paired(row, base, draws=args.draws, path=path)
        print(f"{row.name}: OOF {metric(row.probs, row.y):.3f}, paired {diff}")


if __name__ == "__main__":
    main()
