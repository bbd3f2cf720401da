"""Training choices decided on DS1 alone: patient-grouped k-fold cross-validation of one variant
under each change, scored on its out-of-fold probabilities. DS2 records are never opened.

Each row trains k members (one per fold of DS1 patients) and reports the held-out-fold macro F1
(mean +- sd over folds), then the pooled out-of-fold figures, without and with decision offsets
(cross-fitted by patient, as the comparison does).

`--stress`: the same members also score the "S-majority" copies of their held-out patients' records:
DS1 records with at least 50 S beats, thinned of N beats until S is 3/4 of the record (every feature,
the record-relative ones included, computed on the thinned record). No DS1 record has S as its
majority class, but DS2's record 232 does (1,382 of its 1,779 beats): this shows on DS1 what a model
does with such a record, where "typical for this record" no longer means normal. `--stress-kind
references` builds the copies another way: the records stay whole (each beat keeps its own intervals
and neighbours) and only their record-level references (RR mean, median and 90th percentile, the
median beat) are computed as if S were 3/4 of the record, as the training copies are (`stress_rows`,
`ecgnet.stress`). `--per-record`
reports each S-rich record's S sensitivity, out of fold and, with `--stress`, under the stress.

    python -m benchmarks.ablations [--mitdb FOLDER] [--variant time] [--folds 5] [--epochs 6] [--only NAME ...]
                                   [--stress [--stress-kind thinned|references|runs]] [--per-record]
                                   [--save-oof DIR] [--out FILE] [--tta] [--mlflow HOME]

`--save-oof DIR` keeps each row's out-of-fold probabilities (NN.npz), which `python -m benchmarks.paired_rows`
pairs against a baseline row; `--mlflow HOME` logs each row to the MLflow store of that workspace, in the
experiment `ecgnet-beats-ablations`, beside the comparisons `make bench-mitdb` logs there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from benchmarks.beat_arrays import BeatRows, beat_references, beat_views, read_beats
from benchmarks.common import MITDB
from ecgnet.comparison import fit_variant
from ecgnet.config import (
    AugmentConfig,
    BoostingConfig,
    ComparisonConfig,
    ConductionSwap,
    ModelConfig,
    RhythmJitter,
    ShapeDropout,
    TrainConfig,
)
from ecgnet.crossval import folds
from ecgnet.data import Split, TaskData, labelled_split, rhythm_columns
from ecgnet.decisions import cross_fit_offsets
from ecgnet.evaluate import aami, headline
from ecgnet.stress import reference_copies
from ecgnet.tracking import Tracker
from ecgnet.train import predict_probs
from ecgnet.variants import VARIANTS
from feature_store.backend import numpy_backend
from feature_store.beat_ids import beat_positions, record_rows
from feature_store.sources.splits import mitdb_table
from feature_store.tasks import BEATS, ReferenceStress, TaskSpec
from feature_store.transforms.rhythm import BEAT_RR_NAMES
from feature_store.transforms.template import TEMPLATE_NAMES
from feature_store.transforms.time import MOMENT_NAMES
from feature_store.views.families import TimeParams
from feature_store.workspace import Workspace


def _with_time(split: Split, **inputs: np.ndarray) -> Split:
    """`split` with the named time inputs replaced (an input transform's result)."""
    return Split({**split.x, "time": {**split.x["time"], **inputs}}, split.y, split.ids, split.groups)


def per_record_amplitude(split: Split) -> Split:
    """The time waveform divided, per record and lead, by the median RMS of that record's beats:
    every record's typical beat gets unit amplitude whatever its gain and lead placement."""
    wave = np.array(split.x["time"]["waveform"], dtype=np.float32)
    records = beat_positions(split.ids)[0]
    rms = np.sqrt((wave**2).mean(axis=2))  # (beats, leads)
    for r in np.unique(records):
        rows = records == r
        wave[rows] /= np.maximum(np.median(rms[rows], axis=0), 1e-3)[None, :, None]
    return _with_time(split, waveform=wave)


def _by_lead(split: Split, pick: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Split:
    """Every per-lead array of every view (lead on axis 1, two leads) indexed on that axis by `pick(array, records)`."""
    records = beat_positions(split.ids)[0]
    x: dict[str, dict[str, np.ndarray]] = {}
    for view, cols in split.x.items():
        x[view] = {}
        for name, a in cols.items():
            a = np.asarray(a)
            x[view][name] = pick(a, records) if a.ndim >= 2 and a.shape[1] == 2 and name != "rhythm" else a
    return Split(x, split.y, split.ids, split.groups)


def mlii_only(split: Split) -> Split:
    """MLII alone: the second lead is V1 in most records but V2, V4 or V5 in others. The views take leads by
    name (`BeatWindows.leads`), so MLII is the first in every record, 114 (whose header stores V5 first)
    included; the row "record 114's leads in MLII-first order", which swapped 114's back when views took
    leads by position, was taken out with `mlii_first` on 2026-12-07 (run today it swapped them wrong)."""
    return _by_lead(split, lambda a, rec: a[:, :1])


def mlii_alone(split: Split) -> Split:
    """MLII and nothing of the second lead, as a single-lead recorder (a patch, a CPSC 2021 Holter's lead II)
    would give the time variant: `mlii_only` keeps the second lead's moments, QRS energy and record-template
    columns in the scalars, which this drops too (packed lead by lead, ecgnet.data.INPUTS)."""
    split = mlii_only(split)
    scalars = np.asarray(split.x["time"]["scalars"])
    rhythm = sum(len(c) for c in rhythm_columns(BEATS))
    template = scalars.shape[1] - 2 * len(TEMPLATE_NAMES)
    qrs, moments = template - 2, template - 2 - 2 * len(MOMENT_NAMES)
    assert moments == rhythm, "time scalars are not rhythm, rr_context, moments, qrs_energy, template"
    second = [*range(moments + len(MOMENT_NAMES), qrs), qrs + 1, *range(template + len(TEMPLATE_NAMES), len(scalars.T))]
    return _with_time(split, scalars=np.delete(scalars, second, axis=1))


def without_template(split: Split) -> Split:
    """The time scalars without the record-template columns (the view before 2026-12-01); `template`
    is the last column group joined into them (ecgnet.data.INPUTS)."""
    width = len(TEMPLATE_NAMES) * split.x["time"]["waveform"].shape[1]
    return _with_time(split, scalars=np.asarray(split.x["time"]["scalars"])[:, :-width])


def qrs_only_template(split: Split) -> Split:
    """The template columns over the QRS alone (correlation and energy): the whole-window correlation
    and RMS also see the P wave, and there "unlike the record's median beat" marks an S beat only where
    S is rare; in a record where S beats are the median (DS2's 232) it reads them as N."""
    scalars = np.asarray(split.x["time"]["scalars"])
    return _with_time(split, scalars=np.delete(scalars, _whole_window_template(split), axis=1))


def _whole_window_template(split: Split) -> list[int]:
    """Scalar columns of the whole-window template features (correlation and RMS ratio), per lead; the
    template columns close the scalars, leads x TEMPLATE_NAMES (ecgnet.data.INPUTS)."""
    leads = split.x["time"]["waveform"].shape[1]
    first = np.shape(split.x["time"]["scalars"])[1] - leads * len(TEMPLATE_NAMES)
    return [
        first + lead * len(TEMPLATE_NAMES) + TEMPLATE_NAMES.index(n)
        for lead in range(leads)
        for n in ("template_corr", "template_log1p_rms")
    ]


def template_context(split: Split, beats: int = 4) -> Split:
    """The time scalars with, before the template columns, the whole-window correlation and RMS ratio
    against the record's median beat of the `beats` beats before and after each beat (per lead; the
    record's first and last beats repeat at its ends): how usual its neighbours look, as `rr_context`
    says how their timing runs (a beat among ventricular ones, in bigeminy, in a run of unusual beats).
    Read from the rows' own template columns, so training copies under S-dominant references read their
    neighbours against the same references as themselves."""
    scalars = np.asarray(split.x["time"]["scalars"], dtype=np.float32)
    first = scalars.shape[1] - split.x["time"]["waveform"].shape[1] * len(TEMPLATE_NAMES)
    read = _whole_window_template(split)
    record, r_peak = beat_positions(split.ids)
    shifts = [s for s in range(-beats, beats + 1) if s]
    context = np.zeros((len(scalars), len(shifts) * len(read)), np.float32)
    for rows in record_rows(record, r_peak):
        at = np.arange(len(rows))
        context[rows] = np.concatenate(
            [scalars[rows[np.clip(at + s, 0, len(rows) - 1)]][:, read] for s in shifts], axis=1
        )
    return _with_time(split, scalars=np.concatenate([scalars[:, :first], context, scalars[:, first:]], axis=1))


MEAN_REFERENCED = ("rr_record_s", "rr_prev_norm", "rr_next_norm")  # move most when S beats dominate a record


def robust_rr_references(split: Split) -> Split:
    """The time scalars without the RR columns read against the record's mean interval (the mean itself
    and each beat's intervals over it): of the three references, the mean is the one a record full of
    early beats pulls towards them (S-dominant references on DS1: S beats' prev/mean 0.6 -> 0.85, N's
    1.0 -> 1.4, where prev/q90 moves by 0.05); the slow and 90th-percentile references stay."""
    return _without_rr(split, MEAN_REFERENCED)


SLOW_REFERENCED = ("rr_prev_slow_norm", "rr_next_slow_norm")


def without_slow_reference(split: Split) -> Split:
    """The time scalars without the intervals over the record's slow median (view version 3's reference):
    where S beats run at the record's usual pace (DS2's 232), it reads them as N while the mean and
    the 90th percentile read them as early, and a model that weighs the references against each other
    (a linear fit on DS1 gives the slow one the largest weight, of the opposite sign to the 90th
    percentile's) follows it."""
    return _without_rr(split, SLOW_REFERENCED)


NEXT_INTERVALS = ("rr_next_s", "rr_next_norm", "rr_next_slow_norm", "rr_next_q90_norm")


def without_next_intervals(split: Split) -> Split:
    """The time scalars without the interval after each beat (in seconds and over each reference): on
    DS1 nearly every S beat is followed by a pause, so a model may want one; S beats in a run (the next
    beat early too) have none, and are then read as N whatever their own prematurity."""
    return _without_rr(split, NEXT_INTERVALS)


Q90_REFERENCED = ("rr_prev_q90_norm", "rr_next_q90_norm")


def q90_reference_only(split: Split) -> Split:
    """The time scalars with only the RR columns read against the record's 90th-percentile interval:
    on the S-runs instrument it is the one reading of S beats in runs that DS1's S beats share (their
    previous interval over it 0.56, DS1's S median 0.58, N 0.92), while every other column (seconds,
    over the mean, the slow median, the last ten) reads them as N; a fit on all of them follows the
    majority (logistic regression on the RR columns: S Se 0.00 under the runs, on the q90 pair: 0.74)."""
    return _without_rr(split, tuple(n for n in BEAT_RR_NAMES if n not in Q90_REFERENCED))


def _without_rr(split: Split, names: tuple[str, ...]) -> Split:
    """The time scalars without the RR columns `names`; `rhythm` is the first column group of the scalars
    (ecgnet.data.INPUTS), in BEAT_RR_NAMES order."""
    drop = [BEAT_RR_NAMES.index(name) for name in names]
    scalars = np.asarray(split.x["time"]["scalars"])
    keep = np.setdiff1d(np.arange(scalars.shape[1]), drop)
    return _with_time(split, scalars=scalars[:, keep])


def log_rr(split: Split) -> Split:
    """The beat's RR columns (seconds and ratios to the record's references) as log2, as `rr_context` already
    is: an interval half as long and one twice as long then sit equally far from the reference, and a record's
    pauses (DS2's 232: up to 6 s) stop being extreme values for a standardised input to extrapolate from."""
    scalars = np.array(split.x["time"]["scalars"], dtype=np.float32)
    k = len(BEAT_RR_NAMES)
    scalars[:, :k] = np.log2(np.maximum(scalars[:, :k], 1e-3))
    return _with_time(split, scalars=scalars)


def minus_record_median(split: Split) -> Split:
    """An input transform: each beat's waveform minus its record's median beat (label-free), so the
    shape a record conducts with (a bundle-branch block, say) is no longer itself evidence of a class;
    what is left is how the beat differs from the record's usual one."""
    wave = np.array(split.x["time"]["waveform"], dtype=np.float32)
    records = beat_positions(split.ids)[0]
    for r in np.unique(records):
        rows = records == r
        wave[rows] -= np.median(wave[rows], axis=0, keepdims=True)
    return _with_time(split, waveform=wave)


@dataclasses.dataclass(frozen=True)
class RowChange:
    """An ablation row (an ABLATIONS value) split into what it changes: each field but `train` is one of the
    harness's own keys, with the value a row that does not name it gets; every other key is a TrainConfig
    field and lands in `train`."""

    inputs: Callable[[Split], Split] | None = None  # applied to the development rows (and the training copies)
    model: dict[str, Any] = dataclasses.field(default_factory=dict)  # ModelConfig fields
    views: dict[str, Any] | None = None  # family -> params: the views are computed again for the row
    spec: dict[str, Any] = dataclasses.field(default_factory=dict)  # TaskSpec fields
    train_stress: str | None = None  # a stress kind whose copies of the training patients' records join training
    train_stress_share: float = 1.0  # and the share of those copies kept, evenly
    stratify_folds: bool = False  # ComparisonConfig.stratify_folds
    train: dict[str, Any] = dataclasses.field(default_factory=dict)  # TrainConfig fields

    @classmethod
    def of(cls, change: dict[str, Any]) -> RowChange:
        own = {k: v for k, v in change.items() if k in HARNESS_KEYS}
        return cls(**own, train={k: v for k, v in change.items() if k not in HARNESS_KEYS})


# what a row may change besides TrainConfig's fields
HARNESS_KEYS = frozenset(f.name for f in dataclasses.fields(RowChange)) - {"train"}


def time_view(**changes: Any) -> TimeParams:
    """The comparison's time view parameters with `changes`: a row changes one thing from how BEATS
    computes its time view as it stands."""
    return replace(BEATS.view_params["time"], **changes)


# training changes (TrainConfig fields), model changes ("model"), input transforms ("inputs"); values of many
# kinds, as replace(TrainConfig / ModelConfig / TaskSpec, **...) takes them (it checks their names at run time)
ABLATIONS: dict[str, dict[str, Any]] = {
    "baseline (inverse-frequency class weights, 6 epochs)": {},
    "no class weights": {"class_weighting": False},
    "augmentation (gain, wander, noise, shift)": {"augment": AugmentConfig()},
    "12 epochs": {"epochs": 12},
    "rhythm jitter: each RR reference scaled per training row by up to 1.5 either way, the tempo by up to 1.3": {
        "rhythm_jitter": RhythmJitter()
    },
    "rhythm jitter: each RR reference by up to 2 either way, the tempo by up to 1.5": {
        "rhythm_jitter": RhythmJitter(reference=2.0, tempo=1.5)
    },
    "12 epochs, each class capped at 8,000 rows per epoch": {"epochs": 12, "class_cap": 8000},
    "20 epochs, each class capped at 8,000 rows per epoch": {"epochs": 20, "class_cap": 8000},
    "20 epochs, each class capped at 4,000 rows per epoch": {"epochs": 20, "class_cap": 4000},
    "per-record amplitude normalisation": {"inputs": per_record_amplitude},
    "12 epochs, MLII only": {"epochs": 12, "inputs": mlii_only},
    # a single-lead recorder (a patch; CPSC 2021's lead II) gives no second lead: is the beats task worth a
    # single-lead task beside it? Run with the comparison's settings (--epochs 10) beside the rows as it stands
    "MLII alone, no column of the second lead": {"inputs": mlii_alone},
    "seed 1: MLII alone, no column of the second lead": {"inputs": mlii_alone, "seed": 1},
    "classical: morphology at the P, QRS and T waves": {"model": {"morphology": "waves"}},
    "classical: no waveform samples (RR and record-relative scalars only)": {"model": {"morphology": "none"}},
    "classical: de Chazal's features (four raw RR intervals, morphology at the P, QRS and T waves)": {
        "model": {"morphology": "waves", "classical_scalars": "intervals"}
    },
    "classical: the four raw RR intervals, waveform sampled evenly": {"model": {"classical_scalars": "intervals"}},
    # view changes ("views": family -> params): the views are computed again for the row
    "record template from the unhurried quarter of beats (RR >= the record's 75th percentile)": {
        "views": {"time": time_view(template_rr_quantile=0.75)}
    },
    "record template from the unhurried half of beats": {"views": {"time": time_view(template_rr_quantile=0.5)}},
    "no record template": {"inputs": without_template},
    "record template, and beside it the template of the unhurried quarter of beats (RR >= 75th percentile)": {
        "views": {"time": time_view(sinus_template_quantile=0.75)}
    },
    "record template over the QRS only (no whole-window correlation or RMS)": {"inputs": qrs_only_template},
    "RR against the slow and 90th-percentile references only (not the record mean)": {"inputs": robust_rr_references},
    "RR against robust references only, and the template from the unhurried quarter": {
        "inputs": robust_rr_references,
        "views": {"time": time_view(template_rr_quantile=0.75)},
    },
    "waveform minus the record's median beat": {"inputs": minus_record_median},
    "RR without the slow-median reference (the mean and the 90th percentile stay)": {"inputs": without_slow_reference},
    "RR without the interval after each beat (each beat read by its own prematurity)": {
        "inputs": without_next_intervals
    },
    "reference readings: every training row read against one RR reference (record and local means in seconds too), "
    "evaluation averages the readings": {"model": {"reference_readings": 1.0}},
    "reference readings, and the unhurried quarter's template beside the record template": {
        "model": {"reference_readings": 1.0},
        "views": {"time": time_view(sinus_template_quantile=0.75)},
    },
    "RR over the record's 90th-percentile interval only (seconds and the other references dropped)": {
        "inputs": q90_reference_only
    },
    # beat window changes (TimeParams.beat_before_s: seconds of the time view before the R peak)
    "beat window from 0.45 s before the R peak (the P wave where the PR interval is long)": {
        "views": {"time": time_view(beat_before_s=0.45)}
    },
    "beat window from 0.6 s before the R peak": {"views": {"time": time_view(beat_before_s=0.6)}},
    "beat window from 0.45 s before the R peak, and the unhurried quarter's template beside the record template": {
        "views": {"time": time_view(beat_before_s=0.45, sinus_template_quantile=0.75)},
    },
    "beat window from 0.45 s before the R peak, each template also over the window before the QRS (the P wave)": {
        "views": {"time": time_view(beat_before_s=0.45, pre_qrs_template=True)},
    },
    "beat window from 0.45 s before the R peak, the unhurried quarter's template beside, both over the P wave too": {
        "views": {"time": time_view(beat_before_s=0.45, sinus_template_quantile=0.75, pre_qrs_template=True)},
    },
    # rhythm context (TimeParams.rr_context_beats): the intervals around each beat against their own median
    # (BEATS carries 8 since 2026-12-02: the rows below with 8 are the comparison as it stands, measured
    # before it did; "no RR context" is the comparison before)
    "no RR context (the comparison before it)": {"views": {"time": time_view(rr_context_beats=0)}},
    "RR context: the 9 intervals before each beat and the 9 after it, against their median": {
        "views": {"time": time_view(rr_context_beats=8)}
    },
    "RR context: the 5 intervals before each beat and the 5 after it, against their median": {
        "views": {"time": time_view(rr_context_beats=4)}
    },
    "RR context, 17 intervals either side": {"views": {"time": time_view(rr_context_beats=16)}},
    "seed 1: RR context, 17 intervals either side": {"views": {"time": time_view(rr_context_beats=16)}, "seed": 1},
    "seed 1: RR context, 9 intervals either side": {"views": {"time": time_view(rr_context_beats=8)}, "seed": 1},
    "seed 1: RR context, 5 intervals either side": {"views": {"time": time_view(rr_context_beats=4)}, "seed": 1},
    "seed 2: RR context, 5 intervals either side": {"views": {"time": time_view(rr_context_beats=4)}, "seed": 2},
    "seed 2: RR context, 9 intervals either side": {"views": {"time": time_view(rr_context_beats=8)}, "seed": 2},
    # time encoder pooling (ModelConfig.time_segments): the convolved beat pooled over spans kept in order
    # instead of one mean over the window (1, the comparison as it stands: the "RR context: 9" rows above)
    "time encoder pooled over 4 spans of the beat window, in order": {"model": {"time_segments": 4}},
    "time encoder pooled over 8 spans of the beat window, in order": {"model": {"time_segments": 8}},
    "seed 1: time encoder pooled over 4 spans": {"model": {"time_segments": 4}, "seed": 1},
    "seed 2: time encoder pooled over 4 spans": {"model": {"time_segments": 4}, "seed": 2},
    "seed 1: time encoder pooled over 8 spans": {"model": {"time_segments": 8}, "seed": 1},
    "seed 2: time encoder pooled over 8 spans": {"model": {"time_segments": 8}, "seed": 2},
    # the rhythm strip (TimeParams.strip_fs): the 2 s context window at a low rate beside the beat window,
    # read by its own small CNN (ModelConfig.strip_segments): the neighbours' shapes and P waves
    "rhythm strip: the 2 s context at 90 Hz beside the beat": {"views": {"time": time_view(strip_fs=90.0)}},
    "seed 1: rhythm strip at 90 Hz": {"views": {"time": time_view(strip_fs=90.0)}, "seed": 1},
    "seed 2: rhythm strip at 90 Hz": {"views": {"time": time_view(strip_fs=90.0)}, "seed": 2},
    # neighbours' morphology: how usual the beats around each beat look (an input transform)
    "template context: the 4 beats either side against the record's median beat": {"inputs": template_context},
    "seed 1: template context, 4 beats either side": {"inputs": template_context, "seed": 1},
    "seed 2: template context, 4 beats either side": {"inputs": template_context, "seed": 2},
    # class weights (TrainConfig.class_weight_power): most of DS1's false S are 203's atrial flutter and
    # fibrillation beats; softer weights ask less of S sensitivity and more of its positive predictivity
    "class weights as the square root of inverse frequency": {"class_weight_power": 0.5},
    "seed 1: class weights as the square root of inverse frequency": {"class_weight_power": 0.5, "seed": 1},
    # model size (ModelConfig): the time encoder is small (about 38,000 parameters a member)
    "time encoder twice as wide (32 channels)": {"model": {"channels": 32}},
    "scalar MLP twice as wide (64)": {"model": {"scalar_dim": 64}},
    # the same rows with another seed (another fold assignment, initialisation and batch order): how far
    # the instrument's figures move when nothing changes
    "seed 1: the comparison as it stands": {"seed": 1},
    "seed 1: beat window from 0.45 s before the R peak": {"views": {"time": time_view(beat_before_s=0.45)}, "seed": 1},
    "seed 1: beat window from 0.6 s before the R peak": {"views": {"time": time_view(beat_before_s=0.6)}, "seed": 1},
    "seed 2: the comparison as it stands": {"seed": 2},
    "seed 2: beat window from 0.6 s before the R peak": {"views": {"time": time_view(beat_before_s=0.6)}, "seed": 2},
    # conduction swap (TrainConfig.conduction_swap): training S beats wear random N beats' shapes (waveform,
    # morphology scalars), keeping their own rhythm: a blocked shape stops being evidence of N
    "conduction swap: half the training S beats in each batch take an N beat's waveform and morphology": {
        "conduction_swap": ConductionSwap()
    },
    "seed 1: conduction swap, half": {"conduction_swap": ConductionSwap(), "seed": 1},
    "conduction swap: a quarter of the training S beats": {"conduction_swap": ConductionSwap(share=0.25)},
    "seed 1: conduction swap, a quarter": {"conduction_swap": ConductionSwap(share=0.25), "seed": 1},
    # patients' say within a class (TrainConfig.patient_balance): DS1's S beats are 40 % record 209's
    "patient balance 1: every patient the same say in each class": {"patient_balance": 1.0},
    "patient balance 0.5: a patient's rows of a class weigh its count of them to the power -0.5": {
        "patient_balance": 0.5
    },
    "seed 1: patient balance 1": {"patient_balance": 1.0, "seed": 1},
    "seed 1: patient balance 0.5": {"patient_balance": 0.5, "seed": 1},
    # the frequency variant's cost (--variant frequency): its Transformer's dropout masks are 40 % of a step
    "frequency Transformer without dropout inside its layers (the heads keep theirs)": {
        "model": {"attention_dropout": 0.0}
    },
    "seed 1: frequency Transformer without dropout inside its layers": {"model": {"attention_dropout": 0.0}, "seed": 1},
    # epoch budget with everything else as the comparison has it (10 epochs in `make bench-mitdb`)
    "15 epochs (cosine over 15)": {"epochs": 15},
    "seed 1: 15 epochs": {"epochs": 15, "seed": 1},
    # the weights' moving average scored and kept (TrainConfig.weight_average): flatter minima carry better to
    # unseen domains (SWAD, Cha et al. 2021), here unseen patients
    "weights averaged: their exponential moving average (decay 0.998 a step) scored and kept": {
        "weight_average": 0.998
    },
    "seed 1: weights averaged (0.998)": {"weight_average": 0.998, "seed": 1},
    # bfloat16 autocast in training on the CPU (TrainConfig.cpu_bf16; the time and spectrogram models): a
    # training step 1.5-1.8x faster on a Xeon with AMX. Does DS1 read the models it trains as the same?
    "bfloat16 training on the CPU (autocast; scoring in float32)": {"cpu_bf16": True},
    "seed 1: bfloat16 training on the CPU": {"cpu_bf16": True, "seed": 1},
    "seed 2: bfloat16 training on the CPU": {"cpu_bf16": True, "seed": 2},  # a third seed's members to average
    # the focal loss (TrainConfig.focal_gamma, ecgnet.losses): the gradient goes to the rows read wrong, which
    # for S are the beats whose shape says N (blocked records: DS1's 118 and 207, DS2's 232)
    "focal loss, gamma 2 (class-weighted)": {"focal_gamma": 2.0},
    "seed 1: focal loss, gamma 2": {"focal_gamma": 2.0, "seed": 1},
    # regularisation never ablated before (2026-12-04): AdamW's weight decay (1e-2) and the heads' dropout
    # (0.2) were the first values written; stronger ones might keep the network off patient-specific detail,
    # weaker ones let it fit more. Run with bfloat16 training, as make bench-mitdb trains time on a CPU with AMX
    # (ABLATIONS.md, "Regularisation, never ablated before": none taken)
    "weight decay 0.05 (bfloat16)": {"weight_decay": 0.05, "cpu_bf16": True},
    "seed 1: weight decay 0.05 (bfloat16)": {"weight_decay": 0.05, "cpu_bf16": True, "seed": 1},
    "dropout 0.4 (bfloat16)": {"model": {"dropout": 0.4}, "cpu_bf16": True},
    "seed 1: dropout 0.4 (bfloat16)": {"model": {"dropout": 0.4}, "cpu_bf16": True, "seed": 1},
    "no weight decay (bfloat16)": {"weight_decay": 0.0, "cpu_bf16": True},
    "seed 1: no weight decay (bfloat16)": {"weight_decay": 0.0, "cpu_bf16": True, "seed": 1},
    "dropout 0.1 (bfloat16)": {"model": {"dropout": 0.1}, "cpu_bf16": True},
    "seed 1: dropout 0.1 (bfloat16)": {"model": {"dropout": 0.1}, "cpu_bf16": True, "seed": 1},
    # AdamW's peak learning rate (1e-3, cosine to zero over the epochs), likewise never measured
    "learning rate 2e-3 (bfloat16)": {"lr": 2e-3, "cpu_bf16": True},
    "seed 1: learning rate 2e-3 (bfloat16)": {"lr": 2e-3, "cpu_bf16": True, "seed": 1},
    "learning rate 5e-4 (bfloat16)": {"lr": 5e-4, "cpu_bf16": True},
    "seed 1: learning rate 5e-4 (bfloat16)": {"lr": 5e-4, "cpu_bf16": True, "seed": 1},
    # the batch (256 rows): half of it takes twice the steps an epoch, with more gradient noise
    "batch size 128 (bfloat16)": {"batch_size": 128, "cpu_bf16": True},
    "seed 1: batch size 128 (bfloat16)": {"batch_size": 128, "cpu_bf16": True, "seed": 1},
    # the waveform augmentation (ecgnet.augment: gain, wander, noise, shift) was measured on the five-class
    # model of 2026-11-30 only, before the template and the RR context; the issue names it: again on this one
    "waveform augmentation: gain, wander, noise, shift (bfloat16)": {"augment": AugmentConfig(), "cpu_bf16": True},
    "seed 1: waveform augmentation (bfloat16)": {"augment": AugmentConfig(), "cpu_bf16": True, "seed": 1},
    # mixup (TrainConfig.mixup): rows and their losses mixed within each batch, lam ~ Beta(0.2, 0.2)
    "mixup, alpha 0.2 (bfloat16)": {"mixup": 0.2, "cpu_bf16": True},
    "seed 1: mixup, alpha 0.2 (bfloat16)": {"mixup": 0.2, "cpu_bf16": True, "seed": 1},
    # the rarest class out of the loss (TrainConfig.min_class_rows): DS1's 8 Q beats carry, under inverse-frequency
    # weights, the loss of all 45,813 N beats; 96-183 beats out of fold are read as Q (2026-12-05 rows)
    "classes with under 100 training rows out of the loss (Q; bfloat16)": {"min_class_rows": 100, "cpu_bf16": True},
    "seed 1: classes with under 100 training rows out of the loss (bfloat16)": {
        "min_class_rows": 100,
        "cpu_bf16": True,
        "seed": 1,
    },
    # folds by class mix (ComparisonConfig.stratify_folds): dealt at random, one fold can hold most of DS1's S
    # beats (record 209 has 383 of 943) or every bundle-branch-blocked record with S beats at once, so a
    # member trains or stops early without them; scikit-learn's StratifiedGroupKFold places whole patients
    # so every fold's class mix stays near DS1's (its folds are the same for every seed here: no ties)
    "folds stratified by class mix (bfloat16)": {"stratify_folds": True, "cpu_bf16": True},
    "seed 1: folds stratified by class mix (bfloat16)": {"stratify_folds": True, "cpu_bf16": True, "seed": 1},
    # shape dropout (TrainConfig.shape_dropout): a share of the training beats of every class show their
    # rhythm only (waveform flat, morphology scalars at their means), so the rhythm has to answer alone for
    # them, where the conduction swap gave S beats N shapes; aimed at the blocked records' S beats read as N
    "shape dropout: 30 % of the training beats show their rhythm only (bfloat16)": {
        "shape_dropout": ShapeDropout(),
        "cpu_bf16": True,
    },
    "seed 1: shape dropout, 30 % (bfloat16)": {"shape_dropout": ShapeDropout(), "cpu_bf16": True, "seed": 1},
    "shape dropout: 15 % of the training beats (bfloat16)": {
        "shape_dropout": ShapeDropout(share=0.15),
        "cpu_bf16": True,
    },
    "seed 1: shape dropout, 15 % (bfloat16)": {
        "shape_dropout": ShapeDropout(share=0.15),
        "cpu_bf16": True,
        "seed": 1,
    },
    # the RR columns on a log scale (log_rr), as the RR context is
    "RR columns as log2 (bfloat16)": {"inputs": log_rr, "cpu_bf16": True},
    "seed 1: RR columns as log2 (bfloat16)": {"inputs": log_rr, "cpu_bf16": True, "seed": 1},
    # the beat's own intervals read monotonically (ModelConfig.monotone_rhythm): its prematurity against each
    # record reference can only argue for S or V, and the rest of the network no longer sees them
    "monotone rhythm: prematurity against each reference, non-negative weights for S and V": {
        "model": {"monotone_rhythm": "additive"}
    },
    "seed 1: monotone rhythm": {"model": {"monotone_rhythm": "additive"}, "seed": 1},
    "monotone rhythm, its weights gated by the beat's embedding (still non-negative)": {
        "model": {"monotone_rhythm": "gated"}
    },
    "seed 1: monotone rhythm, gated": {"model": {"monotone_rhythm": "gated"}, "seed": 1},
    # the boosted reference (--variant classical_trees) with each class's trees constrained in the beat's
    # RR columns (BoostingConfig.monotone_rhythm): earlier can only argue for S and V, and against N
    "boosted trees one class against the rest, monotone in the RR columns (earlier: more S and V, less N)": {
        "model": {"boosting": BoostingConfig(monotone_rhythm=True)}
    },
    # training rows added: S-majority copies of the training patients' S-rich records
    "S-majority copies of training records added": {"train_stress": "thinned"},
    "S-runs copies of training records added (thinned, re-timed: S runs at the usual pace, N after pauses)": {
        "train_stress": "runs"
    },
    "S-runs copies of training records added, a quarter of them (every fourth row of each record)": {
        "train_stress": "runs",
        "train_stress_share": 0.25,
    },
    # task spec changes ("spec"): BEATS trains on S-dominant-reference copies since 2026-12-01 (ecgnet.stress)
    "no S-dominant-reference training copies (the comparison before them)": {"spec": {"reference_stress": None}},
}


def development(folder: Path) -> tuple[TaskData, BeatRows]:
    """DS1 alone as the development rows (train and validation of every fold; test is empty), and
    the beats they were computed from."""
    ds1 = {r for r, (_, split) in mitdb_table().items() if split in BEATS.splits.train}
    beats = read_beats(folder, records=ds1)
    return _task_data(beats), beats


def s_majority(beats: BeatRows, min_s: int = 50, s_share: float = 0.75) -> BeatRows:
    """Every DS1 record with at least `min_s` S beats, thinned of N beats (evenly over the record)
    until S is `s_share` of what is left; other records are left out."""
    keep = []
    for record in np.unique(beats.record_id):
        rows = np.flatnonzero(beats.record_id == record)
        s_rows, n_rows = rows[beats.label[rows] == "S"], rows[beats.label[rows] == "N"]
        if len(s_rows) < min_s:
            continue
        n_keep = int(round(len(s_rows) * (1 - s_share) / s_share))
        picked = n_rows[np.linspace(0, len(n_rows) - 1, min(n_keep, len(n_rows))).round().astype(int)]
        keep.append(np.sort(np.concatenate([rows[beats.label[rows] != "N"], picked])))
    return _take(beats, np.concatenate(keep))


def s_runs(beats: BeatRows, min_s: int = 50, s_share: float = 0.75, pause: float = 1.8) -> BeatRows:
    """`s_majority`'s records re-timed as the MIT-BIH directory describes DS2's 232 (sinus bradycardia,
    long pauses, atrial premature beats in runs), which neither stress above is: every S beat comes the
    record's usual N-N interval (median) after the beat before it, so S beats in a run sit at the usual
    pace with no pause after them; every N beat comes after a pause of `pause` times that interval;
    other beats keep their own preceding interval. The beats stay in their record order; each keeps its
    waveform window as recorded (the 0.25 s before its R peak may still hold a premature beat's
    neighbour, which the new timing would have moved)."""
    thinned = s_majority(beats, min_s, s_share)
    prev, nxt, r_peak = (
        np.asarray(a, np.float64).copy() for a in (thinned.rr_prev_s, thinned.rr_next_s, thinned.r_peak)
    )
    for record in np.unique(thinned.record_id):
        rows = np.flatnonzero(thinned.record_id == record)
        rows = rows[np.argsort(thinned.r_peak[rows], kind="stable")]
        label = thinned.label[rows]
        usual = float(np.nanmedian(beats.rr_prev_s[(beats.record_id == record) & (beats.label == "N")]))
        new = np.where(label == "S", usual, np.where(label == "N", pause * usual, prev[rows]))
        new = np.where(np.isfinite(new), new, usual)  # a first beat's unknown interval: the usual one
        prev[rows] = new
        nxt[rows] = np.append(new[1:], usual)
        r_peak[rows] = r_peak[rows[0]] + np.round(np.concatenate([[0.0], np.cumsum(new[1:])]) * thinned.fs)
    return replace(
        thinned,
        rr_prev_s=prev.astype(thinned.rr_prev_s.dtype),
        rr_next_s=nxt.astype(thinned.rr_next_s.dtype),
        r_peak=r_peak.astype(thinned.r_peak.dtype),
    )


def _take(beats: BeatRows, rows: np.ndarray) -> BeatRows:
    """`beats` at `rows` (in that order, repeats allowed): every per-beat array indexed alike."""
    arrays = {f.name: getattr(beats, f.name) for f in dataclasses.fields(beats)}
    return replace(beats, **{name: a[rows] for name, a in arrays.items() if isinstance(a, np.ndarray)})


def stress_rows(beats: BeatRows, kind: str, spec: TaskSpec = BEATS, **shape: Any) -> Split:
    """The rows a stress test scores: "thinned" (`s_majority`), "runs" (`s_runs`) or "references": every
    record with at least `min_s` S beats, whole, each beat read against record-level references (RR
    mean, median and 90th percentile, the median beat) computed as if S were `s_share` of the record,
    exactly as the training copies are (`ecgnet.stress.reference_copies`): every beat keeps its own
    intervals and neighbours (the thinned copies lose them: a beat whose N neighbour was removed gets a
    long interval), and so its rhythm context. `shape`: `min_s`, `s_share` (and the runs' `pause`).
    Waveforms are standardised as `beats`' are, whatever the stress adds or removes."""
    if kind in ("thinned", "runs"):
        stressed = (s_majority if kind == "thinned" else s_runs)(beats, **shape)
        return _task_data(stressed, spec, stats_from=beats, copies=False).val
    min_s, s_share = shape.get("min_s", 50), shape.get("s_share", 0.75)
    # views of the records reference_copies keeps (it picks them by the same rule) only: they cost
    rich = [r for r in np.unique(beats.record_id) if (beats.label[beats.record_id == r] == "S").sum() >= min_s]
    plain = _task_data(_take(beats, np.flatnonzero(np.isin(beats.record_id, rich))), spec, beats, copies=False).val
    stress = ReferenceStress("S", share=s_share, min_beats=min_s)
    return reference_copies(plain, spec.classes, beat_references(beats, spec), stress)


def _task_data(
    beats: BeatRows, spec: TaskSpec = BEATS, stats_from: BeatRows | None = None, copies: bool = True
) -> TaskData:
    """The development rows of `beats` as the comparison has them, with the spec's training copies
    (`ecgnet.stress`; `copies=False`: none, for rows that are only scored)."""
    views, _ = beat_views(beats, numpy_backend(), spec, stats_from)
    order = np.argsort(beats.ids, kind="stable")
    features = {v: {c: a[order] for c, a in cols.items()} for v, cols in views.items()}
    labels = [[label] for label in beats.label[order].tolist()]
    dev = labelled_split(features, labels, beats.ids[order], beats.patient_id[order], spec)
    extra = None
    if copies and spec.reference_stress is not None:
        extra = reference_copies(dev, spec.classes, beat_references(beats, spec), spec.reference_stress)
    return TaskData(spec, dev, dev, dev.take(np.arange(0)), {}, extra)


def waveform_views(split: Split, shift: int = 3, gain: float = 0.1) -> list[Split]:
    """Test-time augmentation's copies of `split`: as it is, its time waveforms moved `shift` samples
    either way (edges repeat, as ecgnet.augment's training shift does) and scaled by 1 -+ `gain`; every
    other input as it is. A split without time waveforms has only itself."""
    wave = split.x.get("time", {}).get("waveform")
    if wave is None:
        return [split]
    n = wave.shape[-1]
    moved = [wave[..., np.clip(np.arange(n) + s, 0, n - 1)] for s in (-shift, shift)]
    scaled = [(wave * (1 + g)).astype(wave.dtype, copy=False) for g in (-gain, gain)]
    return [split] + [
        dataclasses.replace(split, x={**split.x, "time": {**split.x["time"], "waveform": w}}) for w in moved + scaled
    ]


def tta_probs(model: nn.Module, split: Split) -> np.ndarray:
    """The mean of the model's probabilities over `waveform_views(split)`."""
    return np.mean([predict_probs(model, view, False) for view in waveform_views(split)], axis=0)


def cross_validate(
    variant: str,
    dev: TaskData,
    cfg: ComparisonConfig,
    k: int,
    stress: Split | None = None,
    train_extra: Split | None = None,
    tta: np.ndarray | None = None,
) -> tuple[np.ndarray, list[float], np.ndarray | None]:
    """Out-of-fold probabilities and the held-out-fold headlines; with `stress`, each member also
    scores the stress rows of its held-out patients (out of fold too). `train_extra`: rows added to each
    fold's training rows where they belong to its training patients (never to its held-out ones). `tta`:
    filled with the same members' out-of-fold probabilities under test-time augmentation (`tta_probs`)."""
    oof, per_fold = np.zeros((len(dev.val), len(dev.classes)), np.float32), []
    stressed = None if stress is None else np.zeros((len(stress.y), len(dev.classes)), np.float32)
    for i, fold in enumerate(folds(dev, k, cfg.train.seed, stratify=cfg.stratify_folds), 1):
        started, data = time.perf_counter(), fold.data
        if train_extra is not None:
            mine = np.flatnonzero(np.isin(train_extra.groups, data.train.groups))
            data = dataclasses.replace(data, train=data.train.join(train_extra.take(mine)))
        model, _, _ = fit_variant(VARIANTS[variant], data, cfg, None, None, None)
        oof[fold.rows] = predict_probs(model, fold.data.val, False)
        if tta is not None:
            tta[fold.rows] = tta_probs(model, fold.data.val)
        per_fold.append(headline(dev.spec)(oof[fold.rows], fold.data.val.y))
        patients = ", ".join(fold.patients())
        # a row takes minutes: say where it is
        print(
            f"  fold {i}/{k} (held out: {patients}): {per_fold[-1]:.3f} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        if stress is not None:
            held = np.flatnonzero(np.isin(stress.groups, fold.data.val.groups))
            if len(held):  # a fold whose held-out patients have no S-rich record has none to score
                assert stressed is not None  # made above whenever stress is
                stressed[held] = predict_probs(model, stress.take(held), False)
    return oof, per_fold, stressed


def _evenly(n: int, share: float) -> np.ndarray:
    """`share` of range(n), spread evenly (rows come record by record, so every record keeps its share)."""
    return np.unique(np.linspace(0, n - 1, max(int(round(n * share)), 1)).round().astype(int)) if n else np.arange(0)


def figures(probs: np.ndarray, dev: TaskData, y: np.ndarray | None = None) -> dict[str, float]:
    y = dev.val.y if y is None else y
    return {"headline": headline(dev.spec)(probs, y), **aami(probs, y, dev.classes, dev.spec.focus_classes)}


def false_s_by_record(probs: np.ndarray, dev: TaskData, top: int = 8) -> list[dict]:
    """The records whose beats are most often read as S out of fold when they are not S (what S +P
    loses), each with how many, its share of all of them, and their own classes."""
    s = dev.classes.index("S")
    records = beat_positions(dev.val.ids)[0]
    false = (probs.argmax(axis=1) == s) & (dev.val.y != s)
    rows: list[dict] = []
    for record in np.unique(records[false]):
        mine = false & (records == record)
        truth = np.bincount(dev.val.y[mine], minlength=len(dev.classes))
        rows.append(
            {
                "record": str(record),
                "false_s": int(mine.sum()),
                "share": float(mine.sum() / max(false.sum(), 1)),
                "of_class": {c: int(n) for c, n in zip(dev.classes, truth) if n},
                "record_beats": int((records == record).sum()),
            }
        )
    return sorted(rows, key=lambda r: -r["false_s"])[:top]


def per_record_s(
    probs: np.ndarray, dev: TaskData, folder: Path, min_s: int = 20, scored: Split | None = None
) -> list[dict]:
    """Out-of-fold S sensitivity per DS1 record with at least `min_s` S beats, beside the share of its
    N-class beats that are bundle-branch blocks (annotation symbols L and R): where S is lost. `scored`:
    the rows `probs` are for when they are not the development rows (a stress test's)."""
    import wfdb

    scored = dev.val if scored is None else scored
    s = dev.classes.index("S")
    records = beat_positions(scored.ids)[0]
    is_s, said_s = scored.y == s, probs.argmax(axis=1) == s
    rows = []
    for record in sorted(set(records.tolist())):
        mine = records == record
        if is_s[mine].sum() < min_s:
            continue
        symbols = np.array(wfdb.rdann(str(folder / record), "atr").symbol)
        n_class = np.isin(symbols, ["N", "L", "R", "e", "j"])
        bbb = float(np.isin(symbols[n_class], ["L", "R"]).mean()) if n_class.any() else 0.0
        rows.append(
            {
                "record": record,
                "s_beats": int(is_s[mine].sum()),
                "s_share": float(is_s[mine].mean()),
                "s_se": float((is_s & said_s)[mine].sum() / is_s[mine].sum()),
                "n_bbb_share": bbb,
            }
        )
    return rows


def row_metrics(row: dict) -> dict[str, float]:
    """A harness row's figures as flat MLflow metrics: cv_mean, cv_sd, then each block's figures under its
    name (oof_headline, offsets_se_S, tta_pp_V, s_majority_...) and each S-rich record's out-of-fold S
    sensitivity (s_se_record_207)."""
    out = {"cv_mean": row["cv"][0], "cv_sd": row["cv"][1]}
    for block, prefix in (("raw", "oof"), ("offsets", "offsets"), ("tta", "tta"), ("s_majority", "s_majority")):
        out |= {f"{prefix}_{k}": v for k, v in row.get(block, {}).items()}
    out |= {f"s_se_record_{r['record']}": r["s_se"] for r in row.get("per_record_s", [])}
    return out


def log_row(
    tracker: Tracker, row: dict, cfg: ComparisonConfig, dev: TaskData, args: argparse.Namespace, saved: dict[str, Path]
) -> str:
    """The row in MLflow (Tracker.log_ablation): its settings, figures, the row itself as JSON and the
    out-of-fold probabilities `saved` under --save-oof."""
    with tempfile.TemporaryDirectory() as tmp:
        as_json = Path(tmp) / "row.json"
        as_json.write_text(json.dumps(row, indent=1))
        run_id = tracker.log_ablation(
            dev.spec.name,
            row["ablation"],
            cfg,
            row_metrics(row),
            params={"variant": args.variant, "folds": args.folds, "beats": len(dev.val), "mitdb": str(args.mitdb)},
            files={"row": as_json, **saved},
            seconds=row["seconds"],
        )
    tracker.describe_run(run_id, row_note(row, args.variant, args.folds))
    tracker.describe_experiment(dev.spec.name, EXPERIMENT_NOTE, kind="ablations")
    return run_id


EXPERIMENT_NOTE = """### DS1 ablations of the MIT-BIH comparison
Each run is one row of `python -m benchmarks.ablations`: one training change, measured by cross-validation
by patient over the 22 DS1 patients. DS2 is never read here. Add the columns `cv_mean`, `oof_headline`,
`oof_se_S`, `oof_pp_S`, `oof_se_V` and `oof_pp_V` to set rows side by side; two rows' out-of-fold files
(`NN.npz`) are compared patient-paired by `python -m benchmarks.paired_rows`. The README's ablation table
and `benchmarks/ABLATIONS.md` say what was decided from them."""


def row_note(row: dict, variant: str, folds: int) -> str:
    """A row's run description: the change and its DS1 figures, as the harness prints them."""
    raw = row["raw"]
    figures = "; ".join(
        f"{name} {raw[key]:.3f}"
        for key, name in _NOTE_FIGURES
        if math.isfinite(raw.get(key, math.nan))  # an undefined figure (no such beats) is left out
    )
    return (
        f"### {row['ablation']}\n{variant} variant, {folds} folds by patient over DS1 (DS2 not read), "
        f"{row['seconds']:.0f} s.\n\n- held-out folds: {row['cv'][0]:.3f} ± {row['cv'][1]:.3f}\n"
        f"- pooled out of fold: {figures}"
    )


_NOTE_FIGURES = (("headline", "headline"), ("accuracy", "accuracy"), ("se_S", "S Se"), ("pp_S", "S +P"),
                 ("se_V", "V Se"), ("pp_V", "V +P"))  # fmt: skip


def save_oof(folder: Path, name: str, probs: np.ndarray, dev: TaskData) -> Path:
    """A row's out-of-fold probabilities as the next NN.npz in `folder` (what benchmarks.paired_rows reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{len(list(folder.glob('*.npz'))):02d}.npz"
    np.savez_compressed(
        path,
        ablation=name,
        probs=probs,
        y=dev.val.y,
        ids=dev.val.ids.astype(str),
        groups=dev.val.groups.astype(str),
        classes=np.array(dev.classes),
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, default=MITDB)
    parser.add_argument("--variant", default="time")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--only", nargs="*", default=None, help="ablation names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="append each row here as a JSON line")
    parser.add_argument("--stress", action="store_true", help="also score S-majority copies of held-out records")
    parser.add_argument(
        "--stress-kind",
        choices=("thinned", "references", "runs"),
        default="thinned",
        help="S-majority by thinning N beats, by S copies in the record's references only, or thinned and "
        "re-timed: S beats in runs at the usual pace, N beats after pauses",
    )
    parser.add_argument(
        "--per-record",
        action="store_true",
        help="out-of-fold S sensitivity of each S-rich record, and the records whose beats are read as S wrongly",
    )
    parser.add_argument(
        "--save-oof", type=Path, default=None, help="write each row's out-of-fold probabilities here (NN.npz)"
    )
    parser.add_argument(
        "--tta",
        action="store_true",
        help="also score each row's members with test-time augmentation (shifted and scaled waveforms, "
        "probabilities averaged): a line of its own, and its own file under --save-oof",
    )
    parser.add_argument(
        "--mlflow",
        type=Path,
        default=None,
        metavar="HOME",
        help="also log each row as a run of the 'ecgnet-beats-ablations' experiment in this workspace's MLflow "
        "store (MITDB_HOME puts it beside make bench-mitdb's comparisons; MLFLOW_TRACKING_URI wins)",
    )
    parser.add_argument("--list", action="store_true", help="print every row's name and stop")
    args = parser.parse_args()
    if args.list:
        print("\n".join(ABLATIONS))
        return
    tracker = None
    if args.mlflow is not None:
        tracker = Tracker.for_workspace(Workspace(args.mlflow.resolve()), validate_models=False)
    start = time.perf_counter()
    base, beats = development(args.mitdb)
    stress = stress_rows(beats, args.stress_kind) if args.stress else None
    print(
        f"DS1 only: {len(base.val):,} beats of {len(set(base.val.groups.tolist()))} patients, "
        f"{args.folds} folds by patient; variant {args.variant} ({time.perf_counter() - start:.0f} s to read)",
        flush=True,
    )
    head = [f"CV {base.spec.metric_key}", "OOF", "acc", "S Se", "S +P", "V Se", "V +P"]
    for name, change in ABLATIONS.items():
        if args.only and not any(o in name for o in args.only):
            continue
        row_change = RowChange.of(change)
        inputs, views, spec_change = row_change.inputs, row_change.views, row_change.spec
        train_stress = row_change.train_stress
        dev, stress_in = base, stress
        if views or spec_change:
            spec = replace(BEATS, view_params={**BEATS.view_params, **(views or {})}, **spec_change)
            dev = _task_data(beats, spec)
            stress_in = stress_in if stress is None or not views else stress_rows(beats, args.stress_kind, spec)
        if inputs:
            moved = inputs(dev.val)  # on top of a view change where the row has both
            extra = None if dev.extra is None else inputs(dev.extra)
            dev = TaskData(dev.spec, moved, moved, base.test, {}, extra)  # folds() takes train and val as one
            stress_in = None if stress_in is None else inputs(stress_in)
        # the held-out patients' stress rows are already these (same views): not computed again
        extra = None
        if train_stress:
            same = stress_in is not None and args.stress_kind == train_stress
            extra = stress_in if same else stress_rows(beats, train_stress, dev.spec)
            assert extra is not None  # `same` holds only where stress_in is not None
            extra = extra if same or not inputs else inputs(extra)
            extra = extra.take(_evenly(len(extra.y), row_change.train_stress_share))
        train_cfg = replace(TrainConfig(epochs=args.epochs, device="cpu"), **row_change.train)
        model_cfg = replace(ModelConfig(), **row_change.model)
        cfg = ComparisonConfig(train=train_cfg, model=model_cfg, stratify_folds=row_change.stratify_folds)
        t0 = time.perf_counter()
        tta = np.zeros((len(dev.val), len(dev.classes)), np.float32) if args.tta else None
        oof, per_fold, stressed = cross_validate(args.variant, dev, cfg, args.folds, stress_in, extra, tta)
        raw = figures(oof, dev)
        crossed = cross_fit_offsets(oof, dev.val.y, dev.val.groups, dev.spec.metric_labels, seed=train_cfg.seed)
        decided = figures(crossed, dev)
        row = {
            "ablation": name,
            "cv": [float(np.mean(per_fold)), float(np.std(per_fold))],
            "raw": raw,
            "offsets": decided,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        shown = [("argmax", raw), ("offsets", decided)]
        if tta is not None:
            row["tta"] = with_tta = figures(tta, dev)
            shown.append(("TTA", with_tta))
        if stressed is not None:
            assert stress_in is not None  # cross_validate scores stress rows only where it is given them
            row["s_majority"] = s_majority_figures = figures(stressed, dev, stress_in.y)
            shown.append(("S-majority", s_majority_figures))
        print(f"\n{name} ({row['seconds']:.0f} s)")
        print(f"  {'':10s}" + "".join(f"{h:>14s}" for h in head))
        for label, f in shown:
            cells = [f"{np.mean(per_fold):.3f} ± {np.std(per_fold):.3f}" if label == "argmax" else ""]
            cells += [f"{f[k]:.3f}" for k in ("headline", "accuracy", "se_S", "pp_S", "se_V", "pp_V")]
            print(f"  {label:10s}" + "".join(f"{c:>14s}" for c in cells), flush=True)
        if args.per_record:
            row["per_record_s"] = by_record = per_record_s(oof, dev, args.mitdb)
            stressed_s = {}
            if stressed is not None:
                row["per_record_s_stressed"] = by_record_stressed = per_record_s(
                    stressed, dev, args.mitdb, scored=stress_in
                )
                stressed_s = {r["record"]: r["s_se"] for r in by_record_stressed}
            print("  record  S beats  S share  S Se (OOF)  N beats that are BBB  S Se (stressed)")
            for r in by_record:
                record_cells = f"{r['s_beats']:8d} {r['s_share']:8.3f} {r['s_se']:11.3f} {r['n_bbb_share']:10.2f}"
                stressed_cell = f"{stressed_s[r['record']]:17.3f}" if r["record"] in stressed_s else ""
                print(f"  {r['record']:>6s} {record_cells}{stressed_cell}")
            for label, bbb in (("N beats bundle-branch blocks", True), ("the other S-rich records", False)):
                group = [r for r in by_record if (r["n_bbb_share"] > 0.5) == bbb]
                found = sum(r["s_se"] * r["s_beats"] for r in group) / max(sum(r["s_beats"] for r in group), 1)
                mine = [stressed_s[r["record"]] * r["s_beats"] for r in group if r["record"] in stressed_s]
                under = [r["s_beats"] for r in group if r["record"] in stressed_s]
                also = f"; stressed {sum(mine) / sum(under):.3f}" if under else ""
                print(f"  pooled S Se, {label} ({len(group)} records): {found:.3f}{also}")
            row["false_s"] = false_s = false_s_by_record(oof, dev)
            print("  beats read as S that are not (out of fold), by record:")
            for r in false_s:
                truth = ", ".join(f"{n} {c}" for c, n in r["of_class"].items())
                print(f"  {r['record']:>6s} {r['false_s']:6d} ({r['share']:.0%}; {truth}; {r['record_beats']} beats)")
        saved = {}
        if args.save_oof:
            saved["probabilities"] = save_oof(args.save_oof, name, oof, dev)
            if tta is not None:
                saved["tta"] = save_oof(args.save_oof, f"{name} + test-time augmentation", tta, dev)
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
        if tracker is not None:
            log_row(tracker, row, cfg, dev, args, saved)


if __name__ == "__main__":
    main()
