"""Read one WFDB record and validate it, raising `RecordError` with the file and the fix.

wfdb is imported by the functions that read, not by the module: it brings pandas, 0.3 s of every load of
the Dagster code location, which reads no record (`tests/test_layout.py`)."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import IngestConfig
from ..transforms.dropouts import lead_off_runs, runs
from .edf_record import declaring_file, edf_file, edf_layout, open_edf, read_edf_frames
from .errors import EveryLeadFlat, RecordError
from .files import HEADER_LIMIT, read_head
from .header_text import BaseTime, base_time, header_lines, named_files, without_base_time
from .leads import resolve_leads
from .mat_layout import NotMatFile, read_mat_layout, wfdb_format

if TYPE_CHECKING:
    import wfdb

# Bytes per sample of the uncompressed WFDB formats; used to tell a truncated file from a bad header.
_BYTES_PER_SAMPLE = {
    "8": 1,
    "16": 2,
    "24": 3,
    "32": 4,
    "61": 2,
    "80": 1,
    "160": 2,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
}
READABLE_FORMATS = frozenset({*_BYTES_PER_SAMPLE, "508", "516", "524"})  # 5xx: FLAC-compressed
_RATE = re.compile(r"^(\d+\.?\d*|\.\d+)$")  # as the WFDB record line writes a frequency
_GAIN = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(\([+-]?\d+\))?(/\S+)?$")


@dataclass(frozen=True)
class Dropout:
    """A run of invalid samples in one lead, longer than ingest interpolates (IngestConfig.max_gap_s):
    samples [start, stop) of the signal as read. Only a read that asks for them keeps them (`read_wfdb`'s
    `keep_dropouts`); elsewhere such a run refuses the record (non_finite)."""

    lead: str
    start: int
    stop: int


@dataclass(frozen=True)
class WfdbSignal:
    record_id: str
    path: Path  # record path without extension
    fs: float  # Hz, as recorded
    lead_names: list[str]  # canonical names
    signal: np.ndarray  # (leads, samples) float32, mV
    comments: list[str]
    recorded_at: dt.datetime | None
    notes: tuple[str, ...] = ()  # what was read leniently: dropped signals, an unparsed date
    # with keep_dropouts: the runs of invalid samples left, bridged by a line in `signal` so that
    # filters run; nothing that touches one may be scored
    dropouts: tuple[Dropout, ...] = ()
    # leads flat the whole read (`IngestConfig.flat_mv`): left out, or kept as a dropout (`flat_as_dropout`)
    flat_leads: tuple[str, ...] = ()

    def dropout_spans(self, leads: list[str] | None = None) -> np.ndarray:
        """(k, 2) [start, stop) of the dropouts in `leads` (default: every lead), samples at `fs`."""
        own = [(d.start, d.stop) for d in self.dropouts if leads is None or d.lead in leads]
        return np.array(own, np.int64).reshape(-1, 2)


# a record is read from its files this many frames at a time (`_read_leads`): wfdb holds some 30 bytes a sample
# while it reads one (digital and physical copies), the reader keeps 4; 46 min of two leads at 360 Hz
READ_PIECE_FRAMES = 1_000_000
# a lead holding one value this long while another lead records is off (`lead_off_runs`): no MIT-BIH, CinC,
# CPSC or PTB lead here holds one value for 1 s; MIMIC's ICU records hold 0 for up to minutes
LEAD_OFF_S = 2.0
# a flat lead whose gain is this many times the record's other leads' is a header's wrong gain, not an
# electrode off: an ECG recorder samples its leads alike
GAIN_SPREAD = 100.0
# physical units of ECG leads -> factor to mV; a lead in any other unit is not an ECG lead
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "": 1.0, "nu": 1.0}


@dataclass(frozen=True)
class DeclaredSize:
    frames: int | None  # the header's length in frames (None: it leaves it to the signal file)
    per_frame: int  # samples a frame over all signals (more than the signals where one has several a frame)
    fs: float  # frames per second
    skew: int = 0  # frames a read of some frames reads beyond them (the largest skew)

    @property
    def values(self) -> int:
        return (self.frames or 0) * self.per_frame

    def frames_within(self, values: int) -> int:
        """The most frames a read may ask for and stay within `values` samples, as the reader counts them."""
        return max(0, values // max(1, self.per_frame) - self.skew)


def declared_size(path: Path) -> DeclaredSize:
    """What the record's header declares, without reading its signal (RecordError if unreadable)."""
    if (edf := edf_file(path)) is not None:
        layout = edf_layout(open_edf(edf), edf)
        return DeclaredSize(layout.frames, sum(layout.samps_per_frame), layout.fs)
    hea = path.with_name(path.name + ".hea")
    if not hea.is_file():
        raise RecordError("header_unreadable", f"{hea}: header file not found; fix: restore the .hea")
    import wfdb

    text = read_head(hea)
    _check_record_line(text, hea)
    with _readable(path, text, base_time(text)) as where:
        header = _read_header(where, path)
    if isinstance(header, wfdb.MultiRecord) or not header.n_sig:  # segments are checked as wfdb reads them
        return DeclaredSize(header.sig_len, int(header.n_sig or 0), float(header.fs or 0))
    per_frame, skew = _frame_layout(header, str(hea))
    return DeclaredSize(header.sig_len, per_frame, float(header.fs or 0), skew)


