"""A beats task over a record too long to read whole (`predict` on a multi-day patch or a 12-lead Holter
over `IngestConfig.max_record_values`): the record is read section by section three times, in the memory
of one section. First every beat is found (from the .atr, or detected), with where dropouts reach; then
the context windows of the beats its median beat is taken over are cut; then each section's beats are
made into rows read against the whole record's rhythm and median beat. The rows are a whole read's where
the beats are annotated; detected, a borderline beat may go otherwise (GQRS scales a section by its own
typical QRS), found as well over MIT-BIH (the README's "Beyond the limit")."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import IngestConfig, ingest_from_env
from ..sources.annotated import beat_windows, read_annotations, read_beats, rr_intervals
from ..sources.wfdb_record import WfdbSignal, declared_size, read_wfdb
from ..transforms.dropouts import blind_mask, clear_windows, intervals_across_runs, run_bounds
from ..transforms.resample import rate_ratio, resample, resampled_length, rescale_samples
from ..transforms.template import template_picks
from .catalog import ViewInput
from .inputs import RecordBeats, TaskInput
from .online import (
    REFRACTORY_S,
    NothingClear,
    Section,
    beat_input,
    detected_beats,
    detected_note,
    dropout_masks,
    spoiled_by,
    task_leads,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Read:
    """One section's read, as its rows are made: the task's leads at the rows' rate."""

    sig: WfdbSignal
    signal: np.ndarray  # (task leads, samples) at `fs`
    fs: float
    leads: list[str]  # the record's leads that fill the task's slots
    offset: int  # where the read starts in the record, samples at `fs`
    span: tuple[int, int]  # the section's own [start, stop) in the read
    notes: list[str]

    def owns(self, r_peak: np.ndarray) -> np.ndarray:
        """Which of `r_peak` (the record's, at `fs`) lie in the section's own span."""
        return (r_peak >= self.offset + self.span[0]) & (r_peak < self.offset + self.span[1])


def _read(path: Path, spec: ViewInput, task: str, section: Section, cfg: IngestConfig) -> _Read:
    # a lead flat through a section (an electrode off for hours) is that lead's dropout there, as in ingest's windows
    sig = read_wfdb(path, cfg, frames=section.read, keep_dropouts=True, flat_as_dropout=True)
    signal, fs = resample(sig.signal, fs=sig.fs, target_fs=spec.fs)
    leads, notes = task_leads(sig.lead_names, task, path)
    offset = int(round(section.read[0] * round(sig.fs / section.fs) * fs / sig.fs))
    if sig.flat_leads:
        notes = [*notes, f"{section.said()}: lead(s) {list(sig.flat_leads)} flat throughout: kept as a dropout there"]
    names = [sig.lead_names[i] for i in leads]
    return _Read(sig, signal[leads], fs, names, offset, section.span(fs=fs, native_fs=sig.fs), notes)


@dataclass(frozen=True)
class _Found:
    """One section's beats as the first read finds them (samples in the record, at the rows' rate)."""

    r_peak: np.ndarray
    sample: np.ndarray  # the R peak in the record as stored
    clear: np.ndarray  # no dropout in a lead the task reads reaches the beat's window
    blind: np.ndarray  # (k, 2) runs of the section where every lead the beats were found in is out
    seen_in: list[str]  # the leads the beats were found in
    spoiled: set[str]  # the task's leads with a dropout in the read


