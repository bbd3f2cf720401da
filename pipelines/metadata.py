"""Turning store summaries into Dagster metadata: markdown tables, embedded PNGs and table schemas."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow as pa

from feature_store.summary import markdown_table
from feature_store.views.catalog import ViewEntry
from feature_store.views.inputs import KEY_NOTES, KEY_SCHEMA


def md(df: pl.DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(df))


def png(data: bytes, path: Path, title: str) -> dict[str, dg.MetadataValue]:
    """Save the PNG in the workspace and embed it, so the UI shows it without a file server."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    b64 = base64.b64encode(data).decode()
    return {
        title: dg.MetadataValue.md(f"![{title}](data:image/png;base64,{b64})"),
        f"{title}_file": dg.MetadataValue.path(str(path)),
    }


def arrow_columns(schema: pa.Schema, notes: Mapping[str, str]) -> dg.TableSchema:
    """A stored table's columns for Dagster's Columns tab: Arrow types, and what each column means."""
    return dg.TableSchema(
        columns=[dg.TableColumn(f.name, _arrow_type(f.type), description=notes.get(f.name)) for f in schema]
    )


def view_columns(entry: ViewEntry) -> dg.TableSchema:
    """A feature view's columns: its keys, then each feature tensor with its shape per row and axes."""
    keys = pl.DataFrame(schema=KEY_SCHEMA).to_arrow().schema
    tensors = [
        dg.TableColumn(name, f"float32[{' x '.join(map(str, shape))}]", description=_axes(entry.describe.get(name)))
        for name, shape in entry.columns.items()
    ]
    return dg.TableSchema(columns=[*arrow_columns(keys, KEY_NOTES).columns, *tensors])


def _arrow_type(kind: pa.DataType) -> str:
    return str(kind).replace("item: ", "").replace("element: ", "")


def _axes(described: str | list | None, shown: int = 6) -> str | None:
    """A family's description of a column (`Family.describe`): its words, or the names along its last axis."""
    if isinstance(described, str) or described is None:
        return described
    names = [str(n) for n in described]
    if len(names) > 1 and names[0] == "leads":  # a per-lead axis, then the names along the next one
        return f"per lead: {_axes(names[1:], shown)}"
    more = f", ... ({len(names)} in all)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
