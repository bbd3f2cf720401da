"""Data-quality facts about a stored feature view, for the pipeline's asset checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .catalog import ViewEntry
from .inputs import KEYS
from .storage import scan_entry, tensor_of


def schema_problems(entry: ViewEntry) -> list[str]:
    """What differs between the stored parts and the catalog: keys, tensor columns and shapes."""
    problems = []
    for part in sorted(Path(entry.path).glob("*.parquet")):
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
    """Count of NaN or infinite values per feature column."""
    counts = {}
    for column, shape in entry.columns.items():
        table = scan_entry(entry).select(column).collect().to_arrow()
        counts[column] = int((~np.isfinite(tensor_of(table.column(column), shape))).sum())
    return counts
