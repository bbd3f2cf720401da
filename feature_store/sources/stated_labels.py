"""A record's diagnosis as the ingest lands it, read on its own (`predict --task records --reference`): the
superclasses its header states (the Challenges' `# Dx:` SNOMED CT codes, PTB Diagnostic's reason for
admission) or its row of the PTB-XL table above it gives, by the same mappings (`challenge.header_labels`,
`ptbxl.row_labels`)."""

from __future__ import annotations

from pathlib import Path

from ..config import IngestConfig
from .base import RecordRef
from .challenge import header_labels, states_diagnosis
from .files import read_head, while_unchanged
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
        ref = _ptbxl_rows(table, cfg.record_fs).get(record)
        if ref is not None:
            if ref.problem:
                raise ValueError(ref.problem)
            return row_labels(ref)[0], f"{table} (ecg_id {ref.meta['ecg_id']})"
    header = record.with_name(record.name + ".hea")
    text = read_head(header)
    if not states_diagnosis(text):  # as the ingest tells a Challenge record from a plain one
        raise ValueError(
            f"{header}: states no diagnosis (no `# Dx:` or `# Reason for admission:` line) and no PTB-XL table "
            "names it; fix: for PTB-XL, give the folder that holds its ptbxl_database.csv; else score records whose "
            "header states their diagnosis"
        )
    return header_labels(header_comments(text), record, cfg)[0], str(header)


def _rows(table: Path, record_fs: float) -> dict[Path, RecordRef]:
    """Each row of a PTB-XL table, by its record at either rate (records100, records500) -> its ref."""
    root = table.parent
    out: dict[Path, RecordRef] = {}
    for ref in discover_ptbxl(root, IngestConfig(record_fs=record_fs)):
        for column in ("filename_lr", "filename_hr"):
            if ref.meta.get(column):
                out.setdefault(root / ref.meta[column], ref)
    return out


_ptbxl_rows = while_unchanged(_rows, maxsize=4)  # a folder's records share one table: read once
