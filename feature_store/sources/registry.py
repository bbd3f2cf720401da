"""Source kinds by name, and discovery: which records of which kind lie in the source folders."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from ..config import IngestConfig
from .annotated import AnnotatedBeatSource
from .base import RecordRef, Source
from .challenge import ChallengeSource
from .files import is_regular, read_head
from .header_text import is_multi_segment, named_files
from .plain import PlainWfdbSource
from .ptbxl import DATABASE, PtbxlSource, discover_ptbxl
from .rhythm_labels import REFERENCE, reference_codes

SOURCES: dict[str, Source] = {
    s.kind: s for s in (PtbxlSource(), ChallengeSource(), AnnotatedBeatSource(), PlainWfdbSource())
}
KINDS = tuple(SOURCES)
_RECORD_SUFFIXES = {".hea", ".dat", ".mat", ".atr", ".xyz"}


def discover(folders: list[Path], cfg: IngestConfig) -> dict[str, list[RecordRef]]:
    """Record references per kind, sorted by path so that runs are reproducible."""
    found: dict[str, list[RecordRef]] = defaultdict(list)
    for folder in folders:
        if not folder.is_dir():
            raise ValueError(
                f"source folder {folder} does not exist; fix: point ECGNET_DATA at existing folders (':'-separated)"
            )
        ptbxl_roots = sorted(p.parent for p in folder.rglob(DATABASE))
        for root in ptbxl_roots:
            found["ptbxl"].extend(discover_ptbxl(root, cfg))
        headers = [h for h in sorted(folder.rglob("*.hea")) if not any(root in h.parents for root in ptbxl_roots)]
        # a header naming itself as its own segment stays a record (and is quarantined when read), not lost
        segments = {seg for hea in headers if is_multi_segment(hea) for seg in named_files(hea, depth=0) if seg != hea}
        references: dict[Path, tuple[Path, dict[str, str]]] = {}  # a records folder -> its CinC 2017 labels
        for hea in headers:
            if hea not in segments:  # a segment is read through its multi-segment record
                path, kind = hea.with_suffix(""), _kind(hea.with_suffix(""))
                if hea.parent not in references:
                    table = _reference_of(hea.parent, folder)
                    references[hea.parent] = (table, reference_codes(table.parent))
                table, codes = references[hea.parent]
                code = codes.get(path.name)
                meta = {"reference": code, "reference_file": str(table)} if code is not None and kind == "wfdb" else {}
                found[kind].append(RecordRef(kind, path, folder, meta))
    return {kind: sorted(found.get(kind, []), key=lambda r: str(r.path)) for kind in KINDS}


def _reference_of(records: Path, root: Path) -> Path:
    """The REFERENCE.csv labelling a folder's records: its own, else the nearest above it inside the
    source folder `root` (CinC 2017's 8,528 training records kept in subfolders such as A00 ... A08 under
    one REFERENCE.csv); the folder's own path where there is none (read as no labels)."""
    for folder in (records, *records.parents):
        if (folder / REFERENCE).is_file():
            return folder / REFERENCE
        if folder == root or root not in folder.parents:
            break
    return records / REFERENCE


def _kind(path: Path) -> str:
    """Annotated, Challenge or plain WFDB; a header that is not a regular file reads as plain WFDB,
    where ingest quarantines it by name (`sources.files`) instead of opening it."""
    if is_regular(path.with_name(path.name + ".atr")):
        return "annotated"
    text = read_head(path.with_name(path.name + ".hea"))
    if any(line.lstrip("# ").lower().startswith("dx:") for line in text.splitlines() if line.startswith("#")):
        return "challenge"
    return "wfdb"


def folder_state(folders: list[Path]) -> str:
    """A cheap fingerprint of the record files under `folders` (names, sizes, mtimes)."""
    h = hashlib.blake2b(digest_size=12)
    for folder in folders:
        for file in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if file.suffix in _RECORD_SUFFIXES or file.name in (DATABASE, REFERENCE):
                try:
                    st = file.stat()
                    h.update(f"{file}|{st.st_size}|{st.st_mtime_ns}\n".encode())
                except OSError:  # a dangling link or a loop: ingest quarantines it by name
                    h.update(f"{file}|unreadable\n".encode())
    return h.hexdigest()
