"""Data-quality facts about a stored feature view, for the pipeline's asset checks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .catalog import ViewEntry
from .inputs import KEYS
from .storage import entry_parts, part_schema, read_part, tensor_of


def schema_problems(entry: ViewEntry) -> list[str]:
    """What differs between the stored parts and the catalog: keys, tensor columns and shapes."""
    problems = []
    for part in entry_parts(entry):
        schema = part_schema(part)
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
    for part in entry_parts(entry):
        for column, shape in entry.columns.items():
            values = tensor_of(read_part(part, [column]).column(column), shape)
            counts[column] += int((~np.isfinite(values)).sum())
    return counts
