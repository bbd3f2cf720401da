"""Two-column tables a database keeps beside its records, `record,value` per line: CinC 2017's labels
(`REFERENCE.csv`) and a patients table (`PATIENTS.csv`, `record,patient`) for databases whose record
names do not say whose they are. A records folder is served by the nearest table at or above it, inside
the source folder (a training set kept in subfolders under one table)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from .files import read_head

log = logging.getLogger(__name__)

REFERENCE = "REFERENCE.csv"
PATIENTS = "PATIENTS.csv"


def nearest_table(records: Path, root: Path, name: str) -> Path:
    """The table `name` serving a folder's records: its own, else the nearest above it inside the source
    folder `root`; the folder's own path where there is none (read as an empty table)."""
    for folder in (records, *records.parents):
        if (folder / name).is_file():
            return folder / name
        if folder == root or root not in folder.parents:
            break
    return records / name


def read_pairs(table: Path, what: str) -> dict[str, str]:
    """record -> value from `table` ({} where there is none); a malformed line is skipped with a warning
    naming it, and its record goes on without the value (`what`: what that leaves it, for the warning)."""
    text = read_head(table, limit=1 << 24)
    pairs = {}
    for number, row in enumerate(csv.reader(text.splitlines()), 1):
        if len(row) != 2 or not row[0].strip():  # an empty value is kept: the source says what it means
            log.warning("%s line %d: %r is not `record,value`; it lands %s", table, number, row, what)
            continue
        pairs[row[0].strip()] = row[1].strip()
    return pairs
