"""Read one WFDB record and validate it, raising `RecordError` with the file and the fix."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from ..config import IngestConfig
from .errors import RecordError
from .leads import canonical_lead_names

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
_GAIN = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(\([+-]?\d+\))?(/\S+)?$")


@dataclass(frozen=True)
class WfdbSignal:
    record_id: str
    path: Path  # record path without extension
    fs: float  # Hz, as recorded
    lead_names: list[str]  # canonical names
    signal: np.ndarray  # (leads, samples) float32, mV
    comments: list[str]
    recorded_at: dt.datetime | None


def read_wfdb(path: Path, cfg: IngestConfig) -> WfdbSignal:
    """Read `path` (.hea + signal files), check it and return the signal in mV, leads x samples."""
    header = _read_header(path)
    if isinstance(header, wfdb.MultiRecord):  # its header lists segments, not signal files
        raise RecordError(
            "multi_segment",
            f"{path}.hea: a multi-segment record ({len(header.seg_name)} segments), which ingest does not read "
            "yet; fix: ingest its segments as records of their own, or merge them into one record",
        )
    _check_header(header, path, cfg)
    try:
        record = wfdb.rdrecord(str(path), physical=True)
    except (ValueError, OSError, IndexError) as err:
        raise RecordError(
            "signal_unreadable",
            f"{path}: wfdb could not read the signal ({err}); fix: re-download the record or repair its signal file",
        ) from err
    signal = np.asarray(record.p_signal, dtype=np.float64).T  # (leads, samples)
    if signal.shape[1] != header.sig_len:
        raise RecordError(
            "length_mismatch",
            f"{path}: {signal.shape[1]} samples read, header declares "
            f"{header.sig_len}; fix: correct the length in {path.name}.hea",
        )
    leads = canonical_lead_names(list(record.sig_name), str(path))
    _check_values(signal, leads, path, cfg)
    return WfdbSignal(
        record_id=str(header.record_name),
        path=path,
        fs=float(header.fs),
        lead_names=leads,
        signal=signal.astype(np.float32),
        comments=list(header.comments or []),
        recorded_at=_recorded_at(header),
    )


def _read_header(path: Path) -> wfdb.Record:
    hea = path.with_name(path.name + ".hea")
    if not hea.is_file():
        raise RecordError("header_unreadable", f"{hea}: header file not found; fix: restore the .hea")
    try:
        return wfdb.rdheader(str(path))
    except ValueError as err:
        first = hea.read_text(errors="replace").splitlines()[:1]
        code = "bad_date" if "does not match format" in str(err) else "header_unreadable"
        raise RecordError(
            code,
            f"{hea}: header line {first} cannot be parsed ({err}); fix: write the "
            "base time/date as HH:MM:SS dd/mm/yyyy or remove them",
        ) from err
    except (OSError, IndexError, TypeError) as err:
        raise RecordError(
            "header_unreadable",
            f"{hea}: header cannot be parsed ({err}); fix: repair the header against the WFDB header specification",
        ) from err


def _check_header(header: wfdb.Record, path: Path, cfg: IngestConfig) -> None:
    hea = f"{path}.hea"
    if header.fs is None or float(header.fs) not in cfg.known_fs:
        raise RecordError(
            "unknown_fs",
            f"{hea}: sampling frequency {header.fs} Hz is not a known ECG "
            f"rate {list(cfg.known_fs)}; fix: correct the header or add the rate to "
            "IngestConfig.known_fs",
        )
    if not header.n_sig:
        raise RecordError(
            "no_signals",
            f"{hea}: header declares {header.n_sig} signals; fix: restore the header's signal lines",
        )
    unreadable = sorted({str(f) for f in header.fmt} - READABLE_FORMATS)
    if unreadable:
        raise RecordError(
            "unknown_format",
            f"{hea}: signal format(s) {unreadable} are not WFDB formats wfdb reads {sorted(READABLE_FORMATS)}; "
            "fix: correct the format field of the signal lines, or convert the signal with wfdb.wrsamp",
        )
    if not header.sig_len:
        raise RecordError(
            "zero_samples",
            f"{hea}: header declares {header.sig_len} samples; fix: remove the record or restore its signal",
        )
    _check_gains(path)
    for name, fmt, count, offset in _signal_files(header):
        _check_signal_file(path.with_name(name), fmt, count * header.sig_len, offset, hea)


def _check_gains(path: Path) -> None:
    lines = [
        ln
        for ln in Path(f"{path}.hea").read_text(errors="replace").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > 2 and not _GAIN.match(fields[2]):
            raise RecordError(
                "bad_gain",
                f"{path}.hea: gain field {fields[2]!r} of signal line "
                f"{line!r} is not a number; fix: write the ADC gain as e.g. 200/mV",
            )


def _signal_files(header: wfdb.Record) -> list[tuple[str, str, int, int]]:
    files: dict[str, list] = {}
    for name, fmt, offset in zip(header.file_name, header.fmt, header.byte_offset or [None] * len(header.file_name)):
        entry = files.setdefault(name, [str(fmt), 0, int(offset or 0)])
        entry[1] += 1
    return [(name, fmt, count, offset) for name, (fmt, count, offset) in files.items()]


def _check_signal_file(file: Path, fmt: str, n_values: int, offset: int, hea: str) -> None:
    if not file.is_file():
        raise RecordError(
            "missing_signal_file",
            f"{file}: signal file named in {hea} not found; fix: copy the signal file next to the header",
        )
    if fmt not in _BYTES_PER_SAMPLE:
        return  # compressed formats: their size does not follow from the sample count
    expected = offset + int(np.ceil(n_values * _BYTES_PER_SAMPLE[fmt]))
    actual = file.stat().st_size
    if actual < expected:
        raise RecordError(
            "length_mismatch",
            f"{file}: holds {actual} bytes but {hea} declares "
            f"{n_values} values in format {fmt} ({expected} bytes); fix: re-download "
            "the record if the file is truncated, or correct the length in the header",
        )


def _check_values(signal: np.ndarray, leads: list[str], path: Path, cfg: IngestConfig) -> None:
    bad = ~np.isfinite(signal)
    if bad.any():
        counts = {lead: int(n) for lead, n in zip(leads, bad.sum(axis=1)) if n}
        raise RecordError(
            "non_finite",
            f"{path}: invalid (NaN) samples per lead {counts}; fix: repair "
            "or interpolate the gap in the source, or remove the record",
        )
    ptp = np.ptp(signal, axis=1)
    flat = [lead for lead, amp in zip(leads, ptp) if amp < cfg.flat_mv]
    if flat:
        raise RecordError(
            "flat_lead",
            f"{path}: lead(s) {flat} are flat (peak-to-peak < "
            f"{cfg.flat_mv} mV); fix: check the electrode, or drop the lead from the "
            "record before ingest",
        )


def _recorded_at(header: wfdb.Record) -> dt.datetime | None:
    if header.base_date is None:
        return None
    return dt.datetime.combine(header.base_date, header.base_time or dt.time())
