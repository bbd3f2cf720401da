"""What a comparison shows its reader: the table of every variant (validation, test with intervals,
paired differences, explainability), where on each patient the focus classes are won or lost, the
plots, and how well the validation ranking of the variants predicts the test's (Kendall tau).

Reads the results `ecgnet.comparison` trained and chose; decides nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
from scipy.stats import kendalltau

from feature_store.beat_ids import beat_positions

from . import seeds
from .calibration import Reliability
from .comparison import (
    Selection,
    VariantResult,
    best_single,
    paired_difference,
    reported_metrics,
    scored_validation,
    select,
)
from .config import ComparisonConfig
from .data import Split, TaskData
from .evaluate import Concentration, concentration, headline, per_group, percentile_interval, resampled
from .fusion import MODALITIES
from .plots import comparison_png, per_patient_png, reliability_grid_png, reliability_png, shares_png

if TYPE_CHECKING:
    import polars as pl

    from feature_store.tasks import TaskSpec

EXPLAINABILITY = {
    "single": "one view: saliency on that view only",
    "early": "low: one network over joined inputs",
    "intermediate": "low: embeddings mixed by an MLP",
    "intermediate_gated": "per-row gate weight of each view",
    "late_average": "one global weight per view",
    "late_stacker": "a coefficient per view and class",
    "ensemble": "the mean of the fusion variants' probabilities",
    "classical": "high: one linear weight per named feature",
    "classical_trees": "per-feature Shapley values (trees have no gradient)",
}


def comparison_table(
    results: dict[str, VariantResult], data: TaskData, cfg: ComparisonConfig, selection: Selection | None = None
) -> pl.DataFrame:
    """One row per variant: size, latency, validation metric and its paired difference against the best
    on validation (validation patients resampled: which variants the choice could not tell apart), the
    chosen one marked, test metrics with 95 % intervals, and the paired-bootstrap difference in test
    metric against the best single model."""
    ref = best_single(results) if any(r.variant.kind == "single" for r in results.values()) else None
    key, metric = data.spec.metric_key, headline(data.spec)
    selection = selection or select(results, data, cfg)
    best = selection.best
    rows = []
    for name, r in results.items():
        row = {
            "variant": name,
            "kind": r.variant.kind,
            "chosen": name == selection.chosen,
            "params": r.n_params,
            "latency_ms": round(r.latency_ms, 4),
            "val_metric": round(r.val.value, 4),
            **explainability_columns(r),
        }
        if cfg.folds > 1:  # the spread of the held-out-fold metric (late variants: out of fold, pooled)
            f = r.fitted
            row["cv_mean_sd"] = f"{f['cv_metric_mean']:.3f} ± {f['cv_metric_sd']:.3f}" if "cv_metric_sd" in f else ""
            if cfg.seeds > 1:  # each seed's fold ensemble alone, as it decides: what another draw moves
                row["cv_by_seed"] = seeds.by_seed(f.get(seeds.CV_KEY))
        gap = selection.gap_to_best.get(name)
        row[f"val_vs_{best}"] = "(best)" if name == best else gap.signed() if gap else ""
        for m in reported_metrics(data):
            row[m] = str(r.test[m])
        if cfg.seeds > 1:  # only with folds > 1 (ComparisonConfig)
            row[f"{key}_by_seed"] = seeds.by_seed(r.test_per_seed.get(key))
        if ref and name != ref:
            row[f"{key}_vs_{ref}"] = _paired(r.test_probs, results[ref].test_probs, data.test, metric, cfg)
        elif ref:
            row[f"{key}_vs_{ref}"] = "(reference)"
        rows.append(row)
    import polars as pl  # here: the GPU training check imports this module where polars is not installed

    return pl.DataFrame(rows)


def per_patient_table(
    results: dict[str, VariantResult], data: TaskData, split: str = "test", cfg: ComparisonConfig | None = None
) -> pl.DataFrame:
    """One row per variant and patient of `split`: its rows (beats), its rows of each focus class, accuracy
    and the focus classes' sensitivity and positive predictivity on that patient alone (after decision
    offsets, as the comparison scores). A pooled test sensitivity can rest on one patient (on MIT-BIH DS2,
    232 holds three quarters of the S beats); this shows where it is won or lost. `split="val"`: the same
    on validation, from the probabilities each variant is judged by there (out of fold under
    cross-validation), so where the choice's figures are lost is seen without the test (on MIT-BIH DS1,
    most beats wrongly read as S are 203's and 201's, in atrial fibrillation and flutter); `cfg` says
    which rows those are (`scored_validation`; default: one split). Empty for multilabel tasks and tasks
    without focus classes."""
    import polars as pl  # here: as comparison_table

    if split not in ("test", "val"):
        raise ValueError(f"split={split!r}; fix: 'test' or 'val'")
    rows_of = data.test if split == "test" else scored_validation(data, cfg or ComparisonConfig())
    focus = data.spec.focus_classes
    if data.multilabel or not focus:
        return pl.DataFrame()
    rows = [
        {"variant": name, **row}
        for name, r in results.items()
        for row in per_group(
            r.test_probs if split == "test" else r.val_probs, rows_of.y, rows_of.groups, data.classes, focus
        )
    ]
    table = pl.DataFrame(rows).rename({"group": "patient", "rows": f"{data.spec.unit}s"})
    if data.spec.unit != "beat":
        return table
    # a patient is a subject, who may have several records (MIT-BIH's 201 and 202 are one man)
    records, _ = beat_positions(rows_of.ids)
    held = pl.DataFrame({"patient": rows_of.groups.astype(str), "record": records})
    held = held.group_by("patient").agg(pl.col("record").unique().sort().str.join(" ").alias("records"))
    first = ("variant", "patient", "records")
    return table.join(held, on="patient", how="left").select(*first, pl.exclude(*first))


def chosen_per_patient(table: pl.DataFrame, variant: str) -> pl.DataFrame:
    """`variant`'s rows of a per_patient_table: the patients with a beat of a focus class, those with the
    most beats of the first focus class first; figures rounded to 3 places."""
    import polars as pl  # here: as comparison_table

    counts = [c for c in table.columns if c.startswith("n_")]
    mine = table.filter((pl.col("variant") == variant) & (pl.sum_horizontal(counts) > 0)).drop("variant")
    figures = [c for c in mine.columns if mine.schema[c] == pl.Float64]
    return mine.sort(counts[0], descending=True).with_columns(pl.col(figures).round(3))


def chosen_concentration(results: dict[str, VariantResult], data: TaskData, variant: str) -> list[Concentration]:
    """`variant`'s focus-class figures on test with and without the patient holding most of each class's
    rows (`evaluate.concentration`, after decision offsets as the comparison scores); empty for
    multilabel tasks and tasks without focus classes."""
    if data.multilabel or not data.spec.focus_classes:
        return []
    r = results[variant]
    return concentration(r.test_probs, data.test.y, data.test.groups, data.classes, data.spec.focus_classes)


def per_patient_plot(
    table: pl.DataFrame, data: TaskData, candidate: str, min_beats: int = 10, split: str = "test"
) -> bytes | None:
    """PNG: each focus class's sensitivity per variant and patient of `split` (patients with at least
    `min_beats` of its rows); None when no patient has that many of any focus class (a task with one row
    per patient, or none)."""
    counts = [c for c in table.columns if c.startswith("n_")]
    # polars types a column's max as any literal (None when empty): these are counts of a non-empty table
    if table.is_empty() or not any(cast(int, table[c].max()) >= min_beats for c in counts):
        return None
    title = "test" if split == "test" else "validation (as the choice reads it)"
    return per_patient_png(
        table.to_dicts(), data.spec.focus_classes, candidate, min_beats, f"{data.task}: {title} sensitivity per patient"
    )


def _paired(
    probs: np.ndarray,
    ref_probs: np.ndarray,
    split: Split,
    metric: Callable[[np.ndarray, np.ndarray], float],
    cfg: ComparisonConfig,
) -> str:
    return paired_difference(probs, ref_probs, split, metric, cfg).signed()


def explainability_columns(r: VariantResult) -> dict[str, str | float]:
    """Measured explainability when the variant was explained (shares and ablation drops per view in
    MODALITIES order, faithfulness), else the sentence that describes its kind."""
    e = r.explained
    if e is None:
        return {"explainability": EXPLAINABILITY.get(r.variant.name, EXPLAINABILITY.get(r.variant.kind, ""))}
    views = "/".join(m[0] for m in MODALITIES)
    return {
        f"shares_{views}": " / ".join(f"{e.shares.get(m, 0.0):.2f}" for m in MODALITIES),
        f"ablation_drop_{views}": " / ".join(f"{e.ablation.get(m, 0.0):+.3f}" for m in MODALITIES),
        "faithfulness": e.faithfulness,
    }


def shares_plot(results: dict[str, VariantResult], data: TaskData) -> bytes | None:
    """PNG: modality shares per explained variant (gated: beside its gate weights); None if none was."""
    shares = {n: r.explained.shares for n, r in results.items() if r.explained}
    if not shares:
        return None
    gates = {
        n: {m: r.fitted[f"gate_{m}"] for m in MODALITIES if f"gate_{m}" in r.fitted}
        for n, r in results.items()
        if r.variant.gated and n in shares
    }
    return shares_png(shares, gates, f"{data.task}: which view each variant's decisions rest on (validation)")


def comparison_plot(
    results: dict[str, VariantResult],
    data: TaskData,
    candidate: str,
    agreement: tuple[float, float, float] | None = None,
) -> bytes:
    """PNG: every variant's test headline with its interval, against its size, and against its
    validation headline (`agreement`: Kendall tau and its interval, `ranking_agreement[_interval]`)."""
    key = data.spec.metric_key
    rows = [
        {
            "variant": name,
            "kind": r.variant.kind,
            "params": r.n_params,
            "value": r.test[key].value,
            "lo": r.test[key].lo,
            "hi": r.test[key].hi,
            "val": r.val.value,
            "by_seed": r.test_per_seed.get(key, []),
        }
        for name, r in results.items()
    ]
    title = f"{data.task}: every variant on the test split"
    return comparison_png(rows, key.replace("_", "-"), candidate, title, agreement)


def reliability_plot(result: VariantResult, data: TaskData) -> bytes:
    """PNG: one variant's test reliability diagram, its focus classes' curves beside the top class's."""
    name, spec = result.variant.name, data.spec
    return reliability_png(
        result.test_probs, data.test.y, data.multilabel, f"{name}: test reliability", data.classes, spec.focus_classes
    )


