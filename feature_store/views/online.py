"""One new record as a task input, shaped exactly like the rows a view was computed from."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..beat_ids import beat_ids
from ..config import ingest_from_env
from ..sources.annotated import beat_windows, read_annotations, read_beats, rr_intervals
from ..sources.base import clock
from ..sources.errors import EveryLeadFlat
from ..sources.leads import lead_notes, pick_leads
from ..sources.wfdb_record import LEAD_OFF_S, WfdbSignal, declared_size, flat_note, read_wfdb
from ..tasks import BeatWindows, RecordWindows, task_named, tasks_reading
from ..transforms.dropouts import blind_mask, clear_windows, dropout_mask, first_clear, lead_masks, resampled_mask, runs
from ..transforms.resample import rate_ratio, resample, rescale_samples
from ..transforms.rhythm import detect_beats
from .catalog import ViewInput
from .inputs import KEY_SCHEMA, TaskInput

log = logging.getLogger(__name__)
# a record at least this long (an hour) is followed step by step in the log: a day-long Holter takes a minute to
# read and score, and two more when its beats must be detected (GQRS on one core: 5.0 s for an hour of
# MIT-BIH records end to end at 360 Hz, 8.9 s for two; 2026-12-07, Intel Xeon)
LONG_RECORD_S = 3600.0
REFRACTORY_S = 0.2  # two R peaks closer than this are one beat found in two leads
DETECT_CONTEXT_S = 10.0  # s of the second lead read either side of the first one's dropout to find beats in
# s a beats section is read beyond its own span either side: the detector's context before its first beat
# (`DETECT_CONTEXT_S`), and room for a beat's context window and for rate conversion's reach
BEAT_MARGIN_S = DETECT_CONTEXT_S + 2.0
BEAT_SECTION_MIN_S = 60.0  # s a beats section holds at least (its reads over the limit are refused with the fix)


@dataclass(frozen=True)
class Section:
    """Frames [start, stop) of a record over `IngestConfig.max_record_values`, whose rows are made from the
    frames `read` (the section and margins either side, so that rate conversion reaches none of its rows from
    an edge: a row's length, or `BEAT_MARGIN_S` for beats); `index` of `count` sections."""

    start: int
    stop: int
    read: tuple[int, int]
    fs: float  # frames per second (the header's rate)
    index: int
    count: int

    def span(self, *, fs: float, native_fs: float) -> tuple[int, int]:
        """The section's [start, stop) as samples at `fs` of its read (`native_fs`: the rate of the record's
        samples as stored, a multiple of the frame rate in a multi-frequency record)."""
        per_frame = round(native_fs / self.fs) * fs / native_fs
        return int(round((self.start - self.read[0]) * per_frame)), int(round((self.stop - self.read[0]) * per_frame))

    def window_starts(self, n: int, *, fs: float, native_fs: float, read: int) -> tuple[np.ndarray, int]:
        """The first samples (at `fs`, in the `read` samples of `self.read`) of the section's whole windows of
        `n` samples, laid end to end from the record's start; and where the read starts in the record as
        stored (samples at `native_fs`)."""
        per_frame, to_rows = round(native_fs / self.fs), fs / native_fs
        first = self.span(fs=fs, native_fs=native_fs)[0]
        count = int((self.stop - self.start) * per_frame * to_rows // n)
        starts = first + np.arange(count, dtype=np.int64) * n
        return starts[starts + n <= read], self.read[0] * per_frame

    def said(self) -> str:
        return f"section {self.index + 1} of {self.count} ({clock(self.start / self.fs)}-{clock(self.stop / self.fs)})"


def record_sections(path: Path, task: str) -> list[Section] | None:
    """How `predict` reads a record over `IngestConfig.max_record_values` (ECGNET_MAX_RECORD_VALUES) instead
    of refusing it; None where it is read whole (within the limit). A rhythm task's windows (af), laid end to
    end from the record's start, section by section, each section a whole number of windows, so that the
    rows are the rows of the whole record (a 14-day patch in the memory of its sections); the records task's
    one row, the first stretch clear of dropouts, looked for section by section (`predict` stops at the
    first that holds one: a section is read with a row more after it and margins either side, so the row is
    the whole read's); a beats task's beats, found and read section by section against the whole record's
    rhythm and median beat (`sectioned_beats`), each section read with `BEAT_MARGIN_S` either side."""
    window = task_named(task).window
    cfg, size = ingest_from_env(), declared_size(path)
    if size.values <= cfg.max_record_values or not size.frames:
        return None
    frames = size.frames
    if isinstance(window, BeatWindows):
        # sections start where rate conversion lines up with the whole record's (`rate_ratio`)
        align = rate_ratio(size.fs, cfg.beat_fs).denominator
        before = after = -(-int(np.ceil(BEAT_MARGIN_S * size.fs)) // align) * align
        least = -(-int(np.ceil(BEAT_SECTION_MIN_S * size.fs)) // align) * align  # a limit too low to hold margins
        step = max(least, (size.frames_within(cfg.max_record_values) - 2 * before) // align * align)
        starts = range(0, frames, step)
    else:
        row = window.duration_s * size.fs  # frames
        if not float(row).is_integer():
            return None  # a rate without whole frames a row: read whole, or refused by the reader
        row = int(row)
        if window.rhythm_windows:
            step = max(row, size.frames_within(cfg.max_record_values) // 2 // row * row)  # room for the margins
            before, after = row, row
        else:  # a row may start anywhere in its section, so a row more is read after it; the margins see a held lead
            before = int(np.ceil(LEAD_OFF_S * size.fs))
            step, after = max(row, size.frames_within(cfg.max_record_values) - row - 2 * before), row + before
        starts = range(0, max(1, frames - row + 1), step)  # the last section ends with the record: no section of none
    stops = [*starts[1:], frames]
    return [
        Section(a, b, (max(0, a - before), min(frames, b + after)), size.fs, i, len(starts))
        for i, (a, b) in enumerate(zip(starts, stops))
    ]


class NothingClear(ValueError):
    """No row of a record (or of a section of one) is clear of its dropouts."""


def record_input(path: Path, spec: ViewInput, *, task: str, section: Section | None = None) -> TaskInput:
    """Read and validate `path` (a WFDB record), then shape it like the rows `spec` describes. A record
    with dropouts (runs of invalid samples, as ICU recorders write for a lead off) is scored around
    them: no row whose window touches one in a lead the task reads, no RR interval across one.
    `section` (`record_sections`): the rows of that section of a record too long to read whole."""
    start = time.perf_counter()
    cfg = ingest_from_env()  # the rates and size limit ingest reads with
    # a section's lead may be flat through it (an electrode off for a day of a patch): left out there
    try:
        sig = read_wfdb(path, cfg, frames=None if section is None else section.read, keep_dropouts=True)
    except EveryLeadFlat as err:
        if section is None:
            raise
        raise NothingClear(f"{section.said()}: every lead flat throughout (the recorder off)") from err
    hours = sig.signal.shape[1] / sig.fs / 3600
    long = hours * 3600 >= LONG_RECORD_S
    if long:
        log.info(
            "%s: %.1f h at %g Hz, %d lead(s), read in %.0f s%s",
            path,
            hours,
            sig.fs,
            len(sig.lead_names),
            time.perf_counter() - start,
            "" if section is None else f" ({section.said()})",
        )
    signal, fs = resample(sig.signal, fs=sig.fs, target_fs=spec.fs)
    try:
        leads, notes = task_leads(sig.lead_names, task, path, sig.flat_leads)
    except ValueError as err:
        if section is None or not sig.flat_leads:
            raise
        raise NothingClear(f"{section.said()}: lead(s) {list(sig.flat_leads)} flat throughout") from err
    if sig.flat_leads:  # an electrode off the whole record is worth saying, read or not
        notes = [flat_note(sig.flat_leads, cfg), *notes]
    signal = signal[leads]
    spoiled = spoiled_by(sig, [sig.lead_names[i] for i in leads], fs, signal.shape[1])
    if spoiled is not None and section is None:  # a section says how many of its windows one reached
        notes = [*notes, spoiled.said]
    if spec.unit == "record":
        result = _record(sig.record_id, signal, fs, spec, task, native_fs=sig.fs, spoiled=spoiled, section=section)
        result.notes, result.record_fs, result.record_start = notes + result.notes, sig.fs, sig.recorded_at
        return result
    annotated = path.with_name(path.name + ".atr").is_file()
    native = np.asarray(read_beats(read_annotations(path), sig.fs)[0] if annotated else [], dtype=np.int64)
    seen_in = sig.lead_names  # the leads the R peaks were found in: an annotator reads them all
    masks = dropout_masks(sig, signal.shape[1], fs)
    if len(native):
        r_peak = rescale_samples(native, fs=sig.fs, target_fs=fs)
    else:  # no .atr, or one without beats (an AF database's rhythm changes): the R peaks are detected
        if long:
            log.info("%s: no beat annotations; detecting the beats of its %.1f h (GQRS, minutes)", path, hours)
        r_peak, seen_in = detected_beats(signal, fs, [sig.lead_names[i] for i in leads], masks)
        native = np.round(np.asarray(r_peak) * sig.fs / fs).astype(np.int64)
        notes = [*notes, detected_note(path, annotated, len(r_peak), seen_in)]
    blind = blind_mask([masks.get(lead) for lead in seen_in])
    result = _beats(sig.record_id, signal, r_peak, native, fs, spec, task, spoiled=spoiled, blind=blind)
    result.notes, result.record_fs, result.record_start = notes + result.notes, sig.fs, sig.recorded_at
    if long:
        log.info("%s: %d beats; making their features", path, len(result.keys))
    return result


def dropout_masks(sig: WfdbSignal, n_samples: int, fs: float) -> dict[str, np.ndarray]:
    """Per lead of `sig` with dropouts, where they reach in its signal resampled to `fs` (`n_samples` long)."""
    return lead_masks({lead: sig.dropout_spans([lead]) for lead in sig.lead_names}, n_samples, fs=sig.fs, target_fs=fs)


def detected_note(path: Path, annotated: bool, count: int, seen_in: list[str]) -> str:
    """What a record whose beats were detected says of them (`detected_beats`' leads `seen_in`)."""
    why = f"{path}.atr holds no beat annotation" if annotated else f"{path} has no .atr"
    where = seen_in[0] + (f", and in {seen_in[1]} where {seen_in[0]} is out" if len(seen_in) > 1 else "")
    return f"{why}: its beats are the {count} R peaks detected (GQRS) in {where}"


def detected_beats(
    signal: np.ndarray, fs: float, leads: list[str], masks: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, list[str]]:
    """R peaks of the task's first lead (`detect_beats`), and where a dropout takes that lead out (`masks`:
    per lead with one, where its dropouts reach at `fs`), those of its second lead there, so that the beats
    inside are found and the intervals around them measured; and the leads they were found in."""
    r_peak = detect_beats(signal[0], fs)
    out = masks.get(leads[0])
    if len(leads) < 2 or out is None:
        return r_peak, leads[:1]
    other = masks.get(leads[1], np.zeros(signal.shape[1], bool))
    # the second lead is read around the first one's dropouts only, with enough of it either side for the
    # detector to learn its thresholds from beats: a day-long Holter's few dropouts cost seconds, not minutes
    around = dropout_mask(np.array(runs(out), np.int64), signal.shape[1], margin=int(DETECT_CONTEXT_S * fs))
    found = [detect_beats(signal[1, a:b], fs) + a for a, b in runs(around)]
    inside = np.concatenate(found)
    inside = inside[out[inside] & ~other[inside]]
    merged = np.sort(np.concatenate([r_peak[~out[r_peak]], inside]))
    keep = np.concatenate([[True], np.diff(merged) > REFRACTORY_S * fs])  # one beat where both leads found it
    return merged[keep], leads[:2]


@dataclass(frozen=True)
class Spoiled:
    """The samples (at the rows' rate) that the record's dropouts in the task's leads reach, and how
    that was said."""

    mask: np.ndarray  # (samples,) bool
    what: str  # how many, in which leads, how long
    where: Path  # the record

    @property
    def said(self) -> str:
        return f"{self.what}: rows that touch one are not scored"


def spoiled_by(sig: WfdbSignal, leads: list[str], fs: float, n_samples: int) -> Spoiled | None:
    """Where the dropouts of `leads` lie at the rows' rate `fs`, widened by how far resampling spreads a
    sample (its stand-in line must not reach a row); None when those leads have none."""
    own = [d for d in sig.dropouts if d.lead in leads]
    if not own:
        return None
    lengths = [(d.stop - d.start) / sig.fs for d in own]
    what = (
        f"{len(own)} dropout(s) in {', '.join(sorted({d.lead for d in own}))} (invalid samples, "
        f"{sum(lengths):.2f} s in all, the longest {max(lengths):.2f} s)"
    )
    return Spoiled(resampled_mask(sig.dropout_spans(leads), n_samples, fs=sig.fs, target_fs=fs), what, sig.path)


def task_leads(names: list[str], task: str, path: Path, flat: tuple[str, ...] = ()) -> tuple[list[int], list[str]]:
    """The record's leads that fill the task's slots, by name; a clear refusal when one is missing (`flat`:
    those the reader left out as flat, named as such)."""
    slots = task_named(task).window.leads
    picked = pick_leads(slots, names)
    if picked is None:
        wanted = "; ".join(s.name + (f" (or {', '.join(s.substitutes)})" if s.substitutes else "") for s in slots)
        lacking = [s for s in slots if pick_leads((s,), names) is None]
        was_flat = [s.name for s in lacking if any(pick_leads((s,), [lead]) is not None for lead in flat)]
        absent = [s.name for s in lacking if s.name not in was_flat]
        said = ", ".join(absent) + (" and " if absent and was_flat else "")
        said += f"{', '.join(was_flat)} (flat: left out)" if was_flat else ""
        others = tasks_reading(names, but=task)
        raise ValueError(
            f"{path}: the {task} model reads leads {wanted}; the record has {names}, "
            + (f"without {said}" if lacking else "too few to fill every one")
            + "; fix: score a record with those leads (a model trained on other leads reads them wrong)"
            + (", or check the flat leads' electrodes" if was_flat else "")
            + (f"; its leads serve the {' and '.join(others)} task (--task {others[0]})" if others else "")
        )
    return picked, lead_notes(slots, names, picked)


def _record(
    record_id: str,
    signal: np.ndarray,
    fs: float,
    spec: ViewInput,
    task: str,
    *,
    native_fs: float,
    spoiled: Spoiled | None = None,
    section: Section | None = None,
) -> TaskInput:
    """The record's first `spec.samples` (its leads already picked in slot order), zero-padded; where
    they touch a dropout, the first stretch that does not. Where the task's rows are rhythm windows (af)
    and the record holds two or more, every whole window instead, laid end to end from its start (what is
    left at the end is not scored; a window that touches a dropout neither), each `<record>@<first
    sample>` with that sample in the record as stored: a Holter's rhythm over time, as episodes were cut.
    `section`: `signal` holds the frames `section.read`; the rows are the whole windows of the section."""
    window, n = task_named(task).window, spec.samples
    rhythm = isinstance(window, RecordWindows) and window.rhythm_windows
    if section is not None and rhythm:  # a section of a record long enough to be read in sections
        starts, offset = section.window_starts(n, fs=fs, native_fs=native_fs, read=signal.shape[1])
        if not len(starts):
            raise NothingClear(f"{section.said()}: no whole window")
        return _laid_windows(record_id, signal, starts, fs, spec, task, native_fs, spoiled, section, offset)
    windows = rhythm and signal.shape[1] >= 2 * n
    if not windows:
        start, notes = _clear_start(n, fs, spoiled, section, native_fs)
        x = np.zeros((1, len(spec.lead_names), n), np.float32)
        sel = signal[:, start : start + n]
        x[0, :, : sel.shape[1]] = sel
        return TaskInput(task, online_keys([record_id], record_id), x, fs, list(spec.lead_names), "record", notes=notes)
    starts = np.arange(0, signal.shape[1] - n + 1, n)
    return _laid_windows(record_id, signal, starts, fs, spec, task, native_fs, spoiled)


def _laid_windows(
    record_id: str,
    signal: np.ndarray,
    starts: np.ndarray,
    fs: float,
    spec: ViewInput,
    task: str,
    native_fs: float,
    spoiled: Spoiled | None,
    section: Section | None = None,
    offset: int = 0,
) -> TaskInput:
    """The rows of the windows of `spec.samples` from `starts` (samples of `signal`, at `fs`) that touch no
    dropout, each named by its first sample in the record as stored (`offset`: where `signal` starts there)."""
    n, notes = spec.samples, []
    if spoiled is not None:
        clear = clear_windows(spoiled.mask, starts, n)
        if not clear.any():
            if section is None:
                raise _nothing_clear(n, fs, spoiled)
            raise NothingClear(f"{section.said()}: every window touches a dropout")
        where = "" if section is None else f"{section.said()}: "
        notes.append(
            f"{where}{int((~clear).sum())} of {len(starts)} windows of {n / fs:g} s touch a dropout: not scored"
        )
        starts = starts[clear]
    x = np.ascontiguousarray(signal[:, starts[:, None] + np.arange(n)].transpose(1, 0, 2))
    native = offset + np.round(starts * native_fs / fs).astype(np.int64)
    ids = [f"{record_id}@{s}" for s in native.tolist()]
    return TaskInput(
        task, online_keys(ids, record_id), x, fs, list(spec.lead_names), "record", starts=native, notes=notes
    )


def _clear_start(
    n: int, fs: float, spoiled: Spoiled | None, section: Section | None = None, native_fs: float = 0.0
) -> tuple[int, list[str]]:
    """Where a record's one row starts: at 0, or past the dropouts its first `n` samples touch. In a
    `section` (its read at `fs`, the record stored at `native_fs`), the first clear start within it."""
    lo, hi = (0, None) if section is None else section.span(fs=fs, native_fs=native_fs)
    start = lo
    if spoiled is not None and spoiled.mask[lo : lo + n].any():
        found = first_clear(spoiled.mask[lo : None if hi is None else hi + n - 1], n)
        if found is None or (hi is not None and lo + found >= hi):
            if section is None:
                raise _nothing_clear(n, fs, spoiled)
            raise NothingClear(f"{section.said()}: no {n / fs:g} s clear of dropouts start there")
        start = lo + found
    at = start / fs + (0.0 if section is None else section.read[0] / section.fs)
    if at == 0:
        return start, []
    return start, [f"the row is the first {n / fs:g} s clear of dropouts, from {at:.2f} s"]


def _nothing_clear(n: int, fs: float, spoiled: Spoiled) -> ValueError:
    return NothingClear(
        f"{spoiled.where}: no {n / fs:g} s of the leads the model reads are clear of dropouts ({spoiled.what}); "
        "fix: score a recording with a stretch that long without invalid samples, or repair the gaps in the source"
    )


def _beats(
    record_id: str,
    signal: np.ndarray,
    r_peak: np.ndarray,
    native: np.ndarray,
    fs: float,
    spec: ViewInput,
    task: str,
    *,
    spoiled: Spoiled | None = None,
    blind: np.ndarray | None = None,
) -> TaskInput:
    """Beat rows of one record; `native`: each R peak's sample index in the record as stored. A beat whose
    context window touches a dropout is marked not `scored`; an interval across a stretch where its beats
    could not be seen (`blind`: every lead they were found in is out) is unknown (NaN, as the first beat's
    preceding one: the rhythm features read it as the record's mean)."""
    windows, fits = beat_windows(signal, r_peak, spec.samples)
    rr_prev, rr_next = rr_intervals(r_peak, fs, blind)
    notes, scored = [], None
    if spoiled is not None:
        # a beat that touches a dropout stays a row until its neighbours' features are made (their rhythm
        # context, the record's median beat), then is dropped (FeatureStore.online)
        scored = clear_windows(spoiled.mask, r_peak - spec.samples // 2, spec.samples)[fits]
        if fits.any() and not scored.any():
            raise ValueError(
                f"{spoiled.where}: every one of its {len(scored)} beats touches a dropout ({spoiled.what}); fix: score "
                "a recording whose leads the model reads hold beats clear of invalid samples, or repair the gaps"
            )
        unknown = int(np.isnan(rr_prev[1:]).sum())  # intervals across a stretch no beat could be seen in
        notes.append(
            f"{int((~scored).sum())} of {len(scored)} beats touch a dropout: not scored; {unknown} RR "
            "interval(s) across one in every lead the beats were found in count as unknown"
        )
    rows = (r_peak[fits], rr_prev[fits], rr_next[fits], native[fits])
    return beat_input(record_id, task, spec, windows, fs, *rows, notes=notes, scored=scored)


def beat_input(
    record_id: str,
    task: str,
    spec: ViewInput,
    windows: np.ndarray,
    fs: float,
    r_peak: np.ndarray,
    rr_prev: np.ndarray,
    rr_next: np.ndarray,
    sample: np.ndarray,
    **more: Any,
) -> TaskInput:
    """The beat rows of a record's beats (their context `windows` at `fs`, R peaks at `fs`, intervals in s
    with NaN unknown, each R peak's `sample` in the record as stored); `more`: TaskInput's other fields."""
    beats = pl.DataFrame(
        {"record_id": record_id, "r_peak": r_peak, "rr_prev_s": rr_prev, "rr_next_s": rr_next, "sample": sample}
    ).fill_nan(None)
    keys = online_keys(beat_ids(record_id, r_peak.tolist()), record_id)
    return TaskInput(task, keys, windows, fs, list(spec.lead_names), "beat", crop=spec.crop, beats=beats, **more)


def online_keys(ids: list[str], record_id: str) -> pl.DataFrame:
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
