"""What DS1 says of a linear discriminant, and what DS2 says of it: a diagnostic, not a selection.

The `classical` variant's discriminant (shrinkage LDA, equal priors over the classes it is fitted on) over
several of the feature sets the ablations tried (benchmarks/ABLATIONS.md), de Chazal et al.'s among them,
and over several class sets: all five AAMI classes as the variant has them, N, S and V, or N and S alone.
Each row is scored twice: out of fold on DS1 (5 folds by patient, as the ablations), and fitted on all of
DS1, once on DS2. Nothing here chooses anything: the comparison's choice reads DS1 alone. What it shows
is whether DS1 could have told what DS2 rewards: the S sensitivity is given for DS2's record 232 (1,382 of
its 1,837 S beats) beside the pooled figures.

    python -m benchmarks.linear_ds2 [--mitdb FOLDER]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix

from benchmarks.ablations import _task_data
from benchmarks.beat_arrays import read_beats
from benchmarks.common import MITDB
from ecgnet.classical import LinearReference, _features, equal_prior_lda, standardisation
from ecgnet.config import ModelConfig
from ecgnet.crossval import patient_folds
from ecgnet.data import TaskData
from ecgnet.evaluate import _aami
from feature_store.beat_ids import beat_positions
from feature_store.sources.splits import mitdb_table
from feature_store.tasks import BEATS

FEATURES = {
    "waveform evenly, every time-view scalar (the comparison's)": ModelConfig(),
    "the four raw RR intervals, waves (de Chazal's)": ModelConfig(morphology="waves", classical_scalars="intervals"),
    "the four raw RR intervals alone": ModelConfig(morphology="none", classical_scalars="intervals"),
}
CLASS_SETS = (BEATS.classes, BEATS.metric_classes, ("N", "S"))  # as the variant, the headline's, N and S
RECORD = "232"  # DS2's S-majority record
FOLDS = 5


def figures(pred: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> str:
    """S and V sensitivity / positive predictivity of class predictions (ecgnet.evaluate's AAMI figures)."""
    f = _aami(confusion_matrix(y, pred, labels=range(len(classes))), classes, ("S", "V"))
    return " | ".join(f"{f[f'se_{c}']:.3f} / {f[f'pp_{c}']:.3f}" for c in ("S", "V"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, default=MITDB)
    args = parser.parse_args()
    table = mitdb_table()
    ds1 = {r for r, (_, split) in table.items() if split in BEATS.splits.train}
    train_beats = read_beats(args.mitdb, records=ds1)
    dev = _task_data(train_beats)
    test = _task_data(read_beats(args.mitdb, records=set(table) - ds1), stats_from=train_beats, copies=False).val
    data = TaskData(dev.spec, dev.val, dev.val, test, {}, None)
    classes, y1, y2 = data.classes, np.asarray(dev.val.y), np.asarray(test.y)
    fold_id = patient_folds(dev.val.groups, FOLDS, 0)
    s, in_record = classes.index("S"), beat_positions(test.ids)[0] == RECORD
    print(f"DS1 {len(y1):,} beats ({FOLDS} folds by patient) -> DS2 {len(y2):,} beats; LDA, equal priors")
    print("| features | fitted on | DS1 out of fold: S Se / +P | V Se / +P | DS2: S Se / +P | V Se / +P | 232 S Se |")
    print("|---|---|---|---|---|---|---|")
    for name, cfg in FEATURES.items():
        model = LinearReference(data, cfg)
        x1, x2 = _features(model, dev.val), _features(model, test)
        mean, std = standardisation(x1)
        z1, z2 = (x1 - mean) / std, (x2 - mean) / std
        for kept in CLASS_SETS:
            rows = np.isin(y1, [classes.index(c) for c in kept])
            oof = np.full(len(y1), -1)
            for f in range(FOLDS):
                fit = rows & (fold_id != f)
                oof[fold_id == f] = equal_prior_lda(z1[fit], y1[fit]).predict(z1[fold_id == f])
            pred = equal_prior_lda(z1[rows], y1[rows]).predict(z2)
            ds1_figs, ds2_figs = figures(oof, y1, classes), figures(pred, y2, classes)
            if "V" not in kept:  # V not fitted: its figures say nothing
                ds1_figs, ds2_figs = ds1_figs.split(" | ")[0] + " | -", ds2_figs.split(" | ")[0] + " | -"
            found = np.mean(pred[(y2 == s) & in_record] == s)
            print(f"| {name} | {', '.join(kept)} | {ds1_figs} | {ds2_figs} | {found:.3f} |", flush=True)


if __name__ == "__main__":
    main()