def calibration_plot(results: dict[str, VariantResult], data: TaskData, candidate: str) -> bytes:
    """PNG: every variant's test reliability diagram side by side, each with its ECE and interval."""
    rows = [
        {
            "variant": name,
            "kind": r.variant.kind,
            "bins": Reliability.of(r.test_probs, data.test.y, data.multilabel),
            "ece": r.test["ece"],
        }
        for name, r in results.items()
    ]
    title = f"{data.task}: are the probabilities what they say? (test; chosen on validation, calibration read after)"
    return reliability_grid_png(rows, candidate, data.multilabel, title)


AGREEMENT = "kendall_tau_val_test"  # the MLflow metric (and its _lo, _hi) of `ranking_agreement`


def agreement_metrics(tau: float, lo: float, hi: float) -> dict[str, float]:
    """`ranking_agreement` and its interval as a comparison logs them."""
    return {AGREEMENT: tau, f"{AGREEMENT}_lo": lo, f"{AGREEMENT}_hi": hi}


def chosen_metrics(result: VariantResult, spec: TaskSpec) -> dict[str, float]:
    """The chosen variant's figures on the comparison run itself (`chosen_val_metric`, `chosen_test_<figure>`
    with `_lo`/`_hi`, its calibration `chosen_test_ece` too): filtered to comparison runs, MLflow's runs
    table and charts then follow what each comparison chose over retrains, without opening its children."""
    test = {
        k: v
        for name in spec.test_figures
        if name in result.test
        for k, v in result.test[name].flat(f"chosen_test_{name}").items()
    }
    return {**result.val.flat("chosen_val_metric"), **test}


