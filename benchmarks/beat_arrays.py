"""The beats task's training data straight from an annotated WFDB folder, without the feature store.

The lent GPU machines have CuPy, torch, SciPy and scikit-learn but no polars (its 54 MB wheel does
not fit beside the MIT-BIH pack in what one call may carry), so the GPU training check cannot go
through ingest -> Parquet views -> `load_task_data`. This module makes the same rows the same way
from the same functions: the beat source's windows and RR intervals, the task's other-class
exclusion, train statistics fitted on the train splits, each family's array part (`array_features`,
on the given backend) and the RR columns, rows ordered by entity id as `training_set` orders them,
then `labelled_split` and `task_data`. tests/test_beat_arrays.py checks on the bundled sample that
the result equals what the store path gives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgnet.data import Split, TaskData, labelled_split, task_data
from feature_store.backend import Backend
from feature_store.config import IngestConfig
from feature_store.sources.annotated import AnnotatedBeatSource
from feature_store.sources.base import RecordRef
from feature_store.sources.errors import RecordError
from feature_store.sources.leads import pick_leads
from feature_store.tasks import BEATS, TaskSpec, view_name
from feature_store.views.compute import array_features, lead_stats
from feature_store.views.families import FAMILIES, BeatReferences, beat_columns, template_geometry


@dataclass
class BeatRows:
    """Every kept beat of a folder, in ingest's order (record, then R peak)."""

    ids: np.ndarray  # "<record>:<r_peak>", as the raw store names beats
    record_id: np.ndarray
    patient_id: np.ndarray
    split: np.ndarray
    label: np.ndarray
    r_peak: np.ndarray
    rr_prev_s: np.ndarray
    rr_next_s: np.ndarray
    windows: np.ndarray  # (beats, leads, context samples) float32, mV
    fs: float
    crop: tuple[int, int]


def read_beats(
    folder: Path, spec: TaskSpec = BEATS, cfg: IngestConfig | None = None, *, records: set[str] | None = None
) -> BeatRows:
    """The beats of every annotated record in `folder` that ingest would land (paced records are
    excluded, as there), of the task's classes, with the task's number of leads; only the named
    `records` when given (the others' files are not opened)."""
    cfg, parts = cfg or IngestConfig(), []
    for hea in sorted(folder.glob("*.hea")):
        if records is not None and hea.stem not in records:
            continue
        ref = RecordRef("annotated", hea.with_suffix(""), folder)
        try:
            landed = AnnotatedBeatSource().load(ref, cfg)
        except RecordError:
            continue  # quarantined or excluded by ingest too
        row, b = landed.record, landed.beats
        assert b is not None  # an annotated record lands with its beats (or raises RecordError)
        leads = pick_leads(spec.window.leads, row.lead_names)
        if leads is None:
            continue  # the task's "missing_leads" exclusion
        n = len(b.r_peak)
        read = {row.lead_names[i] for i in leads}  # load_beats' "dropouts" exclusion: none in a lead it reads
        clear = np.array([not read & set(marked) for marked in b.dropout_leads] or [True] * n, bool)
        parts.append(
            {
                "clear": clear,
                "ids": np.array([f"{row.record_id}:{r}" for r in b.r_peak.tolist()]),
                "record_id": np.full(n, row.record_id),
                "patient_id": np.full(n, row.patient_id),
                "split": np.full(n, row.split),
                "label": np.asarray(b.label),
                "r_peak": b.r_peak,
                "rr_prev_s": b.rr_prev_s,
                "rr_next_s": b.rr_next_s,
                "windows": b.windows[:, leads],
            }
        )
    if not parts:
        raise ValueError(f"{folder}: no annotated records with beats; fix: point at a MIT-BIH style folder")
    joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    keep = np.isin(joined["label"], spec.classes) & joined.pop("clear")  # the task's "other_class" exclusion too
    return BeatRows(**{k: v[keep] for k, v in joined.items()}, fs=cfg.beat_fs, crop=cfg.beat_span())


def beat_views(
    beats: BeatRows, backend: Backend, spec: TaskSpec = BEATS, stats_from: BeatRows | None = None
) -> tuple[dict, dict[str, float]]:
    """view -> column -> (beats, ...) for the three families, and the seconds each family took. The
    per-lead standardisation is fitted on the train rows of `stats_from` (default: `beats`): rows made
    for a stress test are scaled as the rows the models were trained on."""
    fitted = beats if stats_from is None else stats_from
    train = np.isin(fitted.split, spec.splits.train)
    views, seconds = {}, {}
    for family, fam in FAMILIES.items():
        start, params = time.perf_counter(), spec.view_params[family]
        stats = lead_stats(fitted.windows[train], fs=fitted.fs, pre=params.preprocess, backend=backend)
        columns = array_features(
            fam, beats.windows, fs=beats.fs, params=params, stats=stats, crop=beats.crop, backend=backend
        )
        if family == "time":
            columns |= beat_columns(
                columns["waveform"],
                beats.record_id,
                beats.r_peak,
                beats.rr_prev_s,
                beats.rr_next_s,
                context=beats.windows.shape[-1],
                crop=beats.crop,
                fs_in=beats.fs,
                fs=params.preprocess.fs or beats.fs,
                params=params,
            )
        backend.synchronize()
        views[view_name(spec.name, family)], seconds[family] = columns, time.perf_counter() - start
    return views, seconds


def beat_references(beats: BeatRows, spec: TaskSpec = BEATS) -> BeatReferences:
    """How `beat_views` reads these beats against their records (what a stored view's catalog entry
    says through `feature_store.views.store.beat_references`)."""
    params = spec.view_params["time"]
    fs = params.preprocess.fs or beats.fs
    centre, half = template_geometry(beats.windows.shape[-1], beats.crop, fs_in=beats.fs, fs=fs, params=params)
    return BeatReferences(params, centre, half)


def beat_task_data(beats: BeatRows, views: dict, spec: TaskSpec = BEATS, seed: int = 0) -> TaskData:
    """Train / val / test as `load_task_data` makes them from the stored views."""
    order = np.argsort(beats.ids, kind="stable")  # training_set aligns rows by sorted entity id

    def split(names: tuple[str, ...]) -> Split:
        rows = order[np.isin(beats.split[order], names)]
        features = {v: {c: a[rows] for c, a in cols.items()} for v, cols in views.items()}
        labels = [[label] for label in beats.label[rows].tolist()]
        return labelled_split(features, labels, beats.ids[rows], beats.patient_id[rows], spec)

    rule = spec.splits
    return task_data(spec, split(rule.train), split(rule.val), split(rule.test), {}, seed=seed)
