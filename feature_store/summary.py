"""Summaries of the raw store that people read: classes per split, quarantine reasons, totals."""

from __future__ import annotations

import polars as pl

from .raw_store import RawStore


def class_counts(store: RawStore, kind: str) -> pl.DataFrame:
    """Rows per class (AAMI class for beats, superclass for records) and split, plus a total; counted
    while scanning, so a database of a million beats is never held as rows."""
    if kind == "annotated":
        long = store.scan_beats((kind,)).select("label", "split")
    else:
        long = (
            store.scan_records((kind,))
            .select("labels", "split")
            .with_columns(
                pl.when(pl.col("labels").list.len() > 0)
                .then(pl.col("labels"))
                .otherwise(pl.lit(["(none)"]))
                .alias("label")
            )
            .explode("label")
            .select("label", "split")
        )
    counts = long.group_by("label", "split").agg(n=pl.len()).collect()
    if counts.is_empty():
        return pl.DataFrame({"label": [], "total": []}, schema={"label": pl.String, "total": pl.UInt32})
    wide = counts.pivot(on="split", index="label", values="n", aggregate_function="sum").fill_null(0)
    splits = sorted(c for c in wide.columns if c != "label")
    return wide.select("label", *splits).with_columns(total=pl.sum_horizontal(splits)).sort("label")


def quarantine_reasons(store: RawStore, kind: str | None = None) -> pl.DataFrame:
    """Records in quarantine per reason code, with one example path and message."""
    q = store.scan_quarantine((kind,) if kind else None).collect()
    return (
        q.group_by("source", "reason_code")
        .agg(records=pl.len(), example=pl.col("path").first(), reason=pl.col("reason").first())
        .sort("source", "records", descending=[False, True])
    )


def totals(store: RawStore) -> pl.DataFrame:
    """Per source kind: records landed, beats, records quarantined."""
    records = store.scan_records().group_by("source").agg(records=pl.len()).collect()
    beats = store.scan_beats().group_by("source").agg(beats=pl.len()).collect()
    quarantined = store.scan_quarantine().group_by("source").agg(quarantined=pl.len()).collect()
    out = records.join(beats, on="source", how="full", coalesce=True)
    out = out.join(quarantined, on="source", how="full", coalesce=True)
    return out.fill_null(0).sort("source")


def markdown_table(df: pl.DataFrame) -> str:
    if df.is_empty():
        return "_(none)_"
    cells = [[str(v).replace("|", "\\|") for v in row] for row in df.iter_rows()]
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])
