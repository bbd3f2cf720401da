"""Annotated databases (MIT-BIH style `.atr`): one row per annotated beat, and the rhythm episodes of
AF databases.

Each beat keeps a context window centred on its R peak; beats whose window would cross a record
edge, or reach a dropout (a run of invalid samples too long to interpolate, as a Holter writes while a
lead is off) in every lead, are counted on the record row (`edge_beat_labels`), so every annotated beat is
accounted for. A beat that reaches a dropout in some leads is stored with them marked (`dropout_leads`: a
task that reads one leaves it out); an RR interval is unknown (NaN) only across a stretch where every lead
is out. Rhythm episodes are stored whole, with the record's dropouts (the af task leaves out the windows
that reach one in its lead).
An `.atr` of rhythm changes only (AFDB) lands its record with episodes and no beat. A record's row keeps
its signal only where it has episodes (what the af task cuts windows from); its beats hold the rest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import IngestConfig
from ..transforms.dropouts import blind_mask, clear_windows, intervals_across, lead_masks, runs
from ..transforms.resample import rate_ratio, resample, resampled_length, rescale_samples
from .base import BeatBatch, Landed, RecordRef, clock
from .canonical import RecordRow, base_row
from .edf_record import declaring_file
from .errors import EveryLeadFlat, RecordError
from .rhythm_labels import RHYTHM_CODES, cpsc_start_rhythm, cpsc_statement, rhythm_changes, rhythm_spans
from .splits import assign, mitdb_extract_of
from .wfdb_record import DeclaredSize, WfdbSignal, declared_size, read_wfdb

if TYPE_CHECKING:
    import wfdb

# AAMI EC57 classes from MIT-BIH beat symbols (de Chazal et al. 2004).
AAMI = {
    "N": "N",
    "L": "N",
    "R": "N",
    "e": "N",
    "j": "N",
    "A": "S",
    "a": "S",
    "J": "S",
    "S": "S",
    "V": "V",
    "E": "V",
    "F": "F",
    "/": "Q",
    "f": "Q",
    "Q": "Q",
}
_END_MARK = bytes(2)  # MIT annotation format: the last two bytes of every file


def read_annotations(path: Path, annotator: str = "atr") -> wfdb.Annotation:
    """The record's annotations (`<path>.<annotator>`: its reference, `.atr`), read by wfdb only once the
    file ends as an annotation file does."""
    import wfdb  # here: as the records' readers (feature_store.sources.wfdb_record)

    atr = Path(f"{path}.{annotator}")
    try:
        if not _cut_short(atr):
            return wfdb.rdann(str(path), annotator)
    except (ValueError, OSError, IndexError) as err:
        raise RecordError(
            "annotation_unreadable", f"{atr}: annotations cannot be read ({err}); fix: restore the .{annotator} file"
        ) from err
    raise RecordError(
        "annotation_unreadable",
        f"{atr}: does not end with the WFDB end-of-annotations mark (two zero bytes): cut short, or no annotation "
        f"file at all (text, random bytes); fix: restore the .{annotator} file written for this record",
    )


def _cut_short(atr: Path) -> bool:
    """A non-empty .atr without the end mark every WFDB writer puts last (an annotation of type 0 at
    time 0). wfdb reads most files of an even length as annotations, a header's text as plausible beats
    in time order, so the mark is what tells an annotation file from a truncated copy or another file.
    An empty .atr is a record without annotations (`no_beats`)."""
    with open(atr, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - len(_END_MARK)))
        return size > 0 and fh.read() != _END_MARK


def check_annotations(path: Path, ann: wfdb.Annotation, samples: np.ndarray, n_samples: int) -> None:
    """Annotations out of time order, or beats outside the record's `n_samples` samples (at its own
    rate), are those of no file written for this record (random bytes read as annotations, another
    record's): landing them would store windows of the signal centred on no beat."""
    step = np.diff(np.asarray(ann.sample, dtype=np.int64))
    if (step < 0).any():  # WFDB writers keep annotations in time order (wfdb.wrann refuses others)
        i = int(np.argmax(step < 0)) + 1
        raise RecordError(
            "annotation_unreadable",
            f"{path}.atr: annotation {i} at sample {ann.sample[i]} comes before annotation {i - 1} at sample "
            f"{ann.sample[i - 1]}, out of time order; fix: restore the .atr file written for this record",
        )
    outside = (samples < 0) | (samples >= n_samples)
    if outside.any():
        raise RecordError(
            "annotation_unreadable",
            f"{path}.atr: {int(outside.sum())} of {len(samples)} beats lie outside the record's {n_samples} "
            f"samples (the first at sample {samples[outside][0]}); fix: restore the .atr file written for this "
            "record",
        )


def at_rate(samples: np.ndarray, ann: wfdb.Annotation, fs: float | None) -> np.ndarray:
    """Annotation times `samples` as samples at `fs` (the record's ECG rate; None: as written). WFDB counts
    a multi-frequency record's annotations in frames, unless the file states its time resolution (written
    in high-resolution mode): wfdb reads that as `ann.fs`, else the header's frame rate."""
    unit = float(ann.fs) if ann.fs else fs
    if fs is None or not unit or unit == fs:
        return samples
    return np.round(samples * (fs / unit)).astype(np.int64)


def read_beats(ann: wfdb.Annotation, fs: float | None = None) -> tuple[np.ndarray, list[str]]:
    """R-peak samples (at `fs`: `at_rate`) and AAMI-mappable symbols of the annotations; non-beat
    annotations are skipped."""
    keep = [i for i, s in enumerate(ann.symbol) if s in AAMI]
    return at_rate(np.asarray(ann.sample, dtype=np.int64)[keep], ann, fs), [ann.symbol[i] for i in keep]


def read_rhythm(
    ann: wfdb.Annotation,
    n_samples: int,
    statement: str | None,
    unstated: bool,
    fs: float | None = None,
    codes: dict[str, str] = RHYTHM_CODES,
) -> list[tuple[int, int, str]]:
    """Rhythm episodes of an AF database: one whose header states the record's rhythm class (CPSC 2021;
    the rhythm before the first change follows from it), or, with `unstated`, one whose header says
    nothing (AFDB's .atr of rhythm changes only; a beat database's where
    `IngestConfig.rhythm_from_beat_records` asks): before its first change the rhythm is not known, so no
    episode. Otherwise a beat database's rhythm annotations (MIT-BIH's 15 rhythm codes) are not used.
    `n_samples` and the episodes: samples at `fs` (`at_rate`); `codes`: rhythm notes -> classes."""
    if statement is None and not unstated:
        return []
    notes = list(ann.aux_note or [""] * len(ann.sample))
    samples = at_rate(np.asarray(ann.sample, dtype=np.int64), ann, fs)
    return rhythm_spans(samples, notes, n_samples, start_rhythm=cpsc_start_rhythm(statement), codes=codes)


def rhythm_only(symbols: list[str], changes: list[str]) -> bool:
    """An AF database's layout (AFDB): rhythm changes (`rhythm_changes`) and no beat annotation (its
    beats, unlabelled, are in a `.qrs`)."""
    return not symbols and bool(changes)


WINDOW_BLOCK = 4096  # beats whose context windows `beat_windows` gathers at once


def beat_windows(signal: np.ndarray, r_peak: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Context windows (B, leads, width) centred on each R peak, and the mask of beats that fit."""
    start = r_peak - width // 2
    fits = (start >= 0) & (start + width <= signal.shape[-1])
    starts = start[fits]
    out = np.empty((len(starts), signal.shape[0], width), signal.dtype)
    # a block of beats at a time: the index and gather temporaries of a day's 100,000 beats at once were
    # twice the windows themselves (1.3 GB)
    for a in range(0, len(starts), WINDOW_BLOCK):
        idx = starts[a : a + WINDOW_BLOCK, None] + np.arange(width)  # (block, width)
        out[a : a + len(idx)] = signal[:, idx].transpose(1, 0, 2)
    return out, fits


def signal_from_windows(r_peak: np.ndarray, windows: np.ndarray, n_samples: int) -> np.ndarray:
    """The record's first `n_samples` (leads, n_samples) put back from its beats' context windows (the
    inverse of `beat_windows` where they cover it; NaN where no window reaches, as between beats more
    than a window apart): what a preview can draw of a record whose row keeps no signal."""
    leads, width = (windows.shape[1], windows.shape[2]) if windows.ndim == 3 else (0, 0)
    out = np.full((leads, n_samples), np.nan, np.float32)
    for peak, window in zip(np.asarray(r_peak, np.int64), windows):
        start = int(peak) - width // 2
        lo, hi = max(start, 0), min(start + width, n_samples)
        if lo < hi:
            out[:, lo:hi] = window[:, lo - start : hi - start]
    return out


def rr_intervals(r_peak: np.ndarray, fs: float, blind: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each beat's interval before and after (s), NaN where unknown: before the first beat, after the last,
    and across a stretch where the beats could not be seen (`blind`: every lead the R peaks were found in
    is out; a beat there was never marked, so the interval over it is no pause)."""
    rr = np.diff(r_peak).astype(np.float32) / np.float32(fs)
    if blind is not None:
        rr[intervals_across(blind, r_peak)] = np.nan
    nan = np.full(min(len(r_peak), 1), np.nan, dtype=np.float32)  # no beat: no interval either
    return np.concatenate([nan, rr]), np.concatenate([rr, nan])


class AnnotatedBeatSource:
    kind = "annotated"
    # 1: an .atr of rhythm changes only (AFDB) lands its episodes; it was quarantined before. 2: a record
    # with dropouts lands (it was quarantined, non_finite), its beats marked with the leads a dropout reaches
    # since raw schema 3. 3: a record with a lead flat the whole record lands without it (quarantined before).
    # 4: a record read in windows with a lead flat through one lands, that lead's dropout there (it was quarantined)
    # 5: and where every lead is flat through a window (the recorder off), every lead's dropout there
    revision = 5

    def load(self, ref: RecordRef, cfg: IngestConfig) -> Landed:
        record = ref.path.name
        if record in cfg.paced_records:
            raise RecordError(
                "excluded_paced",
                f"{ref.path}: paced record, excluded by the AAMI "
                "convention; fix: none needed (set IngestConfig.paced_records to keep it)",
            )
        if parent := mitdb_extract_of(record):
            raise RecordError(
                "excluded_extract",
                f"{ref.path}: an extract of MIT-BIH {parent} (x_mitdb: its first 600 s, baseline removed), whose "
                f"beats {parent} already holds; excluded so they are counted once, under {parent}'s patient and "
                "split; fix: none needed (leave x_mitdb out of the data folders to skip it)",
            )
        size = declared_size(ref.path)
        if size.values > cfg.max_record_values:  # a long Holter record: its beats need only windows
            return self._load_in_windows(ref, cfg, size)
        sig = read_wfdb(ref.path, cfg, keep_dropouts=True)
        patient_id, split = assign(record, ref.meta.get("patient"))
        row = base_row(
            sig, source=self.kind, folder=ref.folder, target_fs=cfg.beat_fs, split=split, patient_id=patient_id
        )
        ann = read_annotations(ref.path)
        samples, symbols = read_beats(ann, sig.fs)
        check_annotations(ref.path, ann, samples, _declared_samples(sig, size))
        r_peak = rescale_samples(samples, fs=sig.fs, target_fs=row.fs)
        windows, fits = beat_windows(row.signal, r_peak, cfg.context_samples)
        per_lead = {lead: sig.dropout_spans([lead]) for lead in sig.lead_names}
        reach = lead_masks(per_lead, row.signal.shape[-1], fs=sig.fs, target_fs=row.fs)
        return _landed(ref, cfg, sig, row, ann, samples, symbols, r_peak, windows, fits, reach)

    def _load_in_windows(self, ref: RecordRef, cfg: IngestConfig, size: DeclaredSize) -> Landed:
        """A record over `max_record_values`, read window by window (each checked as a whole record is):
        its beats are cut as from the whole record (the same windows where no rate conversion is needed;
        resampled windows overlap by a margin, so conversion edges never reach a beat), and its row keeps
        no signal (no task reads a beat record's signal except through rhythm episodes, which need it
        whole). Peak memory: one window and the record's beats."""
        frames = size.frames
        if not frames:  # a header without a length declares 0 values: over the limit only when it is below 0
            raise ValueError(
                f"{ref.path}: IngestConfig.max_record_values is {cfg.max_record_values:,}; fix: set it to a positive "
                "number of values"
            )
        ratio = rate_ratio(size.fs, cfg.beat_fs) if size.fs > 0 else Fraction(1)
        down = ratio.denominator  # windows start at multiples of it: converted, they line up with the whole
        step = max(down, size.frames_within(cfg.max_record_values) // 2 // down * down)
        margin = int(np.ceil((cfg.context_s / 2 + 1.0) * size.fs / down)) * down  # half a context and 1 s
        ann = read_annotations(ref.path)
        samples, symbols = read_beats(ann, size.fs)  # in frames, as the windows are
        check_annotations(ref.path, ann, samples, frames)  # before any window is read
        if rhythm_only(symbols, rhythm_changes(ann.aux_note)):
            raise _whole_signal_needed(ref, cfg, size)
        n_out = resampled_length(frames, ratio)
        r_peak = rescale_samples(samples, fs=size.fs, target_fs=cfg.beat_fs)
        start = r_peak - cfg.context_samples // 2
        fits = (start >= 0) & (start + cfg.context_samples <= n_out)
        first, pieces, dropouts, flat, silent = None, [], [], [], 0
        for a in range(0, frames, step):
            lo, hi = max(0, a - margin), min(frames, a + step + margin)
            # every window must hold the record's leads: one flat through this window is its dropout here
            sig = read_wfdb(ref.path, cfg, frames=(lo, hi), keep_dropouts=True, flat_as_dropout=True)
            # windows overlap: a dropout may come twice, the mask is one
            dropouts += [(d.lead, d.start + lo, d.stop + lo) for d in sig.dropouts]
            flat += [(lead, lo, hi) for lead in sig.flat_leads]
            silent += len(sig.flat_leads) == len(sig.lead_names)  # the recorder off through the window
            first = first or sig
            # a window's rate follows from the header (every window keeps the record's leads): the first tells
            if sig.fs != size.fs:  # its windows count frames, its signal samples of them
                raise RecordError(
                    "too_long",
                    f"{declaring_file(ref.path)}: {size.values:,} samples over all signals, more than IngestConfig."
                    f"max_record_values ({cfg.max_record_values:,}), and its ECG holds {sig.fs / size.fs:g} samples a "
                    "frame, which ingest does not read in windows; fix: raise the limit (ECGNET_MAX_RECORD_VALUES), "
                    "or split the record into shorter ones (wfdb.rdrecord with sampfrom/sampto, then wfdb.wrsamp)",
                )
            if sig.lead_names != first.lead_names:
                raise RecordError(
                    "signal_unreadable",
                    f"{ref.path}: frames {lo}-{hi} hold leads {sig.lead_names}, the record's start "
                    f"{first.lead_names}; fix: split the record where its signals change",
                )
            if sig is first and cpsc_statement(sig.comments):  # every window carries the same header
                raise _whole_signal_needed(ref, cfg, size)
            piece, _ = resample(sig.signal, fs=size.fs, target_fs=cfg.beat_fs)
            mine = fits & (samples >= a) & (samples < a + step)
            offset = lo * ratio.numerator // down
            cut, inside = beat_windows(piece, r_peak[mine] - offset, cfg.context_samples)
            if not inside.all():  # the margin holds every window of a beat that fits the record
                raise AssertionError(f"{ref.path}: a beat window crossed the edge of frames {lo}-{hi}")
            pieces.append(cut)
        assert first is not None  # frames > 0: the loop read at least one window
        if silent == len(pieces):  # what a whole read refuses: no window holds a signal
            raise EveryLeadFlat(
                f"{ref.path}: every lead is flat (peak-to-peak < {cfg.flat_mv:g} mV) in every window of the record; "
                f"fix: check the electrodes, or the gain and units of the signals in {declaring_file(ref.path).name}"
            )
        leads = len(first.lead_names)
        windows = np.concatenate(pieces) if pieces else np.zeros((0, leads, cfg.context_samples), np.float32)
        notes = [
            f"{size.values:,} values, over IngestConfig.max_record_values ({cfg.max_record_values:,}): read in "
            f"{len(pieces)} windows of {step:,} frames; beats stored, the record's signal not",
            *_flat_windows(flat, size.fs, cfg),
        ]
        empty = replace(
            first, signal=np.zeros((leads, 0), np.float32), fs=cfg.beat_fs, notes=(*first.notes, *notes), dropouts=()
        )
        patient_id, split = assign(ref.path.name, ref.meta.get("patient"))
        row = base_row(
            empty, source=self.kind, folder=ref.folder, target_fs=cfg.beat_fs, split=split, patient_id=patient_id
        )
        per_lead = {
            lead: np.array([(a, b) for d, a, b in dropouts if d == lead], np.int64).reshape(-1, 2)
            for lead in first.lead_names
        }
        reach = lead_masks(per_lead, n_out, fs=size.fs, target_fs=cfg.beat_fs)
        return _landed(ref, cfg, first, row, ann, samples, symbols, r_peak, windows, fits, reach)


def _flat_windows(flat: list[tuple[str, int, int]], fs: float, cfg: IngestConfig) -> list[str]:
    """What a record read in windows says of the leads flat through whole windows (kept as their dropouts),
    one line a lead, its stretches merged where windows overlap."""
    said = []
    for lead in dict.fromkeys(lead for lead, _, _ in flat):
        spans: list[list[int]] = []
        for _, lo, hi in (f for f in flat if f[0] == lead):
            if spans and lo <= spans[-1][1]:
                spans[-1][1] = hi
            else:
                spans.append([lo, hi])
        where = ", ".join(f"{clock(a / fs)}-{clock(b / fs)}" for a, b in spans)
        said.append(
            f"lead {lead} flat (peak-to-peak < {cfg.flat_mv:g} mV) through {where}: kept as a dropout there, its "
            "beats marked (a task that reads it leaves them out); fix: check the electrode"
        )
    return said


def _declared_samples(sig: WfdbSignal, size: DeclaredSize) -> int:
    """The record's length at its ECG leads' rate, where `read_beats` puts its annotations: the header's;
    the signal's where the header leaves its length out."""
    if not size.frames:
        return sig.signal.shape[-1]
    return size.frames * round(sig.fs / size.fs)  # a multi-frequency record's ECG: frames x samples per frame


def _whole_signal_needed(ref: RecordRef, cfg: IngestConfig, size: DeclaredSize) -> RecordError:
    """A record with rhythm episodes (CPSC 2021, AFDB) is stored whole for the af task's windows."""
    return RecordError(
        "too_long",
        f"{declaring_file(ref.path)}: {size.values:,} samples over all signals, more than IngestConfig."
        f"max_record_values ({cfg.max_record_values:,}), and its rhythm episodes need the whole signal stored; "
        "fix: split the record into shorter ones (wfdb.rdrecord with sampfrom/sampto, then wfdb.wrsamp), or raise "
        "the limit",
    )


def _landed(
    ref: RecordRef,
    cfg: IngestConfig,
    sig: WfdbSignal,
    row: RecordRow,
    ann: wfdb.Annotation,
    samples: np.ndarray,
    symbols: list[str],
    r_peak: np.ndarray,
    windows: np.ndarray,
    fits: np.ndarray,
    reach: Mapping[str, np.ndarray] | None = None,
) -> Landed:
    """The record row and its beats, from the windows of the beats that fit (`fits`). A beat whose window
    reaches a dropout (`reach`: per lead with one, the samples at the row's rate its dropouts reach) is
    stored with those leads marked (`BeatBatch.dropout_leads`: a task that reads one leaves it out), and
    not stored where it reaches one in every lead. An RR interval is unknown only across a stretch where
    every lead is out (`blind_mask`): where one lead still shows the beats, the annotator marked them, and
    the interval between two annotated beats is measured. Rhythm episodes are stored whole: the af task
    leaves out the windows that reach a dropout in the lead it reads. A row read in windows
    (`_load_in_windows`: `sig` is its first window) keeps no signal to cut episodes from."""
    labels = np.array([AAMI[s] for s in symbols])
    statement = cpsc_statement(sig.comments)  # CPSC 2021: the record's AF statement, as written
    changes = rhythm_changes(ann.aux_note)
    only, whole = rhythm_only(symbols, changes), row.n_samples > 0
    unstated = only or (cfg.rhythm_from_beat_records and whole)
    spans = read_rhythm(ann, sig.signal.shape[-1], statement, unstated, sig.fs)
    reach = reach or {}
    rr_prev, rr_next = rr_intervals(r_peak, row.fs, blind_mask([reach.get(lead) for lead in row.lead_names]))
    reached = {  # per lead with dropouts: each beat whose window holds some of its stand-in line
        lead: ~clear_windows(mask, r_peak - cfg.context_samples // 2, cfg.context_samples)
        for lead, mask in reach.items()
    }
    dropout_leads: list[list[str]] = []
    if reached:
        none = np.zeros(len(r_peak), bool)
        every = np.logical_and.reduce([reached.get(lead, none) for lead in row.lead_names])
        windows, row.dropout_beat_labels = windows[~every[fits]], labels[fits & every].tolist()
        fits = fits & ~every  # no task could read such a beat
        dropout_leads = [[lead for lead in row.lead_names if reached.get(lead, none)[i]] for i in np.flatnonzero(fits)]
        marked = sum(map(bool, dropout_leads))
        row.notes = (
            *row.notes,
            f"{_said(np.logical_or.reduce(list(reach.values())), row.fs)}: {marked} annotated beats reach "
            "one in some lead, stored with those leads marked (a task that reads one leaves them out); "
            f"{len(row.dropout_beat_labels)} reach one in every lead, not stored (counted with the edge beats); "
            f"{int(np.isnan(rr_prev[1:]).sum())} RR intervals across one in every lead stored as unknown",
        )
    if cfg.rhythm_from_beat_records and not whole and changes:
        row.notes = (
            *row.notes,
            f"{len(changes)} rhythm annotations not read: the record is over IngestConfig.max_record_values "
            "and keeps no signal to cut episodes from",
        )
    if not fits.any() and not (only and spans):
        if only:
            raise RecordError(
                "no_beats",
                f"{ref.path}.atr: {len(changes)} rhythm annotations ({', '.join(sorted(set(changes)))}) and no beat "
                f"annotation, as an AF database writes them, but no episode of the af task's rhythms "
                f"({', '.join(RHYTHM_CODES)}); fix: none needed if the record is not for the af task, else restore "
                "the .atr written for it",
            )
        raise RecordError(
            "no_beats",
            f"{ref.path}.atr: no beat annotation ({len(symbols)} beats of AAMI classes, none a full "
            f"{cfg.context_s:g} s window from the record's ends and its dropouts); fix: restore the .atr file, or "
            "remove it to ingest the record as a plain WFDB record",
        )
    row.labels = sorted(set(labels[fits].tolist()))
    row.label_codes = [statement] if statement else []
    edges = np.array([(a, b) for a, b, _ in spans], np.int64).reshape(-1, 2)
    bounds = rescale_samples(edges, fs=sig.fs, target_fs=row.fs)
    row.rhythm_spans = [(int(a), int(b), r) for (a, b), (_, _, r) in zip(bounds.tolist(), spans)]
    if not spans:  # no task reads a beat record's signal but through episodes: its beats hold the windows
        row.signal = np.zeros((row.signal.shape[0], 0), np.float32)
    row.n_beats = int(fits.sum())
    row.edge_beat_labels = labels[~fits].tolist()
    beats = BeatBatch(
        r_peak=r_peak[fits],
        symbol=np.asarray(symbols)[fits].tolist(),
        label=labels[fits].tolist(),
        rr_prev_s=rr_prev[fits],
        rr_next_s=rr_next[fits],
        windows=windows,
        beat_span=cfg.beat_span(),
        dropout_leads=dropout_leads,
    )
    return Landed(row, beats)


def _said(mask: np.ndarray, fs: float) -> str:
    """How many dropouts, how long: what a record lost to them, as its note says it."""
    return f"{len(runs(mask))} dropout(s) of invalid samples ({mask.sum() / fs:.2f} s with resampling's reach)"
