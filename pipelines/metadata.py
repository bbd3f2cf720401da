"""Turning store summaries into Dagster metadata: markdown tables and embedded PNGs."""

from __future__ import annotations

import base64
from pathlib import Path

import dagster as dg
import polars as pl

from feature_store.summary import markdown_table


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