def _found(read: _Read, native: np.ndarray, width: int) -> _Found:
    """The beats of `read`'s own span: the annotated ones (`native`, in the record as stored), or, without
    any, those detected in the read (with the refractory reach past its edges: the read either side may
    find an edge's beat a sample or two apart, and `record_beats` keeps one)."""
    sig, fs, n = read.sig, read.fs, read.signal.shape[1]
    masks = dropout_masks(sig, n, fs)
    if len(native):
        every = rescale_samples(native, fs=sig.fs, target_fs=fs)
        own = read.owns(every)
        r_peak, sample, seen_in = every[own], native[own], sig.lead_names
    else:
        local, seen_in = detected_beats(read.signal, fs, read.leads, masks)
        reach = int(REFRACTORY_S * fs)
        r_peak = local + read.offset
        r_peak = r_peak[(r_peak >= read.offset + read.span[0] - reach) & (r_peak < read.offset + read.span[1] + reach)]
        sample = np.round(r_peak * sig.fs / fs).astype(np.int64)
    spoiled = spoiled_by(sig, read.leads, fs, n)
    clear = np.ones(len(r_peak), bool)
    if spoiled is not None:
        clear = clear_windows(spoiled.mask, r_peak - read.offset - width // 2, width)
    blind = np.zeros((0, 2), np.int64)
    if (out := blind_mask([masks.get(lead) for lead in seen_in])) is not None:
        starts, stops = run_bounds(out[read.span[0] : read.span[1]])  # its own span: a read's edges may differ
        blind = np.stack([starts, stops], axis=1) + read.offset + read.span[0]
    lost = {d.lead for d in sig.dropouts if d.lead in read.leads} if spoiled is not None else set()
    return _Found(r_peak, sample, clear, blind, list(seen_in), lost)


def record_beats(
    path: Path, spec: ViewInput, task: str, sections: list[Section], quantiles: tuple[float, ...]
) -> RecordBeats:
    """Every beat of a record read in `sections` (`online.record_sections`), as a whole read's rows would
    hold them, and the context windows of those its median beats (one per `quantiles`, as
    `template.template_quantiles` names them) are made of."""
    cfg, size = ingest_from_env(), declared_size(path)
    annotated = path.with_name(path.name + ".atr").is_file()
    native: np.ndarray | None = None  # the .atr's beats, read once the rate of the samples is known
    parts: list[_Found] = []
    notes: list[str] = []
    for section in sections:
        read = _read(path, spec, task, section, cfg)
        if native is None:
            native = np.asarray(read_beats(read_annotations(path), read.sig.fs)[0] if annotated else [], np.int64)
        parts.append(_found(read, native, spec.samples))
        notes += read.notes
        how = "annotated" if len(native) else "detected"
        log.info(
            "%s: %s: %d beats %s (1 of 3 reads: the record's beats)", path, section.said(), len(parts[-1].r_peak), how
        )
    assert native is not None  # sections are never none
    sig, fs = read.sig, read.fs
    order = np.argsort(np.concatenate([f.r_peak for f in parts]), kind="stable")
    r_peak, sample, clear = (
        np.concatenate([getattr(f, k) for f in parts])[order] for k in ("r_peak", "sample", "clear")
    )
    if not len(native):  # a beat near a section's edge found by the reads either side is one
        read_by = np.repeat(np.arange(len(parts)), [len(f.r_peak) for f in parts])[order]
        again = (np.diff(r_peak) <= REFRACTORY_S * fs) & (np.diff(read_by) != 0)
        keep = ~np.concatenate([[False], again])
        r_peak, sample, clear = r_peak[keep], sample[keep], clear[keep]
        seen_in = max((f.seen_in for f in parts), key=len)  # the second lead where any section needed it
        notes.append(detected_note(path, annotated, len(r_peak), seen_in))
    rr_prev, rr_next = rr_intervals(r_peak, fs)
    across = intervals_across_runs(np.concatenate([f.blind for f in parts]), r_peak)
    rr_prev[1:][across], rr_next[:-1][across] = np.nan, np.nan
    total = resampled_length((size.frames or 0) * round(sig.fs / size.fs), rate_ratio(sig.fs, fs))
    start = r_peak - spec.samples // 2
    fits = (start >= 0) & (start + spec.samples <= total)
    spoiled = sorted(set().union(*(f.spoiled for f in parts)))
    scored = clear[fits] if spoiled else None
    if scored is not None:
        if fits.any() and not scored.any():
            raise ValueError(
                f"{path}: every one of its {len(scored)} beats touches a dropout in {spoiled}; fix: score a "
                "recording whose leads the model reads hold beats clear of invalid samples, or repair the gaps"
            )
        notes.append(
            f"{int((~scored).sum())} of {len(scored)} beats touch a dropout in {', '.join(spoiled)}: not scored; "
            f"{int(across.sum())} RR interval(s) across one in every lead the beats were found in count as unknown"
        )
    no_picks = np.zeros((0, len(spec.lead_names), spec.samples), np.float32)
    beats = RecordBeats(
        r_peak[fits],
        sample[fits],
        rr_prev[fits],
        rr_next[fits],
        scored,
        np.zeros(0, np.int64),
        no_picks,
        list(dict.fromkeys(notes)),
    )
    if not quantiles:  # no view reads the beats against their record's median beat
        return beats
    picks = template_picks(np.arange(len(beats.r_peak)), beats.rr_prev_s, beats.clear, quantiles)
    return _with_picks(path, spec, task, sections, beats, np.unique(np.concatenate(picks)), cfg)


def _with_picks(
    path: Path,
    spec: ViewInput,
    task: str,
    sections: list[Section],
    beats: RecordBeats,
    rows: np.ndarray,
    cfg: IngestConfig,
) -> RecordBeats:
    """`beats` with the context windows of `rows`, cut section by section from the signal the rows are."""
    windows = np.zeros((len(rows), len(spec.lead_names), spec.samples), np.float32)
    at = beats.r_peak[rows]
    for section in sections:
        read = _read(path, spec, task, section, cfg)
        own = np.flatnonzero(read.owns(at))
        log.info("%s: %s: %d of its median beats' beats (2 of 3 reads)", path, section.said(), len(own))
        if len(own):
            windows[own] = beat_windows(read.signal, at[own] - read.offset, spec.samples)[0]
    return replace(beats, pick_rows=rows, pick_signal=windows)


def section_beats(path: Path, spec: ViewInput, task: str, section: Section, record: RecordBeats) -> TaskInput:
    """The beat rows of one section of a record too long to read whole, read against `record` (its beats
    as `record_beats` found them): the whole read's rows of that section."""
    read = _read(path, spec, task, section, ingest_from_env())
    a, b = np.searchsorted(record.r_peak, [read.offset + read.span[0], read.offset + read.span[1]])
    if a == b:
        raise NothingClear(f"{section.said()}: no beat")
    scored = None if record.clear is None else record.clear[a:b]
    if scored is not None and not scored.any():
        raise NothingClear(f"{section.said()}: every beat touches a dropout")
    r_peak = record.r_peak[a:b]
    log.info("%s: %s: %d beats; making their features (3 of 3 reads)", path, section.said(), b - a)
    windows, fits = beat_windows(read.signal, r_peak - read.offset, spec.samples)
    assert fits.all()  # the section is read with margins wider than a beat's window
    rows = (r_peak, record.rr_prev_s[a:b], record.rr_next_s[a:b], record.sample[a:b])
    return beat_input(
        read.sig.record_id,
        task,
        spec,
        windows,
        read.fs,
        *rows,
        scored=scored,
        record_fs=read.sig.fs,
        record_start=read.sig.recorded_at,
        record=replace(record, first=int(a)),
    )
