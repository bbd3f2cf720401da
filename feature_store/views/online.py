"""One new record as a task input, shaped exactly like the rows a view was computed from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..beat_ids import beat_ids
from ..config import IngestConfig
from ..sources.annotated import beat_windows, read_annotations, read_beats, rr_intervals
from ..sources.leads import lead_notes, pick_leads
from ..sources.wfdb_record import read_wfdb
from ..tasks import RecordWindows, task_named
from ..transforms.resample import resample, rescale_samples
from ..transforms.rhythm import detect_beats
from .catalog import ViewInput
from .inputs import KEY_SCHEMA, TaskInput


def record_input(path: Path, spec: ViewInput, *, task: str) -> TaskInput:
    """Read and validate `path` (a WFDB record), then shape it like the rows `spec` describes."""
    sig = read_wfdb(path, IngestConfig())
    signal, fs = resample(sig.signal, fs=sig.fs, target_fs=spec.fs)
    leads, notes = _task_leads(sig.lead_names, task, path)
    signal = signal[leads]
    if spec.unit == "record":
        result = _record(sig.record_id, signal, fs, spec, task, native_fs=sig.fs)
        result.notes = notes
        return result
    annotated = path.with_name(path.name + ".atr").is_file()
    native = np.asarray(read_beats(read_annotations(path))[0] if annotated else [], dtype=np.int64)
    if len(native):
        r_peak = rescale_samples(native, fs=sig.fs, target_fs=fs)
    else:  # no .atr, or one without beats (an AF database's rhythm changes): the R peaks are detected
        r_peak = detect_beats(signal[0], fs)
        native = np.round(np.asarray(r_peak) * sig.fs / fs).astype(np.int64)
        why = f"{path}.atr holds no beat annotation" if annotated else f"{path} has no .atr"
        notes = [*notes, f"{why}: its beats are the {len(r_peak)} R peaks detected (GQRS)"]
    result = _beats(sig.record_id, signal, r_peak, native, fs, spec, task)
    result.notes = notes
    return result


def _task_leads(names: list[str], task: str, path: Path) -> tuple[list[int], list[str]]:
    """The record's leads that fill the task's slots, by name; a clear refusal when one is missing."""
    slots = task_named(task).window.leads
    picked = pick_leads(slots, names)
    if picked is None:
        wanted = "; ".join(s.name + (f" (or {', '.join(s.substitutes)})" if s.substitutes else "") for s in slots)
        lacking = [s.name for s in slots if pick_leads((s,), names) is None]
        raise ValueError(
            f"{path}: the {task} model reads leads {wanted}; the record has {names}, "
            + (f"without {', '.join(lacking)}" if lacking else "too few to fill every one")
            + "; fix: score a record with those leads (a model trained on other leads reads them wrong)"
        )
    return picked, lead_notes(slots, names, picked)


def _record(
    record_id: str, signal: np.ndarray, fs: float, spec: ViewInput, task: str, *, native_fs: float
) -> TaskInput:
    """The record's first `spec.samples` (its leads already picked in slot order), zero-padded. Where the
    task's rows are rhythm windows (af) and the record holds two or more, every whole window instead, laid
    end to end from its start (what is left at the end is not scored), each `<record>@<first sample>`
    with that sample in the record as stored: a Holter's rhythm over time, as episodes were cut."""
    window, n = task_named(task).window, spec.samples
    windows = isinstance(window, RecordWindows) and window.rhythm_windows and signal.shape[1] >= 2 * n
    if not windows:
        x = np.zeros((1, len(spec.lead_names), n), np.float32)
        sel = signal[:, :n]
        x[0, :, : sel.shape[1]] = sel
        return TaskInput(task, _keys([record_id], record_id), x, fs, list(spec.lead_names), "record")
    starts = np.arange(0, signal.shape[1] - n + 1, n)
    x = np.ascontiguousarray(signal[:, starts[:, None] + np.arange(n)].transpose(1, 0, 2))
    native = np.round(starts * native_fs / fs).astype(np.int64)
    ids = [f"{record_id}@{s}" for s in native.tolist()]
    return TaskInput(task, _keys(ids, record_id), x, fs, list(spec.lead_names), "record", starts=native)


def _beats(
    record_id: str, signal: np.ndarray, r_peak: np.ndarray, native: np.ndarray, fs: float, spec: ViewInput, task: str
) -> TaskInput:
    """Beat rows of one record; `native`: each R peak's sample index in the record as stored."""
    windows, fits = beat_windows(signal, r_peak, spec.samples)
    rr_prev, rr_next = rr_intervals(r_peak, fs)
    beats = pl.DataFrame(
        {
            "record_id": record_id,
            "r_peak": r_peak[fits],
            "rr_prev_s": rr_prev[fits],
            "rr_next_s": rr_next[fits],
            "sample": native[fits],
        }
    ).fill_nan(None)
    ids = beat_ids(record_id, r_peak[fits].tolist())
    return TaskInput(
        task, _keys(ids, record_id), windows, fs, list(spec.lead_names), "beat", crop=spec.crop, beats=beats
    )


def _keys(ids: list[str], record_id: str) -> pl.DataFrame:
    n = len(ids)
    return pl.DataFrame(
        {
            "entity_id": ids,
            "record_id": [record_id] * n,
            "patient_id": [record_id] * n,
            "split": ["online"] * n,
            "labels": [[] for _ in range(n)],
            "recorded_at": [None] * n,
        },
        schema=KEY_SCHEMA,
    )
