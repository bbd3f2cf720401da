"""A record's diagnosis as the ingest lands it, read on its own (`predict --task records --reference`): the
superclasses its header states (the Challenges' `# Dx:` SNOMED CT codes, PTB Diagnostic's reason for
admission) or its row of the PTB-XL table above it gives, by the same mappings (`challenge.header_labels`,
`ptbxl.row_labels`)."""

from __future__ import annotations

import functools
from pathlib import Path

from ..config import IngestConfig
from .base import RecordRef
from .challenge import ADMISSION, DX, header_labels
from .files import read_head
from .folder_tables import nearest_table
from .header_text import header_comments
from .ptbxl import DATABASE, discover_ptbxl, row_labels


def stated_labels(record: Path, root: Path | None = None, cfg: IngestConfig | None = None) -> tuple[list[str], str]:
    """(superclasses, where they were read) of `record` (its path without suffix): its PTB-XL table row where a
    `ptbxl_database.csv` above it (inside `root`; None: any folder above) names it, else its header's stated
    diagnosis. ValueError naming the record where neither states one; RecordError where a row cannot be read."""
    cfg = cfg or IngestConfig()
    table = nearest_table(record.parent, Path(record.anchor) if root is None else root, DATABASE)
    if table.is_file():
        ref = _ptbxl_rows(table.parent, cfg).get(record)
        if ref is not None:
            if ref.problem:
                raise ValueError(ref.problem)
            return row_labels(ref)[0], f"{table} (ecg_id {ref.meta['ecg_id']})"
    header = record.with_name(record.name + ".hea")
    comments = header_comments(read_head(header))
    stated = {c.partition(":")[0].strip().lower() for c in comments}
    if not stated & {DX, ADMISSION}:
        raise ValueError(
            f"{header}: states no diagnosis (no `# Dx:` or `# Reason for admission:` line) and no PTB-XL table "
            "names it; fix: for PTB-XL, give the folder that holds its ptbxl_database.csv; else score records whose "
            "header states their diagnosis"
        )
    return header_labels(comments, record, cfg)[0], str(header)


def _ptbxl_rows(root: Path, cfg: IngestConfig) -> dict[Path, RecordRef]:
    """Each row's record at either rate (records100, records500) -> its ref, read once while the table stays."""
    stat = (root / DATABASE).stat()
    return _read_rows(root, stat.st_mtime_ns, stat.st_size, cfg.record_fs)


@functools.lru_cache(maxsize=4)
def _read_rows(root: Path, mtime_ns: int, size: int, record_fs: float) -> dict[Path, RecordRef]:
    out: dict[Path, RecordRef] = {}
    for ref in discover_ptbxl(root, IngestConfig(record_fs=record_fs)):
        for column in ("filename_lr", "filename_hr"):
            if ref.meta.get(column):
                out.setdefault(root / ref.meta[column], ref)
    return out
