"""Patient-wise splits: PTB-XL's strat_fold, MIT-BIH's DS1/DS2 table, a stable hash otherwise."""

from __future__ import annotations

import csv
import hashlib
import re
from functools import cache
from pathlib import Path

_MITDB_SPLIT = Path(__file__).with_name("mitdb_split.csv")
# Record names that carry their patient, by database layout; a record matching none is its own patient.
PATIENT_PATTERNS = ((re.compile(r"^data_(?P<patient>\d+)_\d+$"), "CPSC 2021: data_<patient>_<record>"),)
# Record folders that are their patient, by database layout: PTB Diagnostic keeps a patient's records
# (several sessions, up to 5 of 290 patients' 549 records) in `patient<NNN>/`.
FOLDER_PATIENT = re.compile(r"^patient\d{3}$")
# The published MIT-BIH inter-patient protocol (de Chazal et al. 2004) keeps records 201 (DS1) and 202
# (DS2), one patient, on both sides; kept for comparability with published results, and named here so
# the patient check reports it instead of failing on it.
PROTOCOL_OVERLAPS = {frozenset({"201", "202"}): "de Chazal 2004 DS1/DS2: records 201 and 202 are one patient"}


def fold_split(fold: int) -> str:
    """PTB-XL's recommendation: folds 1-8 train, 9 validation, 10 test."""
    if not 1 <= fold <= 10:
        raise ValueError(f"strat_fold must be 1..10, got {fold}")
    return "train" if fold <= 8 else ("val" if fold == 9 else "test")


def hash_split(patient_id: str) -> str:
    """Stable 10-fold assignment by patient, so every record of a patient shares one split."""
    fold = int(hashlib.blake2b(patient_id.encode(), digest_size=4).hexdigest(), 16) % 10 + 1
    return fold_split(fold)


# A record made from a MIT-BIH record keeps its patient and split: the Noise Stress Test Database's
# 118e24 ... 119e_6 are 118 and 119 with calibrated noise added. As a patient of its own it would be
# hashed into any split, and a noisy copy of a DS1 patient could be scored as a test patient.
# MIT-BIH's own distribution also carries x_mitdb/: x_108 ... are its records' first 600 s, baseline
# removed (`mitdb_extract_of`; ingest excludes them, as their beats are the parent's).
_NOISE_STRESS = re.compile(r"^(?P<record>\d{3})e_?\d+$")
_X_MITDB = re.compile(r"^x_(?P<record>\d{3})$")


def _parent(pattern: re.Pattern[str], record: str) -> str:
    """The MIT-BIH record `pattern` finds in the name `record` ('' where none, or not MIT-BIH's)."""
    m = pattern.match(record)
    return m.group("record") if m and m.group("record") in mitdb_table() else ""


def _mitdb_source(record: str) -> str:
    """The MIT-BIH record `record` is made from (itself for a MIT-BIH record); '' for any other."""
    return record if record in mitdb_table() else _parent(_NOISE_STRESS, record) or _parent(_X_MITDB, record)


def mitdb_extract_of(record: str) -> str:
    """The MIT-BIH record `record` is an x_mitdb extract of ('' for any other record)."""
    return _parent(_X_MITDB, record)


def folder_patient(folder: Path) -> str | None:
    """The patient a records folder is, where its layout says so (PTB Diagnostic's `patient001`)."""
    return folder.name if FOLDER_PATIENT.match(folder.name) else None


def patient_of(record: str) -> str:
    """The patient a record belongs to: MIT-BIH's table (for its records and those made from them), a
    layout's pattern, else the record itself."""
    if source := _mitdb_source(record):
        return mitdb_table()[source][0]
    for pattern, _ in PATIENT_PATTERNS:
        if m := pattern.match(record):
            return m.group("patient")
    return record


def assign(record: str, patient: str | None = None) -> tuple[str, str]:
    """(patient_id, split) of a record: MIT-BIH's table for its records and those made from them, else
    `patient` where a patients table names one (`folder_tables.PATIENTS`), else `patient_of`; the split
    is then the stable hash of the patient, so all of a patient's records share it."""
    if source := _mitdb_source(record):
        return mitdb_table()[source]
    patient = patient or patient_of(record)
    return patient, hash_split(patient)


@cache
def mitdb_table() -> dict[str, tuple[str, str]]:
    """record -> (patient_id, split) for MIT-BIH (de Chazal et al. 2004 inter-patient split)."""
    with _MITDB_SPLIT.open() as f:
        return {row["record"]: (row["patient_id"], row["split"]) for row in csv.DictReader(f)}
