"""The warning check that every split of a comparison holds rows of each class its figures read.

The training data asset evaluates it itself, from the split it has just made (`check_specs`), so the
counts are computed once and shown the same way on the asset and on its check.
"""

import dagster as dg
import polars as pl

from ecgnet.data import SPLITS, TaskData
from feature_store.summary import markdown_table
from feature_store.tasks import TaskSpec

from .naming import TaskAssets

CHECK = "check_classes_in_every_split"


def classes_check_spec(spec: TaskSpec) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK,
        asset=TaskAssets(spec).training_data,
        description=f"Every split of the {spec.name} comparison holds rows of each class its figures read "
        f"({', '.join(spec.scored_classes)}): a test split without one leaves its figures undefined, a "
        "validation split without one chooses blind to it. A warning: the comparison still runs.",
    )


def classes_per_split(data: TaskData) -> dg.MarkdownMetadataValue:
    """Rows of each class in each split, as the training data asset and its classes check show them."""
    counts = pl.DataFrame({"class": list(data.classes), **{s: data.class_counts(s) for s in SPLITS}})
    return dg.MetadataValue.md(markdown_table(counts))


def classes_check_result(
    spec: TaskSpec, data: TaskData, cross_validated: bool, table: dg.MarkdownMetadataValue
) -> dg.AssetCheckResult:
    """The check on `data`; `table` is its `classes_per_split`, as the asset's step already built it."""
    absent = data.absent_classes(cross_validated=cross_validated)
    said = "; ".join(f"{split} holds no {', '.join(classes)} rows" for split, classes in absent.items())
    return dg.AssetCheckResult(
        asset_key=TaskAssets(spec).training_data,
        check_name=CHECK,
        passed=not absent,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{said}: {_what_it_costs(spec, absent)}; fix: ingest records with those classes from more "
            "patients (a patient's records share one split)"
            if absent
            else None
        ),
        metadata={
            "expected": f"rows of {', '.join(spec.scored_classes)} in every split",
            "actual": said or "every one in every split",
            "classes_per_split": table,
        },
    )


def _what_it_costs(spec: TaskSpec, absent: dict[str, list[str]]) -> str:
    costs = []
    if "test" in absent:
        focus = [f for f in spec.focus_figures if f.split("_", 1)[1] in absent["test"]]
        costs.append(f"undefined on test: {', '.join(focus)}" if focus else "the test headline leaves them out")
    if set(absent) - {"test"}:
        costs.append("the choice cannot see them")
    return "; ".join(costs)