def ranking_agreement(results: dict[str, VariantResult], data: TaskData) -> float:
    """Kendall tau between the variants' order on validation and on test (headline metric): 1 when
    choosing on validation picks what the test would have, about 0 when the choice is noise."""
    key = data.spec.metric_key
    val = [r.val.value for r in results.values()]
    test = [r.test[key].value for r in results.values()]
    return ranks_kendall(val, test) if len(results) > 1 else float("nan")


# Metric values equal to this many decimals are one rank: variants that decide alike can score the same
# metric apart by an ulp (a sum taken in another order), and Kendall tau would order them by that ulp.
TIE_DECIMALS = 9


def ranks_kendall(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Kendall tau (tau-b: ties count as ties) between two lists of metric values, equal ones to
    `TIE_DECIMALS` tied."""
    return float(kendalltau(np.round(a, TIE_DECIMALS), np.round(b, TIE_DECIMALS)).statistic)


def ranking_agreement_interval(
    results: dict[str, VariantResult], data: TaskData, cfg: ComparisonConfig
) -> tuple[float, float]:
    """95 % interval of `ranking_agreement`, each split's patients resampled on their own (validation:
    every development row under cross-validation, as the variants were scored): with a few variants
    within noise of each other the agreement moves between runs, and the interval says how far it is
    from chance (0). NaN where fewer than two variants, or one whose validation rows are not these."""
    rows = scored_validation(data, cfg)
    if len(results) < 2 or any(len(r.val_probs) != len(rows) for r in results.values()):
        return float("nan"), float("nan")
    metric = headline(data.spec)

    def draws(probs: np.ndarray, split: Split, seed: int) -> np.ndarray:
        return resampled(metric, probs, split.y, split.groups, n_boot=cfg.n_boot, seed=seed)

    # (variants, draws) on each split: every variant scored on the same draws of that split's patients
    val = np.array([draws(r.val_probs, rows, cfg.train.seed) for r in results.values()])
    test = np.array([draws(r.test_probs, data.test, cfg.train.seed + 1) for r in results.values()])
    return percentile_interval([ranks_kendall(v, t) for v, t in zip(val.T, test.T)])