@dataclass(frozen=True)
class _Read:
    """What a record's files give before the checks every format shares (`read_wfdb`)."""

    leads: list[str]
    signal: np.ndarray  # (leads, samples) float32, mV, NaN where invalid
    fs: float  # the ECG leads' rate
    gains: list[float]
    record_id: str
    comments: list[str]
    recorded_at: dt.datetime | None
    notes: list[str]


def read_wfdb(
    path: Path,
    cfg: IngestConfig,
    frames: tuple[int, int] | None = None,
    *,
    keep_dropouts: bool = False,
    flat_as_dropout: bool = False,
) -> WfdbSignal:
    """Read `path` (.hea + signal files, a multi-segment record's segments, or an EDF file where no header
    names the record: `edf_record`), check it and return its ECG leads in mV, leads x samples; signals
    that are not ECG leads are left out with a note.
    `frames`: only frames [start, stop) (a window of a record too long to read whole: the size limit
    applies to the window, edges are not trimmed and the minimum duration is the caller's).
    `keep_dropouts`: runs of invalid samples too long to interpolate do not refuse the record; they are
    returned as `dropouts` (bridged in the signal) for a reader that scores around them (`predict`), and
    ragged edges (a lead that starts late) are such runs, not trimmed: sample numbers stay the record's.
    A lead flat throughout (not every lead) is left out with a note; with `flat_as_dropout` (ingest's windows
    of one long record, which must all hold the record's leads) it stays, as a dropout of the whole read, and so
    does every lead where all are flat (the recorder writing no signal through the window)."""
    edf = edf_file(path)
    read = _read_files(path, cfg, frames, keep_dropouts) if edf is None else _read_edf(path, edf, cfg, frames)
    leads, signal, fs, notes = read.leads, read.signal, read.fs, list(read.notes)
    # a reader that keeps dropouts keeps the record's sample numbers too (annotations, `record@sample` rows count
    # them): an edge where a lead has no samples yet is that lead's dropout, not trimmed off
    signal, repaired = repair_gaps(signal, max_gap=int(cfg.max_gap_s * fs), trim=frames is None and not keep_dropouts)
    notes += [repaired] if repaired else []
    dropouts: tuple[Dropout, ...] = ()
    invalid = None
    if keep_dropouts:
        invalid = ~np.isfinite(signal)
        signal, dropouts = bridge_dropouts(signal, leads)  # the reader says what it kept out, for its leads
    # a lead flat the whole read (an electrode never attached, a channel the recorder wrote as zeros) is
    # left out as an absent one is, so that the leads a task reads still serve it
    flat = _check_values(signal, leads, path, cfg, fs, invalid, gains=read.gains, every_flat=flat_as_dropout)
    if flat and flat_as_dropout:  # an electrode off through a window of hours: that lead's beats there are out
        dropouts = (*(d for d in dropouts if d.lead not in flat), *(Dropout(lead, 0, signal.shape[1]) for lead in flat))
    elif flat:
        keep = [i for i, lead in enumerate(leads) if lead not in flat]
        signal, leads = signal[keep], [leads[i] for i in keep]
        invalid = None if invalid is None else invalid[keep]
        dropouts = tuple(d for d in dropouts if d.lead not in flat)
        notes.append(flat_note(flat, cfg))
    if keep_dropouts:  # an electrode off written as one value held (not as invalid samples) is a dropout too
        held = lead_off_runs(signal, fs, LEAD_OFF_S, invalid)
        dropouts += tuple(Dropout(leads[i], a, b) for i, spans in enumerate(held) for a, b in spans)
    # the samples some lead holds: edges no lead has (not trimmed where dropouts are kept) are no signal
    valid = signal.shape[1] if invalid is None else int((~invalid.all(axis=0)).sum())
    if frames is None and valid < cfg.min_duration_s * fs:
        raise RecordError(
            "too_short",
            f"{path}: {valid} samples at {fs:g} Hz ({valid / fs:.2f} s) with a valid lead, shorter than "
            f"IngestConfig.min_duration_s ({cfg.min_duration_s:g} s); fix: remove the record or restore its signal",
        )
    return WfdbSignal(
        record_id=read.record_id,
        path=path,
        fs=fs,
        lead_names=leads,
        signal=signal.astype(np.float32, copy=False),
        comments=read.comments,
        recorded_at=read.recorded_at,
        notes=tuple(notes),
        dropouts=dropouts,
        flat_leads=tuple(flat),
    )


