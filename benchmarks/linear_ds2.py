"""Does the linear reference reproduce de Chazal et al. 2004 on DS2? A diagnostic, not a selection.

The `classical` variant's LDA (equal class priors) is fitted on all of DS1 under several of the feature
sets the ablations tried on DS1 (their own rows: benchmarks/ABLATIONS.md), de Chazal's among them, and
each is scored on DS2 once. Nothing here chooses anything: the comparison's choice reads DS1 alone. What
it answers is whether the gap between the published LD (DS2 S Se 0.759) and ours is the features' or
the beats': the S sensitivity is reported for record 232 (1,382 of DS2's 1,837 S beats) and without it.

    python -m benchmarks.linear_ds2 [--mitdb FOLDER]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmarks.ablations import _task_data
from benchmarks.beat_arrays import read_beats
from benchmarks.common import MITDB
from ecgnet.classical import LinearReference, fit_reference
from ecgnet.data import TaskData
from ecgnet.evaluate import aami, headline
from ecgnet.models import ModelConfig
from ecgnet.train import tensors
from feature_store.beat_ids import beat_positions
from feature_store.sources.splits import mitdb_table
from feature_store.tasks import BEATS

FEATURE_SETS = {
    "as in the comparison: waveform evenly, every time-view scalar": ModelConfig(),
    "waveform at the P, QRS and T waves, every scalar": ModelConfig(morphology="waves"),
    "de Chazal's: the four raw RR intervals, waves": ModelConfig(morphology="waves", classical_scalars="intervals"),
    "the four raw RR intervals, waveform evenly": ModelConfig(classical_scalars="intervals"),
    "the four raw RR intervals alone": ModelConfig(morphology="none", classical_scalars="intervals"),
}
RECORD = "232"  # DS2's S-majority record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, default=MITDB)
    args = parser.parse_args()
    table = mitdb_table()
    ds1 = {r for r, (_, split) in table.items() if split in BEATS.splits.train}
    train_beats = read_beats(args.mitdb, records=ds1)
    test_beats = read_beats(args.mitdb, records=set(table) - ds1)
    dev = _task_data(train_beats)
    test = _task_data(test_beats, stats_from=train_beats, copies=False).val  # scaled as DS1's rows
    data = TaskData(dev.spec, dev.val, dev.val, test, {}, None)  # fitted on all of DS1
    s = data.classes.index("S")
    in_record = beat_positions(test.ids)[0] == RECORD
    print(f"DS1 {len(dev.val):,} beats -> DS2 {len(test):,} beats; LDA, equal class priors")
    print("| features | DS2 N,S,V | accuracy | S Se / +P | V Se / +P | S Se in 232 / elsewhere |")
    print("|---|---|---|---|---|---|")
    for name, cfg in FEATURE_SETS.items():
        model = LinearReference(data, cfg)
        fit_reference(model, data)
        with torch.no_grad():
            probs = torch.softmax(model(tensors(test)), dim=1).numpy()
        f = aami(probs, test.y, data.classes, ("S", "V"))
        found = probs.argmax(axis=1) == s
        s_rows = test.y == s
        print(
            f"| {name} | {headline(data.spec)(probs, test.y):.3f} | {f['accuracy']:.3f} | {f['se_S']:.3f} / "
            f"{f['pp_S']:.3f} | {f['se_V']:.3f} / {f['pp_V']:.3f} | {found[s_rows & in_record].mean():.3f} / "
            f"{found[s_rows & ~in_record].mean():.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
