"""Typed configuration for ingest: target rates, beat windows and validation thresholds."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

# A setting added once workspaces existed: at its default it leaves every fingerprint as it was, so an
# upgrade reads no record again; set, it reads the records again as any changed setting does.
_ADDED_LATER = {"fingerprint": "unless_default"}

# Sampling rates seen in public ECG databases; anything else is more likely a typo in a header.
# 300 Hz: CinC 2017 (AliveCor); 257 Hz: INCART; 128 Hz: AFDB/NSRDB style Holters; 1 kHz: PTB
KNOWN_FS = (100.0, 125.0, 128.0, 200.0, 250.0, 256.0, 257.0, 300.0, 360.0, 400.0, 500.0, 1000.0)


@dataclass(frozen=True)
class IngestConfig:
    record_fs: float = 100.0  # Hz; record tasks (PTB-XL style): 100 Hz is as good as 500 Hz
    beat_fs: float = 360.0  # Hz; beat tasks keep MIT-BIH's native rate by default
    beat_before_s: float = 0.25  # s of the 0.7 s beat window before the R peak
    beat_after_s: float = 0.45  # s of the beat window after the R peak
    context_s: float = 2.0  # s; context window centred on the R peak (holds the beat window)
    flat_mv: float = 0.01  # a lead whose peak-to-peak amplitude is below this (mV) is flat
    known_fs: tuple[float, ...] = field(default=KNOWN_FS)
    paced_records: tuple[str, ...] = ("102", "104", "107", "217")  # AAMI excludes paced records
    # The Challenge writes PTB-XL's NORM as sinus rhythm (426783006); no SNOMED code means "normal
    # ECG". With this on, sinus rhythm and no code of a diagnostic superclass is labelled NORM.
    norm_from_sinus_rhythm: bool = True
    # A record file that is a link resolving outside its data folder is refused (quarantined as
    # outside_folder): a hostile or mistaken `x.dat -> /etc/passwd` must not land as an ECG.
    outside_links: bool = False
    # a record is read whole: over this many samples (all signals; float64 while read, so 8 bytes
    # each) it is refused as too_long before reading. 100 M: a 24 h two-lead Holter at 360 Hz is 62 M
    max_record_values: int = 100_000_000
    # invalid samples (WFDB's "no value") in runs up to this long are interpolated, with a note; a
    # longer gap (a dropout) is kept out of every row: the beats and episodes it reaches, a record-level
    # source's row (cut past it). 0.05 s is under a QRS complex
    max_gap_s: float = 0.05
    # plausibility: a record shorter than this holds no beat worth a window; an ECG lead whose
    # 99.9th percentile of |x| exceeds max_abs_mv was scaled wrong (gain, baseline or units)
    min_duration_s: float = 2.0
    max_abs_mv: float = 50.0
    # the af task's episodes from beat-annotated records too (LTAFDB; MIT-BIH's keep DS1/DS2, splits the
    # af task does not read), whose rhythm notes sit beside labelled beats; off: only AF databases' records
    # (a CPSC 2021 header statement, or an .atr of rhythm changes only as AFDB's) give episodes
    rhythm_from_beat_records: bool = field(default=False, metadata=_ADDED_LATER)

    def __post_init__(self) -> None:
        if self.record_fs <= 0 or self.beat_fs <= 0:
            raise ValueError(f"target rates must be positive, got record_fs={self.record_fs}, beat_fs={self.beat_fs}")
        if self.beat_before_s + self.beat_after_s <= 0:
            raise ValueError("the beat window (beat_before_s + beat_after_s) must be longer than 0 s")
        half = self.context_s / 2
        if self.beat_before_s > half or self.beat_after_s > half:
            raise ValueError(
                f"the beat window ({self.beat_before_s} s before, {self.beat_after_s} s "
                f"after the R peak) must fit in the {self.context_s} s context window; "
                "raise context_s or shorten the beat window"
            )

    @property
    def context_samples(self) -> int:
        return int(round(self.context_s * self.beat_fs))

    def beat_span(self) -> tuple[int, int]:
        """(start, stop) of the beat window inside the stored context window, in samples."""
        centre = self.context_samples // 2
        return (
            centre - int(round(self.beat_before_s * self.beat_fs)),
            centre + int(round(self.beat_after_s * self.beat_fs)),
        )

    def fingerprint(self) -> str:
        settings = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.metadata != _ADDED_LATER or getattr(self, f.name) != f.default
        }
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


# What a reader of records shares with the pipeline through the environment (the Dagster resources read
# them too): a workspace whose records at 160 Hz landed with ECGNET_KNOWN_FS=160 must score one as well.
KNOWN_FS_ENV = "ECGNET_KNOWN_FS"  # comma-separated rates (Hz) added to KNOWN_FS
MAX_RECORD_VALUES_ENV = "ECGNET_MAX_RECORD_VALUES"  # IngestConfig.max_record_values


def known_fs_from(extra: str | None) -> tuple[float, ...]:
    """KNOWN_FS plus the rates of a KNOWN_FS_ENV value ("128,300"), sorted."""
    try:
        added = [float(v) for v in (extra or "").replace(" ", "").split(",") if v]
    except ValueError as err:
        raise ValueError(f"{KNOWN_FS_ENV}={extra!r}; fix: comma-separated rates in Hz, e.g. 160,2000") from err
    return tuple(sorted({*KNOWN_FS, *added}))


def whole_number(text: str, low: int, high: int | None = None) -> int | None:
    """`text` as a whole number from `low` to `high` (None: no bound), else None: each setting that reads one
    refuses the rest in its own words, with its own example."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= low and (high is None or value <= high) else None


def max_record_values_from(value: str | None) -> int:
    """A MAX_RECORD_VALUES_ENV value, or the default."""
    if not value:
        return IngestConfig.max_record_values
    try:
        values = int(float(value))
    except ValueError:
        values = 0
    if values <= 0:
        raise ValueError(f"{MAX_RECORD_VALUES_ENV}={value!r}; fix: a positive number of samples, e.g. 300000000")
    return values


def ingest_from_env(environ: Mapping[str, str] = os.environ) -> IngestConfig:
    """The defaults with what the environment sets (rates, the size limit): how `predict` reads a record."""
    return IngestConfig(
        known_fs=known_fs_from(environ.get(KNOWN_FS_ENV)),
        max_record_values=max_record_values_from(environ.get(MAX_RECORD_VALUES_ENV)),
    )