def _read_files(path: Path, cfg: IngestConfig, frames: tuple[int, int] | None, keep_dropouts: bool) -> _Read:
    """The ECG leads of a record named by its header, read from its signal files (or segments)."""
    import wfdb

    hea = path.with_name(path.name + ".hea")
    if not hea.is_file():
        raise RecordError("header_unreadable", f"{hea}: header file not found; fix: restore the .hea")
    text, notes = read_head(hea), []
    _check_record_line(text, hea)
    base = base_time(text)
    if not base.standard and base.at is None:
        notes.append(f"base date/time {base.written!r} is not a date wfdb or ingest reads; kept as unknown")
    with _readable(path, text, base) as where:
        header = _read_header(where, path)
        multi = isinstance(header, wfdb.MultiRecord)
        if frames is not None and header.sig_len is not None:
            frames = (frames[0], min(frames[1], header.sig_len))
        _check_header(header, text, path, cfg, multi, None if frames is None else frames[1] - frames[0])
        # a window of a long record may fall wholly inside one lead's dropout: the lead stays, as in the others
        keep_empty = keep_dropouts and frames is not None
        leads, signal, spf, dropped, gains = _read_leads(where, path, header, multi, frames, keep_empty=keep_empty)
    fs = float(header.fs) * spf  # a multi-frequency record's ECG runs at a multiple of the frame rate
    _check_fs(fs, f"{path}.hea", cfg)
    expected = header.sig_len if frames is None else frames[1] - frames[0]
    if expected is not None and signal.shape[1] != expected * spf:
        raise RecordError(
            "length_mismatch",
            f"{path}: {signal.shape[1] // spf} frames read, header declares "
            f"{header.sig_len}; fix: correct the length in {path.name}.hea",
        )
    return _Read(
        leads,
        signal,
        fs,
        gains,
        path.name if multi else str(header.record_name),
        list(header.comments or []),
        base.at if not base.standard else _recorded_at(header),
        notes + dropped,
    )


def _read_edf(path: Path, file: Path, cfg: IngestConfig, frames: tuple[int, int] | None) -> _Read:
    """The ECG leads of a record in an EDF file, checked against the size limit before a sample is read, and
    read `READ_PIECE_FRAMES` at a time into one float32 array, as a header's signal files are (`_read_leads`)."""
    edf = open_edf(file)
    layout = edf_layout(edf, file)
    start = 0 if frames is None else max(0, frames[0])
    stop = layout.frames if frames is None else max(start, min(frames[1], layout.frames))
    _check_size((stop - start) * sum(layout.samps_per_frame), str(file), cfg)
    out = np.zeros((0, 0), np.float32)
    for a in range(start, max(stop, start + 1), READ_PIECE_FRAMES):  # one piece at least: an empty read says so
        read = read_edf_frames(path, file, (a, min(stop, a + READ_PIECE_FRAMES)), edf)
        leads, piece, spf, dropped, gains = _ecg_leads(read.record, path)
        if a == start:
            out = np.empty((len(leads), (stop - start) * spf), np.float32)
        out[:, (a - start) * spf : (a - start) * spf + piece.shape[1]] = piece
    fs = layout.fs * spf
    _check_fs(fs, str(file), cfg)
    return _Read(leads, out, fs, gains, path.name, [], read.recorded_at, [*read.notes, *dropped])


def flat_note(flat: list[str] | tuple[str, ...], cfg: IngestConfig) -> str:
    """What a reader says of the leads it left out as flat (ingest's record note, `predict`'s)."""
    return f"lead(s) {list(flat)} are flat (peak-to-peak < {cfg.flat_mv:g} mV): left out; fix: check the electrode"


@contextmanager
def _readable(path: Path, text: str, base: BaseTime) -> Iterator[Path]:
    """`path` itself, or, when wfdb would refuse only the base date/time of its record line (ISO dates
    as CinC 2017 writes them, an impossible date), a temporary copy of the header without them, beside
    links to the files it names: the date is kept by `base_time`, and the record is read as it is."""
    if base.standard:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="ecgnet-header-") as tmp:
        copy = Path(tmp) / path.name
        copy.with_name(path.name + ".hea").write_text(without_base_time(text))
        for file in named_files(path.with_name(path.name + ".hea")):
            link = Path(tmp) / file.relative_to(path.parent)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(file.resolve())
        yield copy


def _read_signal(where: Path, path: Path, multi: bool, frames: tuple[int, int] | None = None) -> wfdb.Record:
    # frame by frame (e_p_signal, one array per signal at its own rate); a multi-segment record comes
    # back as one: segments joined, the layout honoured (leads absent from a segment are NaN there)
    import wfdb

    start, stop = frames or (0, None)
    try:
        return wfdb.rdrecord(str(where), sampfrom=start, sampto=stop, physical=True, m2s=True, smooth_frames=False)
    except (ValueError, OSError, IndexError) as err:
        if multi and isinstance(err, FileNotFoundError):
            raise RecordError(
                "missing_signal_file",
                f"{path}.hea: segment file {Path(err.filename or '?').name} not found; fix: copy every segment's "
                "header and signal file next to the record's header",
            ) from err
        raise RecordError(
            "signal_unreadable",
            f"{path}: wfdb could not read the signal ({err}); fix: re-download the record or repair its signal file",
        ) from err


