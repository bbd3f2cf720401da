"""Data-quality facts about a stored feature view, for the pipeline's asset checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .catalog import ViewEntry
from .inputs import KEYS
from .storage import entry_folders, tensor_of


def _parts(entry: ViewEntry) -> list[Path]:
    return [p for folder in entry_folders(entry) for p in sorted(folder.glob("*.parquet"))]


def schema_problems(entry: ViewEntry) -> list[str]:
    """What differs between the stored parts and the catalog: keys, tensor columns and shapes."""
    problems = []
    for part in _parts(entry):
        schema = pq.read_schema(part)
        missing = [k for k in KEYS if k not in schema.names]
        if missing:
            problems.append(f"{part.name}: key columns {missing} missing")
        for column, shape in entry.columns.items():
            if column not in schema.names:
                problems.append(f"{part.name}: feature column {column!r} missing")
                continue
            found, typ = [], schema.field(column).type
            while pa.types.is_fixed_size_list(typ):
                found.append(typ.list_size)
                typ = typ.value_type
            if found != list(shape) or typ != pa.float32():
                problems.append(f"{part.name}: {column} is {found} x {typ}, catalog says {shape} x float")
    return problems


def non_finite(entry: ViewEntry) -> dict[str, int]:
    """Count of NaN or infinite values per feature column, a part file at a time (bounded memory)."""
    counts = dict.fromkeys(entry.columns, 0)
    for part in _parts(entry):
        for column, shape in entry.columns.items():
            values = tensor_of(pq.read_table(part, columns=[column]).column(column), shape)
            counts[column] += int((~np.isfinite(values)).sum())
    return counts
