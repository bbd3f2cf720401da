"""Records in EDF or EDF+ (European Data Format): what Holters, patches and polysomnographs export, and what
the WFDB library reads as a record of its own (`rdsamp -r x.edf`).

A record `x` is EDF where `x.edf` (any case) lies beside no `x.hea`: a WFDB header beside one
(wfdb-python's test_generator_2) is the record, its EDF a copy. The file is read with edfio, lazily: a read
of some frames reads only the data records that hold them. What comes back is what `read_wfdb` reads from a
header and its signal files (the signals' names, units, rates and values), and the same checks follow.

edfio is imported by the functions that read, as wfdb is (`tests/test_layout.py`)."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import RecordError
from .files import is_regular

if TYPE_CHECKING:
    import edfio
    import wfdb

# BioSemi's 24-bit BDF is not read: edfio reads a BDF file whole, where an EDF file is read a stretch at a time
EDF_SUFFIX = ".edf"  # in any case: .EDF as many recorders write it
FIX = "fix: export the recording again as EDF or EDF+C, or convert it with the WFDB tools (edf2mit)"


def edf_file(path: Path) -> Path | None:
    """The EDF file of record `path` (without extension), where it has no WFDB header; else None."""
    if path.with_name(path.name + ".hea").exists():
        return None
    for written in (EDF_SUFFIX, EDF_SUFFIX.upper()):
        file = path.with_name(path.name + written)
        if file.exists() or file.is_symlink():  # a dangling link is a record whose read says so
            return file
    return None


def declaring_file(path: Path) -> Path:
    """The file that declares record `path` (its signals' names, units and gains), for messages to name: its
    WFDB header, or its EDF file where no header names it."""
    return edf_file(path) or path.with_name(path.name + ".hea")


def is_edf(file: Path) -> bool:
    """`file` is named as an EDF file is."""
    return file.suffix.lower() == EDF_SUFFIX


@dataclass(frozen=True)
class EdfLayout:
    """An EDF file's signals as WFDB frames: a frame is the greatest common share of every signal's samples
    per data record, so that each signal has a whole number of samples a frame (a record with an ECG lead at
    500 Hz and an oximeter at 1 Hz is a multi-frequency record of 1 Hz frames, as `edf2mit` writes it)."""

    fs: float  # frames per second
    frames: int  # frames in the file
    samps_per_frame: tuple[int, ...]


def open_edf(file: Path) -> edfio.Edf:
    """The file's header and lazy signals; RecordError naming the file and the fix where it is no EDF file,
    its data records are not the file's bytes, it is discontinuous (EDF+D) or it holds no signal (an EDF+
    file of annotations only)."""
    import edfio

    if not is_regular(file):
        raise RecordError("missing_signal_file", f"{file}: not a regular file; fix: copy the EDF file itself here")
    _check_length(file)  # before edfio, which reads what is there of a file cut off, with a warning
    try:
        # a data folder is untrusted input, and edfio parses a header's fields as it is asked for them: every
        # failure of a read of a header, or warning (a count it corrects), is this file's, and said as such
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            # but a count of -1 (a recording still being written) is the standard's; `_check_length` saw whole records
            warnings.filterwarnings("ignore", message="EDF header indicates -1 data records", category=UserWarning)
            # latin-1: a header's units are ASCII by the standard, but recorders write µV as its latin-1 byte
            edf = edfio.read_edf(file, lazy_load_data=True, header_encoding="latin-1")
            for signal in edf.signals:
                _ = (signal.label, signal.physical_dimension, signal.samples_per_data_record)
                _ = (signal.physical_min, signal.physical_max, signal.digital_min, signal.digital_max)
            _ = (edf.data_record_duration, edf.num_data_records)
            continuous = edf.is_continuous
    except Exception as err:  # see above
        raise RecordError(
            "header_unreadable", f"{file}: not an EDF file edfio reads ({type(err).__name__}: {err}); {FIX}"
        ) from err
    if not edf.signals:
        raise RecordError("no_signals", f"{file}: holds no signal (EDF+ annotations only); {FIX}")
    if not continuous:
        raise RecordError(
            "discontinuous",
            f"{file}: EDF+D, a recording with interruptions between its data records; fix: export each continuous "
            "stretch as an EDF+C file of its own",
        )
    return edf


def _check_length(file: Path) -> None:
    """The file's bytes after its header are its data records, whole: a copy cut off, or one with bytes the
    header does not count, is refused (a count of -1, a recording still being written, takes what is there in
    whole records). A header whose numbers are no numbers is left to edfio, which says where."""
    size = file.stat().st_size
    try:
        with open(file, "rb") as fh:
            head = fh.read(256)
            signals, records = int(head[252:256]), int(head[236:244])
            fh.seek(256 + signals * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80))  # each signal's samples a data record
            record_bytes = 2 * sum(int(fh.read(8)) for _ in range(signals))
    except ValueError:
        return
    header = 256 * (signals + 1)
    if signals <= 0 or record_bytes <= 0 or header > size:
        return
    whole = records < 0 and (size - header) % record_bytes == 0
    if not whole and size != header + max(records, 0) * record_bytes:
        raise RecordError(
            "length_mismatch",
            f"{file}: {size - header:,} bytes of data records where its header declares {records:,} records of "
            f"{record_bytes:,} bytes; fix: copy or export the whole file again",
        )


def edf_layout(edf: edfio.Edf, file: Path) -> EdfLayout:
    """The file's frames (RecordError where its data records have no positive duration)."""
    per_record = [int(s.samples_per_data_record) for s in edf.signals]
    duration = float(edf.data_record_duration)
    if duration <= 0 or min(per_record) <= 0:
        raise RecordError(
            "header_unreadable",
            f"{file}: data records of {duration:g} s holding {per_record} samples; {FIX}",
        )
    share = math.gcd(*per_record)
    return EdfLayout(share / duration, int(edf.num_data_records) * share, tuple(n // share for n in per_record))


@dataclass(frozen=True)
class EdfRead:
    record: wfdb.Record  # as `wfdb.rdrecord(..., physical=True, smooth_frames=False)` reads a header's
    recorded_at: dt.datetime | None  # the start, where the file gives it (EDF+ may anonymise it: X)
    notes: tuple[str, ...] = field(default=())  # signals left out: uncalibrated (no physical or digital range)


def read_edf_frames(
    path: Path, file: Path, frames: tuple[int, int] | None = None, edf: edfio.Edf | None = None
) -> EdfRead:
    """Frames [start, stop) of record `path`'s EDF `file` (all of them by default; `edf`: the file opened
    already): one physical array a signal at its own rate, with names, units, samples a frame and gains
    (digital units per physical unit). A signal with no physical or digital range is uncalibrated: left out
    with a note."""
    import wfdb

    edf = edf or open_edf(file)
    layout = edf_layout(edf, file)
    start, stop = frames or (0, layout.frames)
    start, stop = max(0, start), max(start, min(stop, layout.frames))
    kept, arrays, gains, notes = [], [], [], []
    for signal, spf in zip(edf.signals, layout.samps_per_frame):
        physical = float(signal.physical_max) - float(signal.physical_min)
        digital = float(signal.digital_max) - float(signal.digital_min)
        if not physical or not digital:
            notes.append(f"signal {signal.label!r} is uncalibrated (a physical or digital range of 0); left out")
            continue
        rate = float(signal.sampling_frequency)
        try:  # seconds that edfio turns back into these sample numbers (it rounds)
            arrays.append(np.asarray(signal.get_data_slice(start * spf / rate, stop * spf / rate)))
        except (ValueError, OSError) as err:
            raise RecordError(
                "signal_unreadable",
                f"{file}: signal {signal.label!r} cannot be read ({err}); fix: re-export or re-download the file",
            ) from err
        kept.append((signal, spf))
        gains.append(digital / physical)
    record = wfdb.Record(
        record_name=path.name,
        n_sig=len(kept),
        fs=layout.fs,
        sig_len=stop - start,
        sig_name=[s.label for s, _ in kept],
        units=[s.physical_dimension for s, _ in kept],
        samps_per_frame=[spf for _, spf in kept],
        e_p_signal=arrays,
        adc_gain=gains,
        comments=[],
    )
    return EdfRead(record, _start(edf), tuple(notes))


def _start(edf: edfio.Edf) -> dt.datetime | None:
    import edfio

    try:
        return edf.startdatetime
    except (edfio.AnonymizedDateError, ValueError):
        return None