def _read_leads(
    where: Path,
    path: Path,
    header: wfdb.Record | wfdb.MultiRecord,
    multi: bool,
    frames: tuple[int, int] | None,
    *,
    keep_empty: bool,
) -> tuple[list[str], np.ndarray, int, list[str], list[float]]:
    """`_ecg_leads` of the record's frames (all, or `frames`), the signal float32, read from its files
    `READ_PIECE_FRAMES` at a time where there are more (a multi-segment record's segments too, wfdb joining
    those a piece spans): the same values as one read, in a fraction of the memory (a day-long Holter read in
    one piece held 2 GB more while wfdb read it)."""

    def in_one_piece() -> tuple[list[str], np.ndarray, int, list[str], list[float]]:
        leads, signal, spf, dropped, gains = _ecg_leads(
            _read_signal(where, path, multi, frames), path, keep_empty=keep_empty
        )
        return leads, signal.astype(np.float32), spf, dropped, gains

    start, stop = frames or (0, header.sig_len)
    if stop is None or stop - start <= READ_PIECE_FRAMES:
        return in_one_piece()
    out, seen, at = np.zeros((0, 0), np.float32), np.zeros(0, bool), 0
    for a in range(start, stop, READ_PIECE_FRAMES):
        record = _read_signal(where, path, multi, (a, min(stop, a + READ_PIECE_FRAMES)))
        # the header decides which leads every piece keeps; one with no sample in any piece is left out after
        leads, piece, spf, dropped, gains = _ecg_leads(record, path, keep_empty=True)
        if a == start:
            out, seen = np.empty((len(leads), (stop - start) * spf), np.float32), np.zeros(len(leads), bool)
        out[:, at : at + piece.shape[1]] = piece
        seen |= ~np.isnan(piece).all(axis=1)
        at += piece.shape[1]
        if piece.shape[1] < (min(stop, a + READ_PIECE_FRAMES) - a) * spf:  # a short file: the caller says so
            break
    out = out[:, :at]
    if keep_empty or seen.all():
        return leads, out, spf, dropped, gains
    absent = frozenset(lead for lead, has in zip(leads, seen) if not has)
    kept, _, rate, notes, per_mv = _ecg_leads(record, path, absent=absent)
    if rate != spf:  # the leads left choose another rate (a multi-frequency record): read it as one piece
        return in_one_piece()
    return kept, out[[leads.index(lead) for lead in kept]], spf, notes, per_mv


def _ecg_leads(
    record: wfdb.Record, path: Path, *, keep_empty: bool = False, absent: frozenset[str] | None = None
) -> tuple[list[str], np.ndarray, int, list[str], list[float]]:
    """The ECG leads of a record read frame by frame, in mV (leads x samples), their samples per frame,
    notes on the signals left out (names no alias knows, units that are not a voltage, leads with no sample
    at all (absent from every segment; kept with `keep_empty`), leads at another rate than the fastest ECG
    lead) and each lead's gain in adu per mV (NaN where the header gives none, as a multi-segment one).
    `absent`: the leads known to have no sample in the whole record, where `record` is a piece of it."""
    names, arrays = list(record.sig_name or []), record.e_p_signal or []
    units = [str(u or "").strip().lower() for u in (record.units or [""] * len(names))]
    spf = [int(n or 1) for n in (record.samps_per_frame or [1] * len(names))]
    leads = resolve_leads(names, str(declaring_file(path)))
    empty = {
        i: name in absent
        if absent is not None
        else len(arrays[i]) == 0 or (bool(np.isnan(arrays[i]).all()) and not keep_empty)
        for i, name in zip(leads.kept, leads.names)
    }
    candidates, notes = [], []
    for i, name in zip(leads.kept, leads.names):
        if units[i] not in _TO_MV:
            notes.append(f"signal {names[i]!r} is in {record.units[i]!r}, not a voltage; left out")
        elif empty[i]:
            notes.append(f"lead {names[i]!r} has no samples (absent from every segment); left out")
        else:
            candidates.append((i, name))
    if leads.dropped:
        notes.append(f"signals {leads.dropped} are not known ECG leads; left out")
    if not candidates:
        gaps_only = all(empty.values())
        raise RecordError(
            "zero_samples" if gaps_only else "unknown_lead",
            f"{path}: no sample of any ECG lead {leads.names}; fix: remove the record"
            if gaps_only
            else f"{declaring_file(path)}: no ECG lead in a voltage unit among {names} ({record.units}); fix: "
            "correct the units in the header",
        )
    # one rate for the record: the one most ECG leads share (the faster on a tie)
    rate = max({spf[i] for i, _ in candidates}, key=lambda r: (sum(spf[i] == r for i, _ in candidates), r))
    other = [names[i] for i, _ in candidates if spf[i] != rate]
    if other:
        notes.append(f"leads {other} are sampled at another rate than the other ECG leads; left out")
    kept = [(i, name) for i, name in candidates if spf[i] == rate]
    signal = np.stack([np.asarray(arrays[i], dtype=np.float64) * _TO_MV[units[i]] for i, _ in kept])
    gains = list(record.adc_gain or [None] * len(names))
    per_mv = [float(gains[i]) / _TO_MV[units[i]] if gains[i] else float("nan") for i, _ in kept]
    return [name for _, name in kept], signal, rate, notes, per_mv


