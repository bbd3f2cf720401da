"""Does every annotated beat of every landed record appear in the beat table or the edge count? Does
every patient stay in one split?"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .raw_store import RawStore
from .sources.annotated import read_annotations, read_beats
from .sources.splits import PROTOCOL_OVERLAPS


def beat_accounting(store: RawStore, kind: str = "annotated", record_ids: list[str] | None = None) -> pl.DataFrame:
    """Per landed record (of `record_ids`, default all): beats in the `.atr` file against beats in the table
    plus edge beats (those a dropout reaches among them). A run over some shards passes their records:
    another shard's ingest, running beside it, may have written a record's row but not yet its beats."""
    keep = pl.lit(True) if record_ids is None else pl.col("record_id").is_in(record_ids)
    records = (
        store.scan_records((kind,))
        .filter(keep)
        .select("record_id", "path", "n_beats", n_edge=pl.col("edge_beat_labels").list.len())
        .collect()
    )
    in_table = store.scan_beats((kind,)).filter(keep).group_by("record_id").agg(rows=pl.len()).collect()
    annotated = [len(read_beats(read_annotations(Path(p)))[0]) for p in records["path"].to_list()]
    return (
        records.with_columns(annotated=pl.Series(annotated, dtype=pl.Int64))
        .join(in_table, on="record_id", how="left")
        .fill_null(0)
        .with_columns(accounted=pl.col("rows") + pl.col("n_edge"))
        .with_columns(ok=(pl.col("accounted") == pl.col("annotated")) & (pl.col("rows") == pl.col("n_beats")))
    )


def patients_in_two_splits(records: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Patients (per dataset: ids of two databases never meet) whose records lie in more than one split,
    as (leaks, protocol overlaps): the second are the published protocols' own, e.g. MIT-BIH 201/202."""
    table = (
        records.group_by("dataset", "patient_id")
        .agg(splits=pl.col("split").unique().sort(), record_ids=pl.col("record_id").unique().sort())
        .filter(pl.col("splits").list.len() > 1)
        .sort("dataset", "patient_id")
    )
    known = pl.Series([frozenset(r) in PROTOCOL_OVERLAPS for r in table["record_ids"].to_list()], dtype=pl.Boolean)
    return table.filter(~known), table.filter(known)
