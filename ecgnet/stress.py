"""Training copies of S-rich records read against S-dominant references.

A beat's RR intervals and its record template are read against its record's references (RR mean,
median and 90th percentile, the median beat). Where premature S beats are most of a record (DS2's
232: 1,382 of its 1,779 beats, three quarters of DS2's S beats) those references are made of S beats,
and a model that only saw DS1 records (none S-majority) reads the S beats as the record's usual ones.
The copies show it such records: every beat of a DS1 record rich in S keeps its own intervals, its
neighbours and its waveform, and only the references move (copies of the record's S beats join them
until S is `share` of it). On DS1 cross-validation they lift the time variant's S sensitivity under
that stress from 0.29 to 0.54 with the headline unchanged (README, "S-dominant references").

Copies are made from development rows only (train and validation, never test) and train only where
their patient trains (`ecgnet.data.training_rows`): a held-out patient's copy is never fitted on.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from feature_store.beat_ids import beat_positions
from feature_store.tasks import ReferenceStress
from feature_store.transforms.rhythm import BEAT_RR_NAMES
from feature_store.views.families import BeatReferences

from .data import Split


def copies_per_beat(n_beats: int, n_class: int, share: float) -> int:
    """How many copies of each of a record's `n_class` beats make the class `share` of its references:
    n_class (1 + k) >= share (n_beats + n_class k)."""
    return max(int(np.ceil((share * n_beats - n_class) / ((1 - share) * n_class))), 0)


def reference_copies(split: Split, classes: tuple[str, ...], refs: BeatReferences, stress: ReferenceStress) -> Split:
    """Every row of each record in `split` with at least `stress.min_beats` beats of `stress.beat_class`,
    its time scalars' rhythm and template columns read against that class's dominance (empty when no
    record qualifies). Ids are the beats' own ("<record>:<R peak sample>"), labels and every other
    input unchanged."""
    target = classes.index(stress.beat_class)
    record, r_peak = beat_positions(split.ids)
    keep: list[np.ndarray] = []  # each qualifying record's rows
    named: list[np.ndarray] = []  # the copies' rows (into the kept rows)
    for rec in np.unique(record):
        rows = np.flatnonzero(record == rec)
        mine = np.flatnonzero(split.y[rows] == target)
        if len(mine) < stress.min_beats:
            continue
        mine = mine[np.argsort(r_peak[rows][mine], kind="stable")]  # copies in time order, round after round
        k = copies_per_beat(len(rows), len(mine), stress.share)
        named.append(np.tile(mine + sum(len(r) for r in keep), k))
        keep.append(rows)
    if not keep:
        return split.take(np.arange(0))
    rows = np.concatenate(keep)
    out = split.take(rows)
    time = out.x["time"]
    scalars = np.array(time["scalars"], dtype=np.float32)
    rr = len(BEAT_RR_NAMES)
    # the rhythm around each beat is its neighbours', which the copies do not change: not computed again
    unmoved_context = replace(refs, params=replace(refs.params, rr_context_beats=0))
    moved = unmoved_context.columns(
        np.asarray(time["waveform"]),
        record[rows],
        r_peak[rows],
        scalars[:, 0],  # rr_prev_s: the first rhythm column (ecgnet.data.INPUTS joins rhythm first)
        scalars[:, 1],  # rr_next_s
        reference_rows=np.concatenate(named),
    )
    scalars[:, :rr] = moved["rhythm"]
    template = moved["template"].reshape(len(rows), -1)  # the template columns close the scalars
    scalars[:, scalars.shape[1] - template.shape[1] :] = template
    return Split({**out.x, "time": {**time, "scalars": scalars}}, out.y, out.ids, out.groups)