def repair_gaps(signal: np.ndarray, max_gap: int, *, trim: bool = True) -> tuple[np.ndarray, str]:
    """Invalid (NaN) samples that wfdb reads as such, made usable where that changes nothing a model
    sees: edges where some lead has no samples yet (skew, a late segment) are trimmed (unless `trim` is
    False: a window of a record, whose sample numbers must not move), and runs of at most `max_gap`
    invalid samples inside a lead are interpolated linearly. Longer gaps stay NaN (dropouts: they quarantine
    a record, or are read around). Returns the signal and a note ("" when nothing was done)."""
    bad = np.isnan(signal)
    if not bad.any():
        return signal, ""
    n, start, stop = signal.shape[1], 0, signal.shape[1]
    if trim:
        whole = np.flatnonzero(~bad.any(axis=0))
        if len(whole) == 0:
            return signal, ""
        start, stop = int(whole[0]), int(whole[-1]) + 1
    signal, bad = signal[:, start:stop].copy(), bad[:, start:stop]
    filled = 0
    for lead in range(signal.shape[0]):
        # a long gap is not invented (it refuses the record, or is a dropout to read around); the short
        # ones beside it are filled all the same
        short = [np.arange(a, b) for a, b in runs(bad[lead]) if b - a <= max_gap]
        good = np.flatnonzero(~bad[lead])
        if not short or not len(good):
            continue
        fill = np.concatenate(short)
        signal[lead, fill] = np.interp(fill, good, signal[lead, good])
        filled += len(fill)
    notes = [f"{start + n - stop} edge samples where a lead had none trimmed"] if start or stop < n else []
    notes += [f"{filled} invalid samples in gaps of at most {max_gap} interpolated"] if filled else []
    return signal, "; ".join(notes)


def bridge_dropouts(signal: np.ndarray, leads: list[str]) -> tuple[np.ndarray, tuple[Dropout, ...]]:
    """The invalid runs `repair_gaps` left (too long to interpolate), each named, and the signal with a
    straight line across each so that filters and detectors run over the whole record. The line is no
    ECG: whoever reads the signal must keep what touches a dropout out."""
    bad = ~np.isfinite(signal)
    if not bad.any():
        return signal, ()
    signal, dropouts = signal.copy(), []
    for lead, name in enumerate(leads):
        good = np.flatnonzero(~bad[lead])
        lead_runs = runs(bad[lead])
        if not lead_runs:
            continue
        # a lead without one valid sample (a window of a long record inside its dropout) is held at zero
        fill = np.interp(np.flatnonzero(bad[lead]), good, signal[lead, good]) if len(good) else 0.0
        signal[lead, bad[lead]] = fill
        dropouts += [Dropout(name, a, b) for a, b in lead_runs]
    return signal, tuple(dropouts)


def _read_header(where: Path, path: Path) -> wfdb.Record:
    import wfdb

    hea = path.with_name(path.name + ".hea")
    try:
        return wfdb.rdheader(str(where))
    except (ValueError, OSError, IndexError, TypeError) as err:
        first = read_head(hea).splitlines()[:1]
        raise RecordError(
            "header_unreadable",
            f"{hea}: header cannot be parsed at {first} ({type(err).__name__}: {err}); fix: repair the header "
            "against the WFDB header specification (record line: name, signals, rate, length, time, date)",
        ) from err


def _check_header(
    header: wfdb.Record, text: str, path: Path, cfg: IngestConfig, multi: bool, window: int | None = None
) -> None:
    """`window`: frames read when the record is read in windows (the size limit applies to them)."""
    hea = f"{path}.hea"
    if not header.fs or header.fs <= 0:
        _check_fs(float(header.fs or 0), f"{path}.hea", cfg)
    if not header.n_sig:
        raise RecordError(
            "no_signals",
            f"{hea}: header declares {header.n_sig} signals; fix: restore the header's signal lines",
        )
    if multi:  # segments' signals are checked as wfdb reads them; their headers here
        _check_size((window or header.sig_len) * header.n_sig, hea, cfg)
        _check_segments(header, path)
        return
    unreadable = sorted({str(f) for f in header.fmt} - READABLE_FORMATS)
    if unreadable:
        raise RecordError(
            "unknown_format",
            f"{hea}: signal format(s) {unreadable} are not WFDB formats wfdb reads {sorted(READABLE_FORMATS)}; "
            "fix: correct the format field of the signal lines, or convert the signal with wfdb.wrsamp",
        )
    if header.sig_len == 0:  # None: the header leaves the length out, and the signal file says it
        raise RecordError(
            "zero_samples",
            f"{hea}: header declares 0 samples; fix: remove the record or restore its signal",
        )
    per_frame, skew = _frame_layout(header, hea)
    if header.sig_len:
        _check_size(((window or header.sig_len) + skew) * per_frame, hea, cfg)
    _check_gains(text, path)
    for name, fmt, count, offset in signal_files(header):
        file = path.parent / name
        _check_signal_file(file, fmt, count * header.sig_len if header.sig_len else None, offset, hea)
        if file.suffix.lower() == ".mat":
            _check_mat_file(file, fmt, count, header.sig_len, offset, hea)
        if header.sig_len is None and fmt in _BYTES_PER_SAMPLE:
            frames = (file.stat().st_size - offset) / (count * _BYTES_PER_SAMPLE[fmt])
            _check_size(int(frames) * per_frame, hea, cfg)


