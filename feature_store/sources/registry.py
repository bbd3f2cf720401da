"""Source kinds by name, and discovery: which records of which kind lie in the source folders."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..config import IngestConfig
from .annotated import AnnotatedBeatSource
from .base import RecordRef, Source
from .challenge import ChallengeSource, states_diagnosis
from .edf_record import EDF_SUFFIX, edf_file
from .files import is_regular, read_head
from .folder_tables import PATIENTS, REFERENCE, nearest_table, read_pairs
from .header_text import is_multi_segment, named_files
from .plain import PlainWfdbSource
from .ptbxl import DATABASE, PtbxlSource, discover_ptbxl
from .splits import folder_patient

SOURCES: dict[str, Source] = {
    s.kind: s for s in (PtbxlSource(), ChallengeSource(), AnnotatedBeatSource(), PlainWfdbSource())
}
KINDS = tuple(SOURCES)
_BDF = ".bdf"  # BioSemi's 24-bit EDF, which is not read: quarantined by name (`strays`)
# every file discovery reads or quarantines (a lone signal file, a BDF: `strays`), in any case (`.EDF`)
_RECORD_SUFFIXES = {".hea", ".dat", ".mat", ".atr", ".xyz", EDF_SUFFIX, _BDF}


def check_folders(folders: list[Path]) -> None:
    """ValueError naming every source folder that is not there, and the fix."""
    if absent := [str(f) for f in folders if not f.is_dir()]:
        raise ValueError(
            f"source folder(s) {', '.join(absent)} do not exist; fix: point ECGNET_DATA at existing folders "
            "(':'-separated), or unset it for the bundled data/sample"
        )


def discover(folders: list[Path], cfg: IngestConfig) -> dict[str, list[RecordRef]]:
    """Record references per kind, sorted by path so that runs are reproducible."""
    found: dict[str, list[RecordRef]] = defaultdict(list)
    check_folders(folders)
    for folder in folders:
        ptbxl_roots = sorted(p.parent for p in folder.rglob(DATABASE))
        for root in ptbxl_roots:
            found["ptbxl"].extend(discover_ptbxl(root, cfg))
        every_header = sorted(folder.rglob("*.hea"))  # PTB-XL's too: they name signal files (`strays`)
        headers = [h for h in every_header if not any(root in h.parents for root in ptbxl_roots)]
        # an EDF file is a record where no header names it (`edf_record`): read as its header would be
        edfs = [f for f in sorted(folder.rglob("*.[eE][dD][fF]")) if edf_file(f.with_suffix("")) == f]
        # a header naming itself as its own segment stays a record (and is quarantined when read), not lost
        segments = {seg for hea in headers if is_multi_segment(hea) for seg in named_files(hea, depth=0) if seg != hea}
        tables: dict[Path, _Tables] = {}  # a records folder -> the tables serving it
        read = cache(read_pairs)  # one table may serve many folders (subfolders under one REFERENCE.csv)
        # a segment is read through its multi-segment record
        for file in [hea for hea in headers if hea not in segments] + edfs:
            path, kind = file.with_suffix(""), _kind(file.with_suffix(""))
            if file.parent not in tables:
                tables[file.parent] = _Tables.of(file.parent, folder, read)
            found[kind].append(RecordRef(kind, path, folder, tables[file.parent].meta(path.name, kind)))
        found["wfdb"].extend(strays(folder, every_header))
    return {kind: sorted(found.get(kind, []), key=lambda r: str(r.path)) for kind in KINDS}


# signal files a header names (WFDB's, the Challenges' MATLAB ones)
_SIGNAL_SUFFIXES = (".dat", ".mat")


def strays(folder: Path, headers: list[Path]) -> list[RecordRef]:
    """Files under `folder` that look like a record's but no record reads: a signal file no header names
    (its header lost in a copy) and a BDF file. Each is a plain ref that quarantines itself, by name and with
    its fix, so that it is said instead of passed over."""
    beside = {h.with_suffix("") for h in headers}  # a signal file named after its header: the common case
    found = [
        f
        for f in sorted(folder.rglob("*"))
        if f.suffix.lower() == _BDF or (f.suffix.lower() in _SIGNAL_SUFFIXES and f.with_suffix("") not in beside)
    ]
    if not found:
        return []
    named = {f for hea in headers for f in named_files(hea)}  # a header may name a file of another name
    refs: dict[Path, RecordRef] = {}
    for file in found:
        if file in named or file.with_suffix("") in refs:
            continue
        if file.suffix.lower() == _BDF:
            code, problem = (
                "unknown_format",
                f"{file}: BDF (BioSemi's 24-bit EDF) is not read; fix: convert it to EDF or WFDB (EDFbrowser, MNE)",
            )
        else:
            code, problem = (
                "header_unreadable",
                f"{file}: a signal file that no header names; fix: restore its header ({file.stem}.hea) beside it, "
                "or remove the file",
            )
        refs[file.with_suffix("")] = RecordRef(
            "wfdb", file.with_suffix(""), folder, {"row_problem": problem, "problem_code": code}
        )
    return list(refs.values())


@dataclass(frozen=True)
class _Tables:
    """The CinC 2017 labels and the patients table serving one records folder (`records`), with where they are."""

    records: Path
    reference: Path
    labels: dict[str, str]
    patients_file: Path
    patients: dict[str, str]

    @classmethod
    def of(cls, records: Path, root: Path, read: Callable[[Path, str], dict[str, str]]) -> _Tables:
        reference, patients = nearest_table(records, root, REFERENCE), nearest_table(records, root, PATIENTS)
        return cls(records, reference, read(reference, "unlabelled"), patients, read(patients, "its own patient"))

    def meta(self, record: str, kind: str) -> dict:
        """What the tables say of `record`: its CinC 2017 label (plain WFDB records only) and its patient;
        without a patients table's, the patient its folder names (PTB Diagnostic's `patient001/`)."""
        meta: dict = {}
        if kind == "wfdb" and record in self.labels:
            meta |= {"reference": self.labels[record], "reference_file": str(self.reference)}
        if self.patients.get(record):  # an empty cell leaves the record its own patient
            meta |= {"patient": self.patients[record], "patients_file": str(self.patients_file)}
        elif patient := folder_patient(self.records):
            meta |= {"patient": patient}
        return meta


def _kind(path: Path) -> str:
    """Annotated, Challenge or plain WFDB; a header that is not a regular file reads as plain WFDB,
    where ingest quarantines it by name (`sources.files`) instead of opening it."""
    if is_regular(path.with_name(path.name + ".atr")):
        return "annotated"
    if states_diagnosis(read_head(path.with_name(path.name + ".hea"))):  # Challenge's, PTB Diagnostic's
        return "challenge"
    return "wfdb"


def folder_state(folders: list[Path]) -> str:
    """A cheap fingerprint of the record files under `folders` (names, sizes, mtimes)."""
    return files_state(
        file
        for folder in folders
        for file in (sorted(folder.rglob("*")) if folder.is_dir() else [])
        if file.suffix.lower() in _RECORD_SUFFIXES or file.name in (DATABASE, REFERENCE, PATIENTS)
    )


def files_state(files: Iterable[Path]) -> str:
    """A cheap fingerprint of `files`, in order: each one's path, size and mtime (a file that cannot be
    stat'ed, a dangling link or a loop, by its path: ingest quarantines it by name)."""
    h = hashlib.blake2b(digest_size=12)
    for file in files:
        try:
            st = file.stat()
            h.update(f"{file}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{file}|unreadable\n".encode())
    return h.hexdigest()
