"""What `predict --reference` makes of a folder: each record's comparison with its reference (`Comparison`:
a rhythm or beats task's `reference.Agreement`, a multi-label task's `record_reference.LabelAgreement`), their
sum (EC57's gross statistics) and EC57's report, a row per record, then the gross and the average."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import polars as pl

from feature_store.tasks import TaskSpec


class Comparison(Protocol):
    """What `predict --reference` prints, sums over a folder and reports: a rhythm or beats task's
    `Agreement`, a multi-label task's `LabelAgreement`."""

    @property
    def records(self) -> int: ...

    def __add__(self, other: Any) -> Comparison: ...

    def line(self, task: TaskSpec, source: str) -> str: ...

    def report_row(self, task: TaskSpec) -> tuple[dict[str, int | float], dict[str, float]]: ...

    def reference_column(self) -> list[str | None]: ...

    def to_json(self) -> dict: ...


def comparison_from_json(d: dict) -> Comparison:
    """A comparison saved with `to_json` (the inbox keeps each record's beside its rows)."""
    from .record_reference import LabelAgreement
    from .reference import Agreement

    if d.get("kind") == "labels":
        return LabelAgreement.from_json(d)
    if d.get("kind") == "agreement":
        return Agreement.from_json(d)
    raise ValueError(f"not a saved comparison: kind {d.get('kind')!r}")


def summed(compared: Sequence[Comparison]) -> Comparison:
    """Every record's comparison counted together (EC57's gross statistics)."""
    return functools.reduce(operator.add, compared)


def report(compared: Sequence[tuple[str, Comparison]], task: TaskSpec) -> pl.DataFrame:
    """EC57's report of a comparison over records (`predict --reference --report`): a row per record (its
    source, counts and figures), then `gross`, the figures of every record's counts summed, and `average`,
    each figure's mean over the records where it is defined (a record without an S beat has no S Se)."""
    rows: list[dict[str, object]] = []
    figures: list[dict[str, float]] = []
    for source, agreed in compared:
        counts, figs = agreed.report_row(task)
        rows.append({"record": source, **counts, **figs})
        figures.append(figs)
    gross_counts, gross_figures = summed([a for _, a in compared]).report_row(task)
    rows.append({"record": "gross", **gross_counts, **gross_figures})
    average = {k: [f[k] for f in figures if k in f and not np.isnan(f[k])] for k in gross_figures}
    rows.append({"record": "average", **{k: float(np.mean(v)) if v else float("nan") for k, v in average.items()}})
    return pl.DataFrame(rows, infer_schema_length=None)