def _check_segments(header: wfdb.MultiRecord, path: Path) -> None:
    """Each segment's header agrees with the record's: the same rate (wfdb would read 360 Hz segments
    as the record line's 250 Hz without a word) and at least the length the record line gives it."""
    import wfdb

    hea = f"{path}.hea"
    for name, length in zip(header.seg_name, header.seg_len):
        if name == "~":  # a gap: no file
            continue
        if name == path.name:
            raise RecordError(
                "header_unreadable",
                f"{hea}: names itself as one of its segments; fix: name each segment's own header in the record's",
            )
        seg_hea = path.parent / f"{name}.hea"
        if not seg_hea.is_file():
            raise RecordError(
                "missing_signal_file",
                f"{hea}: segment header {seg_hea.name} not found; fix: copy every segment's header and signal file "
                "next to the record's header",
            )
        try:
            seg = wfdb.rdheader(str(path.parent / name))
        except (ValueError, OSError, IndexError, TypeError) as err:
            raise RecordError(
                "header_unreadable",
                f"{seg_hea}: segment header cannot be parsed ({err}); fix: "
                "repair it against the WFDB header specification",
            ) from err
        if seg.fs and header.fs and abs(float(seg.fs) - float(header.fs)) > 1e-6 * float(header.fs):
            raise RecordError(
                "header_unreadable",
                f"{seg_hea}: segment at {seg.fs:g} Hz in a record at {header.fs:g} Hz ({hea}); fix: write one rate "
                "in the record line and every segment header",
            )
        if seg.sig_len is not None and length > seg.sig_len:
            raise RecordError(
                "length_mismatch",
                f"{hea}: segment {name} given {length} samples, its header declares {seg.sig_len}; fix: correct "
                "the segment's length in the record's header",
            )


def _frame_layout(header: wfdb.Record, hea: str) -> tuple[int, int]:
    """Samples per frame over all signals and the largest skew, checked: wfdb allocates frames x
    samples per frame (+ skew) before it reads a byte, so `212x1000` or a skew of 10^8 samples would
    allocate gigabytes for a 2 MB file."""
    n = int(header.n_sig)
    spf = [1 if s is None else int(s) for s in (header.samps_per_frame or [1] * n)]
    skews = [int(k or 0) for k in (header.skew or [0] * n)]
    if min(spf) < 1:
        raise RecordError(
            "header_unreadable",
            f"{hea}: samples per frame {spf} (the 'x' after a format); fix: write at least 1, or leave it out",
        )
    too_far = [k for k in skews if k < 0 or (header.sig_len and k >= header.sig_len)]
    if too_far:
        raise RecordError(
            "header_unreadable",
            f"{hea}: skew {too_far[0]} (the ':' after a format) is outside the record's {header.sig_len} frames; "
            "fix: correct or remove the skew in the signal line",
        )
    return sum(spf), max(skews)


def _check_record_line(text: str, hea: Path) -> None:
    """What wfdb's header parser lets through: its record-line pattern matches a prefix, so a rate that
    is not a number silently becomes WFDB's default 250 Hz, and a length that is not one is taken
    from the signal file; signal lines fewer or more than the line declares fail deep inside wfdb. A
    header larger than any real one is refused before wfdb reads all of it."""
    if hea.is_file() and hea.stat().st_size > HEADER_LIMIT:
        raise RecordError(
            "header_unreadable",
            f"{hea}: {hea.stat().st_size:,} bytes, more than the {HEADER_LIMIT:,} a WFDB header may take here "
            "(real headers are a few kB); fix: remove the padding or comments, or restore the header",
        )
    lines = header_lines(text)
    fields = lines[0].split() if lines else []
    if len(fields) < 2:
        return  # wfdb refuses it with its own message (header_unreadable)
    name, count = fields[0], fields[1]
    if not count.isdigit():  # not a record line at all (a signal file or another text saved as .hea)
        raise RecordError(
            "header_unreadable",
            f"{hea}: the first line {lines[0][:60]!r} is not a record line (name, number of signals, rate, "
            "length); fix: restore the header",
        )
    segments = name.split("/")[1] if "/" in name else None  # a multi-segment record: one line per segment
    declared, what = (segments, "segments") if segments is not None else (count, "signals")
    if declared.isdigit() and len(lines) - 1 != int(declared):
        raise RecordError(
            "header_unreadable",
            f"{hea}: the record line declares {declared} {what}, the header has {len(lines) - 1} {what[:-1]} "
            f"lines; fix: correct the number of {what} or restore the missing lines",
        )
    if len(fields) > 2:
        rate = fields[2].split("/")[0]
        if not _RATE.match(rate) or float(rate) <= 0:
            raise RecordError(
                "unknown_fs",
                f"{hea}: sampling frequency {fields[2]!r} is not a positive number of Hz; fix: write the rate in "
                "the record line (e.g. '100 2 360 650000')",
            )
    if len(fields) > 3 and not fields[3].isdigit():
        raise RecordError(
            "header_unreadable",
            f"{hea}: length {fields[3]!r} is not a number of samples; fix: write the record's length in samples "
            "in the record line, or leave it out",
        )


