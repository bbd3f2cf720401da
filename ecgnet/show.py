"""`python -m ecgnet show`: a task's latest comparison as its MLflow store holds it, read in a terminal.

What a researcher opens the MLflow UI for, on a machine without a browser: which run, code and hardware,
every variant's validation and test figures side by side (the compact columns, or every column with
`wide`), how well the validation ranking predicted the test's, the published results, and which model
holds the champion alias now. It reads what the comparison logged; it computes nothing again.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import polars as pl

from feature_store.tasks import TaskSpec

from .data import SPLITS, split_param
from .evaluate import Concentration
from .interval import Interval
from .promotion import SELECTIONS, Champion
from .published import not_compared, published_summary
from .report import AGREEMENT
from .tracking import CANDIDATE, HARDWARE, Tracker, comparison_settings

HARDWARE_TAGS = ("cpu", "cores", "device", "native_bf16")


@dataclass(frozen=True)
class SplitSize:
    """One split of a comparison's data, as its run logged it (`TaskData.split_params`)."""

    name: str  # train | val | test
    patients: int
    rows: int


@dataclass(frozen=True)
class ComparisonSummary:
    """One comparison run as `show` prints it."""

    task: str
    run_id: str
    finished: str  # UTC, to the minute
    commit: str
    hardware: str
    settings: str  # folds, seeds, epochs: what the figures were trained with
    candidate: str  # chosen on validation alone
    table: pl.DataFrame  # comparison.csv as logged
    agreement: Interval | None  # Kendall tau between validation and test rankings, with its interval
    published: list[str]  # published_summary lines; empty where the task's test is not their protocol
    champion: Champion | None  # the alias holder now (a later or earlier run's model, maybe)
    artifacts: str  # where the run's plots and tables are
    selection: str = ""  # the rule that chose among the variants (ComparisonConfig.selection); "" before it was logged
    data_fingerprint: str = ""  # the feature-view versions it trained and tested on, hashed
    concentration: tuple[Concentration, ...] = ()  # pooled test figures one patient decides (concentration.csv)
    splits: tuple[SplitSize, ...] = ()  # patients and rows per split; () for runs that did not log them
    folds: int = 1  # >1: the choice read out-of-fold rows of every development (train and val) patient

    @property
    def one_patient(self) -> bool:
        """Validation held one patient: a paired bootstrap over it draws that patient every time."""
        return self.chosen_over == 1

    @property
    def chosen_over(self) -> int | None:
        """How many patients the validation figures (and their paired intervals) resample; None if unknown."""
        sizes = {s.name: s.patients for s in self.splits}
        if "val" not in sizes:
            return None
        return sizes["val"] + (sizes.get("train", 0) if self.folds > 1 else 0)


