"""What a WFDB header says before wfdb parses it: the files it names and the base date and time.

Read from at most `files.HEADER_LIMIT` bytes, never raising: a header wfdb cannot parse is reported
by the reader, with its own reason.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .files import read_head

_TIME = re.compile(r"^\d{1,2}(:\d{1,2}){0,2}(\.\d+)?$")
# base date and time as records write them: WFDB's "HH:MM:SS dd/mm/yyyy" and the ISO forms of
# CinC 2017 ("2014-05-08 05:05:15") and others
_FORMATS = (
    "%H:%M:%S %d/%m/%Y",
    "%H:%M:%S.%f %d/%m/%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%H:%M:%S %Y-%m-%d",
    "%Y-%m-%d",
    "%d/%m/%Y",
)


def header_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def header_comments(text: str) -> list[str]:
    """The header's comment lines as wfdb gives them (`# Dx: 164889003` -> `Dx: 164889003`: spaces, tabs and
    `#` stripped from both ends), so that the ingest's reading of them and this one agree."""
    return [ln.strip(" \t#") for ln in text.splitlines() if ln.lstrip().startswith("#")]


@dataclass(frozen=True)
class BaseTime:
    """The record line's base date and time as written, and what could be made of it."""

    written: str  # the fields after the length, "" when none
    standard: bool  # wfdb reads it as it is
    at: dt.datetime | None  # parsed, when it is a date (a time alone gives none)


def base_time(text: str) -> BaseTime:
    lines = header_lines(text)
    tokens = lines[0].split() if lines else []
    written = " ".join(tokens[4:])
    if not written:
        return BaseTime("", True, None)
    standard = _is_standard(tokens[4:])
    for fmt in _FORMATS:
        try:
            return BaseTime(written, standard, dt.datetime.strptime(written, fmt))
        except ValueError:
            continue
    return BaseTime(written, standard, None)


def _is_standard(fields: list[str]) -> bool:
    """Whether wfdb's own parser takes these base time/date fields (time, then dd/mm/yyyy)."""
    if len(fields) > 2 or not _TIME.match(fields[0]):
        return False
    if len(fields) == 1:
        return True
    try:
        dt.datetime.strptime(fields[1], "%d/%m/%Y")
    except ValueError:
        return False
    return True


def without_base_time(text: str) -> str:
    """The header with its record line cut after the length (name, signals, rate, length)."""
    out, done = [], False
    for line in text.splitlines():
        if not done and line.strip() and not line.lstrip().startswith("#"):
            line, done = " ".join(line.split()[:4]), True
        out.append(line)
    return "\n".join(out) + "\n"


def _multi(lines: list[str]) -> bool:
    """Whether the record line reads `name/segments`."""
    return bool(lines) and "/" in lines[0].split()[0]


def is_multi_segment(hea: Path) -> bool:
    return _multi(header_lines(read_head(hea)))


def named_files(hea: Path, *, depth: int = 1) -> list[Path]:
    """Files a header names that exist (or are links) beside it: signal files, and for a multi-segment
    record its segment headers and their signal files (`depth` levels down)."""
    lines = header_lines(read_head(hea))
    multi, out = _multi(lines), []
    for line in lines[1:]:
        name = line.split()[0]
        if name == "~" or name.startswith("-"):  # a gap segment; "-" reads from stdin
            continue
        file = hea.parent / (name + ".hea" if multi else name)
        if file in out or not os.path.lexists(file):
            continue
        out.append(file)
        if multi and depth > 0:
            out += [f for f in named_files(file, depth=depth - 1) if f not in out]
    return out