def _check_fs(fs: float, where: str, cfg: IngestConfig) -> None:
    """The ECG leads' rate must be a known one, within 0.5 % (62.4725 Hz frames x 4 is 250 Hz); `where`: the
    file that says it (a header, an EDF file)."""
    if not any(abs(fs - known) <= 0.005 * known for known in cfg.known_fs):
        raise RecordError(
            "unknown_fs",
            f"{where}: the ECG leads' sampling frequency {fs:g} Hz is not a known ECG "
            f"rate {list(cfg.known_fs)}; fix: correct the header, or add the rate to IngestConfig.known_fs "
            "(ECGNET_KNOWN_FS for the pipeline and predict)",
        )


def _check_size(values: int, hea: str, cfg: IngestConfig) -> None:
    """A record is read whole: refuse one that would not fit in memory before reading it."""
    if values > cfg.max_record_values:
        raise RecordError(
            "too_long",
            f"{hea}: {values:,} samples over all signals, more than IngestConfig.max_record_values "
            f"({cfg.max_record_values:,}, about {cfg.max_record_values * 8 / 1e9:.1f} GB while read); fix: split "
            "the record into shorter ones (wfdb.rdrecord with sampfrom/sampto, then wfdb.wrsamp), or raise the limit "
            "(ECGNET_MAX_RECORD_VALUES for the pipeline and predict)",
        )


def _check_gains(text: str, path: Path) -> None:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    for line in lines[1:]:
        fields = line.split()
        if len(fields) <= 2:
            continue
        gain = _GAIN.match(fields[2])
        if not gain:
            raise RecordError(
                "bad_gain",
                f"{path}.hea: gain field {fields[2]!r} of signal line "
                f"{line!r} is not a number; fix: write the ADC gain as e.g. 200/mV",
            )
        if float(gain.group(1)) == 0:  # wfdb would assume 200 adu/mV
            raise RecordError(
                "bad_gain",
                f"{path}.hea: gain 0 on signal line {line!r}, which WFDB defines as uncalibrated; fix: write the "
                "ADC gain in adu/mV",
            )


def signal_files(header: wfdb.Record) -> list[tuple[str, str, int, int]]:
    """(file, format, samples per frame of its signals, byte offset) per signal file."""
    files: dict[str, list] = {}
    n = len(header.file_name)
    spf = [1 if s is None else int(s) for s in (header.samps_per_frame or [1] * n)]
    for name, fmt, offset, per_frame in zip(header.file_name, header.fmt, header.byte_offset or [None] * n, spf):
        entry = files.setdefault(name, [str(fmt), 0, int(offset or 0)])
        entry[1] += per_frame
    return [(name, fmt, count, offset) for name, (fmt, count, offset) in files.items()]


def expected_bytes(fmt: str, n_values: int, offset: int) -> int | None:
    """The size of a signal file holding `n_values` values in format `fmt` after `offset` header bytes;
    None for the compressed (FLAC) formats, whose size says nothing."""
    if fmt not in _BYTES_PER_SAMPLE:
        return None
    return offset + int(np.ceil(n_values * _BYTES_PER_SAMPLE[fmt]))


def _check_signal_file(file: Path, fmt: str, n_values: int | None, offset: int, hea: str) -> None:
    if not file.is_file():
        raise RecordError(
            "missing_signal_file",
            f"{file}: signal file named in {hea} not found; fix: copy the signal file next to the header",
        )
    expected = None if n_values is None else expected_bytes(fmt, n_values, offset)
    if expected is None:
        return  # compressed formats, or no length in the header: the size says nothing wrong
    actual = file.stat().st_size
    if actual < expected:
        raise RecordError(
            "length_mismatch",
            f"{file}: holds {actual} bytes but {hea} declares "
            f"{n_values} values in format {fmt} ({expected} bytes); fix: re-download "
            "the record if the file is truncated, or correct the length in the header",
        )


def _check_mat_file(file: Path, fmt: str, count: int, sig_len: int | None, offset: int, hea: str) -> None:
    """A `.mat` says how it stores its matrix; wfdb reads it raw as the header says, so a header that
    disagrees (212 over int16 values, the wrong offset, a transposed matrix) would land garbage."""
    try:
        layout = read_mat_layout(file)
    except NotMatFile:
        return  # no MATLAB header: a raw signal file with a .mat name, which the size checks cover
    want = wfdb_format(layout.dtype)
    if layout.compressed or want is None:
        stored = "compressed" if layout.compressed else layout.dtype.name
        raise RecordError(
            "format_mismatch",
            f"{file}: stores {stored} values, which no WFDB format reads raw; fix: save the matrix uncompressed "
            "as int16 or int32 (MATLAB save -v4), as wfdb2mat writes it",
        )
    problems = []
    if fmt != want:
        problems.append(f"{hea} declares format {fmt}, the file stores {layout.dtype.name} (format {want})")
    if offset != layout.data_offset:
        problems.append(f"{hea} declares byte offset {offset}, the samples start at byte {layout.data_offset}")
    if layout.rows != count or (sig_len is not None and layout.cols < sig_len):
        problems.append(
            f"the file holds a {layout.rows} x {layout.cols} matrix, {hea} reads {count} signals x "
            f"{sig_len if sig_len is not None else 'all'} samples (one row per signal)"
        )
    if problems:
        fix = (
            f"fix: write the signal lines of {Path(hea).name} as the file stores it (format {want}, byte offset "
            f"{layout.data_offset}), or rewrite the record with wfdb.wrsamp"
        )
        raise RecordError("format_mismatch", f"{file}: " + "; ".join(problems) + "; " + fix)


