"""The chosen variant against results published on its task's own protocol (`TaskSpec.published`).

A researcher reading a comparison asks first how it stands against the literature; on MIT-BIH DS1 -> DS2
that is de Chazal et al. 2004's figures, the bar of issue 9. Each published figure is set beside the
chosen variant's with its 95 % patient-bootstrap interval: met or not by the point value, and whether
the interval already decides it (lower end at or above the published value, or upper end below it).
Only a test split of the protocol's own size is compared: the demo's few DS2 records are not DS2.
"""

from __future__ import annotations

import re

import polars as pl

from feature_store.tasks import TaskSpec

from .evaluate import figure_label
from .interval import Interval
from .plots import published_png


def comparable(spec: TaskSpec, test_patients: int) -> bool:
    """Whether the test split is the protocol's whole test set (its patient count), so that published
    figures mean the same thing as this run's."""
    return any(ref.test_patients == test_patients for ref in spec.published)


def protocol_patients(spec: TaskSpec) -> str:
    """The test patients of the task's published protocols, as a reader is told them: '22', '22 or 44'."""
    return " or ".join(map(str, sorted({ref.test_patients for ref in spec.published})))


def not_compared(spec: TaskSpec, test_patients: int | None) -> str:
    """Why the task's published results are not compared with a run whose test split holds
    `test_patients` patients (None: not known), in the words every reader is shown."""
    names = ", ".join(ref.name for ref in spec.published)
    held = f" (it holds {test_patients} patients, their protocol {protocol_patients(spec)})" if test_patients else ""
    return f"published results ({names}): not compared, this run's test split is not their protocol{held}"


def published_table(spec: TaskSpec, variant: str, test: dict[str, Interval], test_patients: int) -> pl.DataFrame:
    """One row per published result and figure: the published value, `variant`'s test figure with its
    interval, `met` (point value at or above) and `interval` (above / below: the interval lies wholly on
    that side of the published value; within: it straddles it). Empty where nothing is comparable."""
    rows = []
    for ref in spec.published:
        if ref.test_patients != test_patients:
            continue
        for figure, value in ref.figures.items():
            ours = test[figure]
            side = "above" if ours.lo >= value else "below" if ours.hi < value else "within"
            rows.append(
                {
                    "published": ref.name,
                    "figure": figure,
                    "published_value": value,
                    "variant": variant,
                    "value": round(ours.value, 4),
                    "lo": round(ours.lo, 4),
                    "hi": round(ours.hi, 4),
                    "met": bool(ours.value >= value),
                    "interval": side,
                }
            )
    return pl.DataFrame(rows)


def slug(name: str) -> str:
    """A published result's name as an MLflow metric suffix: 'de Chazal et al. 2004' -> de_chazal_et_al_2004."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def published_metrics(table: pl.DataFrame) -> dict[str, float]:
    """Per published result, how many of its figures the variant meets: published_met_<slug> (and
    published_figures_<slug>, how many it reports), for the comparison's MLflow run."""
    out: dict[str, float] = {}
    for (name,), rows in table.group_by("published", maintain_order=True) if not table.is_empty() else ():
        out[f"published_met_{slug(name)}"] = float(rows["met"].sum())
        out[f"published_figures_{slug(name)}"] = float(len(rows))
    return out


def published_summary(table: pl.DataFrame) -> list[str]:
    """One line per published result: how many figures met, and each figure as ours against theirs."""
    lines = []
    for (name,), rows in table.group_by("published", maintain_order=True) if not table.is_empty() else ():
        figures = ", ".join(
            f"{figure_label(r['figure'])} {r['value']:.3f} {'>=' if r['met'] else '<'} {r['published_value']:.3f}"
            for r in rows.iter_rows(named=True)
        )
        lines.append(f"{rows['variant'][0]} against {name}: {int(rows['met'].sum())} of {len(rows)} met ({figures})")
    return lines


def published_plot(table: pl.DataFrame) -> bytes | None:
    """PNG: the variant's figures with intervals against each published result's; None with nothing compared."""
    if table.is_empty():
        return None
    variant = table["variant"][0]
    return published_png(
        table.to_dicts(), f"{variant} on test (95 % patient-bootstrap intervals) against published results"
    )