def comparison_summary(tracker: Tracker, spec: TaskSpec, run_id: str | None = None) -> ComparisonSummary:
    """The latest finished comparison of `spec`'s task (or the run `run_id`); raises ValueError with the
    fix where the store holds none."""
    run = tracker.comparison_run(spec.name, run_id)
    rid, tags, params, metrics = run.info.run_id, run.data.tags, run.data.params, run.data.metrics
    text = tracker.artifact_text(rid, "comparison.csv")
    if text is None:
        raise ValueError(f"comparison {rid} logged no comparison.csv; fix: run the comparison again")
    published = tracker.artifact_text(rid, "published.csv")
    held = tracker.artifact_text(rid, "concentration.csv")
    hw = [tags.get(f"{HARDWARE}.{k}", "") for k in HARDWARE_TAGS]
    tau, splits, folds = AGREEMENT, _splits(params), int(params.get("folds", "1"))
    settings = ", ".join(f"{name} {value}" for name, value in comparison_settings(params).items())
    if splits:
        settings += f"; {_splits_said(splits, spec.unit, folds)}"
    return ComparisonSummary(
        task=spec.name,
        run_id=rid,
        finished=datetime.fromtimestamp((run.info.end_time or 0) / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=params.get("git_commit", "unknown")[:10]
        + (" with uncommitted changes" if params.get("git_dirty") == "true" else ""),
        hardware=f"{hw[0]}, {hw[1]} cores, {hw[2]} (bfloat16 unit: {hw[3]})",
        settings=settings,
        candidate=tags.get(CANDIDATE, ""),
        table=pl.read_csv(io.StringIO(text), infer_schema_length=None),
        agreement=Interval(metrics[tau], metrics[f"{tau}_lo"], metrics[f"{tau}_hi"])
        if {tau, f"{tau}_lo", f"{tau}_hi"} <= metrics.keys()
        else None,
        published=published_summary(pl.read_csv(io.StringIO(published))) if published else [],
        champion=tracker.current_champion(spec.name),
        artifacts=run.info.artifact_uri,
        selection=params.get("selection", ""),
        data_fingerprint=params.get("data_fingerprint", ""),
        concentration=_concentration(held),
        splits=splits,
        folds=folds,
    )


def _splits(params: dict[str, str]) -> tuple[SplitSize, ...]:
    """The splits' sizes from the run's params; () where any is missing (runs before they were logged)."""
    keys = [(name, split_param(name, "patients"), split_param(name, "rows")) for name in SPLITS]
    if not all(p in params and r in params for _, p, r in keys):
        return ()
    return tuple(SplitSize(name, int(params[p]), int(params[r])) for name, p, r in keys)


def _splits_said(splits: tuple[SplitSize, ...], unit: str, folds: int = 1) -> str:
    """'train 3 patients (7,651 beats), validation 1 (2,603), test 2 (4,000)', and with `folds` > 1 the
    patients the choice then read."""
    said = {"train": "train", "val": "validation", "test": "test"}
    text = ", ".join(
        f"{said[s.name]} {s.patients}{' patients' if i == 0 else ''} ({s.rows:,}{f' {unit}s' if i == 0 else ''})"
        for i, s in enumerate(splits)
    )
    development = sum(s.patients for s in splits if s.name in ("train", "val"))
    cross = f"; the choice read {folds} folds over the {development} train and validation patients"
    return text + (cross if folds > 1 else "")


def _concentration(text: str | None) -> tuple[Concentration, ...]:
    """concentration.csv read back; a file of an earlier layout (other columns) says nothing here."""
    if not text:
        return ()
    names = [f.name for f in fields(Concentration)]
    table = pl.read_csv(io.StringIO(text), infer_schema_length=None)
    if set(table.columns) != set(names):
        return ()
    return tuple(Concentration(**{**r, "patient": str(r["patient"])}) for r in table.iter_rows(named=True))


def choice_columns(table: pl.DataFrame) -> list[str]:
    """What the choice read, validation only: variant, size, the validation figure and its paired distance
    to the best there."""
    wanted = ["variant", "params", "val_metric", "cv_mean_sd", *(c for c in table.columns if c.startswith("val_vs_"))]
    return [c for c in wanted if c in table.columns]


def test_columns(table: pl.DataFrame, spec: TaskSpec) -> list[str]:
    """The test figures, scored once after the choice: the headline, accuracy, the focus classes' Se / +P,
    the calibration error (whether the probabilities behind them can be taken at their word) and the paired
    test difference against the best single model."""
    paired = (c for c in table.columns if c.startswith(f"{spec.metric_key}_vs_"))
    wanted = ["variant", *spec.test_figures, *paired]
    return [c for c in dict.fromkeys(wanted) if c in table.columns]


def render(summary: ComparisonSummary, spec: TaskSpec, wide: bool = False) -> str:
    """The summary as text: a header, the table (the chosen variant marked *), then what it says. Compact,
    as MLflow's description: what the choice read, then the test figures, in two tables (about a
    quarter narrower than one); `wide`: one table with every column."""
    table = readable(summary.table)
    chosen = table["chosen"].to_list() if "chosen" in table.columns else [False] * len(table)
    parts = (
        [("", table.columns)]
        if wide
        else [
            ("What the choice read (validation only):", choice_columns(table)),
            ("Test (scored once, after the choice):", test_columns(table, spec)),
        ]
    )
    lines = [
        f"comparison {summary.run_id} of task {summary.task}, finished {summary.finished}",
        f"code {summary.commit}; {summary.hardware}; {summary.settings}",
        "",
    ]
    for title, columns in parts:
        lines += [title] if title else []
        lines += [*_text_table(table.select(columns), chosen), ""]
    lines += [f"* {line}" if i == 0 else line for i, line in enumerate(verdict_lines(summary, spec))]
    if summary.champion is None:
        lines.append("champion: none (no candidate passed the promotion gate yet)")
    else:
        c = summary.champion
        lines.append(
            f"champion now: {c.name} version {c.version} (validation {c.metric or 'metric'} {c.val_metric:.3f})"
        )
    lines.append(f"plots and tables: {summary.artifacts}")
    return "\n".join(lines)


def _text_table(table: pl.DataFrame, chosen: list[bool]) -> list[str]:
    """Aligned columns under a header and its rule; the chosen rows marked '* '."""
    columns = table.columns
    cells = [["" if v is None else str(v) for v in row] for row in table.iter_rows()]
    cells = [[("* " if mark else "  ") + row[0], *row[1:]] for row, mark in zip(cells, chosen)]
    widths = [max(len(h) + (2 if i == 0 else 0), *(len(r[i]) for r in cells)) for i, h in enumerate(columns)]
    header = ["  " + columns[0], *columns[1:]]
    return [
        "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
        "  ".join("-" * w for w in widths),
        *("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells),
    ]


def verdict_lines(summary: ComparisonSummary, spec: TaskSpec, markdown: bool = False) -> list[str]:
    """What the comparison says, a line each: the choice and why, the chosen variant on test, whether the
    validation ranking predicted the test's, the published results and the patients who decide a pooled
    figure. `show` prints them; the comparison run's MLflow description lists them (`markdown`: names as
    code)."""

    def name(variant: str) -> str:
        return f"`{variant}`" if markdown else variant

    table, chosen = summary.table, summary.candidate
    rows = {r["variant"]: r for r in table.iter_rows(named=True)}
    best = best_on_validation(table)
    lines = [f"chosen on validation alone: {name(chosen)}"]
    alone = summary.one_patient
    if best is not None:
        gap = f"val_vs_{best}"
        within = [v for v, r in rows.items() if v != best and reaches_zero(r[gap])]
        why = f"best on validation {name(best)} ({rows[best]['val_metric']})" if best in rows else ""
        why += (
            "; within noise of it: not measurable (one validation patient)"
            if alone
            else f"; within noise of it (paired interval reaching zero): {', '.join(map(name, within)) or 'none'}"
        )
        if summary.selection in SELECTIONS:
            why += (
                "; rule: parsimony, the fewest parameters among those"
                if summary.selection == "parsimony"
                else "; rule: the best on validation"
            )
        lines[0] += f" ({why.lstrip('; ')})"
    if alone:
        lines.append(
            "One validation patient: an interval that resamples patients cannot open on it, so no variant is told "
            "apart from noise and the choice is that patient's ranking (more patients, or cross-validation with "
            "`folds`, make it a finding)"
        )
    if chosen in rows:
        shown = [(f, rows[chosen].get(f)) for f in spec.test_figures]
        said = "; ".join(_figure(f, v) for f, v in shown if v is not None)
        lines.append(f"{name(chosen)} on test: {said}")
    if summary.agreement is not None:
        a = summary.agreement
        reading = (
            "no interval: variants scored on other validation rows"
            if math.isnan(a.lo)
            else "clear of zero: it predicts the test ranking"
            if a.lo > 0
            else "reaching zero: not told apart from chance"
        )
        if alone and not math.isnan(a.lo):  # one validation patient: every draw ranks validation alike
            reading += "; but with one validation patient the interval holds only the test patients' spread"
        lines.append(
            f"validation ranking against test ranking: Kendall tau {a.value:+.2f} [{a.lo:+.2f}, {a.hi:+.2f}] "
            f"(patients of both splits resampled; {reading})"
        )
    lines += summary.published
    if spec.published and not summary.published:
        lines.append(not_compared(spec, next((s.patients for s in summary.splits if s.name == "test"), None)))
    lines += [f"{name(chosen)} on test, {c}" for c in summary.concentration]
    return lines


UNDEFINED = "undefined"


def readable(table: pl.DataFrame) -> pl.DataFrame:
    """The table as a reader is shown it (MLflow's description, `show`, the catalog, the demo): an undefined
    figure (no such rows on test, or none called so) reads as the verdict says it, not as NaN. The
    logged comparison.csv keeps NaN, for code."""
    return table.with_columns(pl.col(pl.String).exclude("variant").str.replace(r"^nan \[nan, nan\]$", UNDEFINED))


def _figure(name: str, value: object) -> str:
    """A test figure as the verdict says it; an undefined Se or +P in words (no such rows, none called so)."""
    try:
        undefined = math.isnan(Interval.parse(str(value)).value)
    except ValueError:
        undefined = False
    measure, _, cls = name.partition("_")
    if undefined and measure == "se":
        return f"{name} {UNDEFINED} (no {cls} on test)"
    if undefined and measure == "pp":
        return f"{name} {UNDEFINED} (nothing called {cls})"
    return f"{name} {value}"


def best_on_validation(table: pl.DataFrame) -> str | None:
    """The best variant on validation, as the table names it: its `val_vs_<best>` column (None without one)."""
    return next((c.removeprefix("val_vs_") for c in table.columns if c.startswith("val_vs_")), None)


def reaches_zero(text: object) -> bool:
    """A paired difference whose interval reaches zero ('(best)' and empty cells are not differences)."""
    try:
        return Interval.parse(str(text)).hi >= 0
    except ValueError:
        return False