def _check_values(
    signal: np.ndarray,
    leads: list[str],
    path: Path,
    cfg: IngestConfig,
    fs: float,
    invalid: np.ndarray | None = None,
    *,
    gains: list[float] | None = None,
    every_flat: bool = False,
) -> list[str]:
    """Refuse values no ECG has. `invalid`: the samples a dropout's stand-in fills, which say nothing of
    the lead's gain (a lead wholly inside a dropout is not flat, it is absent there). The flat leads, for the
    caller to leave out or mark (a refusal where every lead is flat). `gains`
    (adu per mV, per lead): a flat lead whose gain is `GAIN_SPREAD` times the other leads' is a wrong
    gain, refused, not an electrode off. `every_flat`: every lead flat is returned as such, not refused (a
    window of a long record whose recorder wrote no signal there; its reader refuses a record flat in every
    window)."""
    declared = declaring_file(path)  # the header, or the EDF file
    bad = ~np.isfinite(signal)
    if bad.any():
        counts = {lead: int(n) for lead, n in zip(leads, bad.sum(axis=1)) if n}
        longest = max(b - a for row in bad for a, b in runs(row))
        raise RecordError(
            "non_finite",
            f"{path}: invalid (NaN) samples per lead {counts}, in gaps of up to {longest} samples "
            f"({longest / fs:.2f} s), longer than the {cfg.max_gap_s:g} s that are interpolated "
            "(IngestConfig.max_gap_s); fix: repair or interpolate the gap in the source, or remove the record "
            "(`python -m ecgnet predict` scores a record around its gaps)",
        )
    # a wrong gain, baseline or unit shows as amplitudes no heart makes (|x| of tens of mV and up)
    typical = np.array([np.percentile(np.abs(row), 99.9) for row in signal])  # a lead at a time: less held
    loud = {lead: float(f"{a:.3g}") for lead, a in zip(leads, typical) if a > cfg.max_abs_mv}
    if loud:
        raise RecordError(
            "implausible_amplitude",
            f"{path}: lead(s) {loud} reach beyond {cfg.max_abs_mv:g} mV (99.9th percentile of |x|); the header's "
            f"gain, baseline or units are probably wrong; fix: correct the signals' calibration in {declared.name} "
            "(a header's gain in adu/mV, baseline in adu, units mV; an EDF file's physical range and unit)",
        )
    if invalid is None:
        ptp = np.ptp(signal, axis=1)
    else:
        ptp = np.array([np.ptp(row[~bad]) if not bad.all() else np.inf for row, bad in zip(signal, invalid)])
    flat = [lead for lead, amp in zip(leads, ptp) if amp < cfg.flat_mv]
    if flat and len(flat) == len(leads) and every_flat:  # a window of a long record: the recorder off there
        return flat
    if flat and len(flat) == len(leads) and ptp.max() > 0:
        raise EveryLeadFlat(
            f"{path}: every lead is below {cfg.flat_mv} mV peak-to-peak (largest {ptp.max():.2g} mV): the gain in "
            f"{declared.name} is probably wrong (e.g. 1000x); fix: correct the ADC gain or the units of its "
            "signals",
        )
    known = [g for lead, g in zip(leads, gains or []) if lead not in flat and np.isfinite(g)]
    if flat and known and len(flat) < len(leads):  # a header without gains (multi-segment) says nothing here
        usual = float(np.median(known))
        odd = {lead: g for lead, g in zip(leads, gains or []) if lead in flat and g > GAIN_SPREAD * usual}
        if odd:
            raise RecordError(
                "flat_lead",
                f"{path}: lead(s) {list(odd)} are below {cfg.flat_mv} mV peak-to-peak at a gain of "
                f"{', '.join(f'{g:.3g}' for g in odd.values())} adu/mV, over {GAIN_SPREAD:g} times the other "
                f"leads' ({usual:.3g}): the gain in {declared.name} is probably wrong; fix: correct the ADC gain "
                "of those signals",
            )
    if flat and len(flat) == len(leads):
        raise EveryLeadFlat(
            f"{path}: lead(s) {flat} are flat (peak-to-peak < "
            f"{cfg.flat_mv} mV); fix: check the electrode, or drop the lead from the "
            "record before ingest",
        )
    return flat


def _recorded_at(header: wfdb.Record) -> dt.datetime | None:
    if header.base_date is None:
        return None
    return dt.datetime.combine(header.base_date, header.base_time or dt.time())
