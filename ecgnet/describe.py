"""What MLflow's pages say in words: the descriptions (markdown, rendered on the page) of a task's
experiment, of each comparison run, of each variant's run and of each registered model version.

A researcher browsing the MLflow UI opens a comparison run and reads its verdict there: what was chosen
on validation and why, the chosen variant's test figures, whether validation predicted the test, the
published results and the table, without downloading comparison.md. Every figure is one the run logged
(`ecgnet.show.ComparisonSummary`); nothing is computed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from feature_store.summary import markdown_table
from feature_store.tasks import TaskSpec

from .interval import Interval
from .promotion import Candidate, Champion, GateDecision
from .show import ComparisonSummary, choice_columns, reaches_zero, readable, test_columns, verdict_lines
from .tracking import CANDIDATE, NOTE_LIMIT, ROLE

GATE, CHAMPION = "Quality gate", "Champion"  # the sections the gate and the promotion add to a comparison's note
GATE_ROOM = 1000  # what a comparison's description leaves free for the gate's and the promotion's lines


@dataclass(frozen=True)
class VariantNote:
    """One variant as its run's description tells it: what it is, and its row of the comparison."""

    name: str
    kind: str
    description: str
    row: Mapping[str, object]  # its row of comparison.csv
    chosen: str  # the variant the comparison chose
    best: str  # the best on validation
    parent_url: str  # the comparison run, as a link the MLflow UI follows
    one_patient: bool = False  # validation held one patient: no gap is told from noise (`verdict_lines`)
    strongest: Mapping[str, list[str]] = field(default_factory=dict)  # `ecgnet.explain.strongest`, if explained


def experiment_note(spec: TaskSpec) -> str:
    """The task's experiment: what its runs are and how to read them side by side."""
    key = spec.metric_key
    focus = ", ".join(f"`test_se_{c}`, `test_pp_{c}`" for c in spec.focus_classes)
    return "\n".join(
        [
            f"### Fusion comparisons of task `{spec.name}`",
            f"Classes {', '.join(spec.classes)}; headline `{key}` (early stopping, the choice on validation, "
            "the promotion gate and the test all read it).",
            "",
            f"- Each `comparison-{spec.name}` run is one comparison: open it for its verdict and table "
            "(its description), its plots and per-patient tables (artifacts).",
            "- Its child runs are the variants (expand the comparison in the runs table). To set them side by "
            "side, select them and press Compare, or add columns to the runs table: `val_metric` (what the "
            f"choice read, on validation only), `test_{key}` with `test_{key}_lo` and `test_{key}_hi` (its 95 % "
            "patient-bootstrap interval)" + (f", {focus}" if focus else "") + ", `n_params`.",
            f"- To follow the comparisons over retrains, filter the runs table with `tags.{ROLE} = 'comparison'` "
            f"and add `chosen_test_{key}` (with `_lo`, `_hi`), `chosen_val_metric` and the tag `{CANDIDATE}`: "
            "each comparison's choice and its figures, a row each (or a chart of them across those runs).",
            f"- Every variant is registered as `ecgnet-{spec.name}-<variant>`; the `champion` alias marks the "
            "promoted one, which `python -m ecgnet predict` uses.",
            "- In a terminal: `python -m ecgnet show --task " + spec.name + "` prints the latest comparison.",
        ]
    )


def comparison_note(
    summary: ComparisonSummary,
    spec: TaskSpec,
    version: str = "",
    previous: ComparisonSummary | None = None,
    previous_url: str = "",
) -> str:
    """A comparison run's description: the verdict, then the compact table (every column: comparison.md).
    `version`: the chosen variant's registered model version; `previous`: the task's comparison before it
    (at `previous_url` in the UI), which a scheduled retrain is read against."""
    table, chosen, headline = summary.table, summary.candidate, _headline(summary, spec)
    figure = f": `{spec.metric_key}` {headline} on test" if headline is not None else ""
    head = [f"### `{chosen}` chosen on validation alone{figure}", ""]  # what MLflow shows before "Show more"
    head += [f"- {line}" for line in verdict_lines(summary, spec, markdown=True)]
    if previous is not None:
        head.append(f"- {since(summary, previous, spec, previous_url)}")
    model = f"`ecgnet-{spec.name}-{chosen}`" + (f" version {version}" if version else "")
    head += [
        f"- Promotion: the `champion` alias moves to {model} when the quality gate passes (Dagster: the "
        "blocking check `check_quality_gate` of the comparison asset); its verdict is added below when it runs.",
        "",
        f"Code {summary.commit}; {summary.hardware}; {summary.settings}. Test figures with 95 % patient-bootstrap "
        "intervals; the chosen variant in bold.",
        "",
        *(
            _picture(summary.run_id, file)
            for file in ("comparison.png", *(["published.png"] if summary.published else []))
        ),
        "",
    ]
    tail = [
        "",
        "Every column: `comparison.md` and `comparison.csv` (artifacts); pictures: `comparison.png`, "
        "`calibration.png` (every variant's test reliability diagram)"
        + (", `published.png`" if summary.published else "")
        + "; per patient: `per_patient.csv`, `val_per_patient.csv` where logged. "
        f"In a terminal: `python -m ecgnet show --task {spec.name} --run {summary.run_id}`.",
    ]
    note = "\n".join([*head, compact_table(table, spec, chosen), *tail])
    if len(note) > NOTE_LIMIT - GATE_ROOM:  # too long for MLflow's tag: the verdict stays, the table is a click away
        note = "\n".join([*head, "_(the table is longer than a run description may be: open comparison.md)_", *tail])
    return note


def since(now: ComparisonSummary, before: ComparisonSummary, spec: TaskSpec, url: str = "") -> str:
    """One line: what the comparison before this one chose and scored, and what changed since (code, data).
    Test figures on other data are other rows: said, not compared."""
    run, headline = f"[{before.run_id[:8]}]({url})" if url else before.run_id[:8], _headline(before, spec)
    figure = f", test `{spec.metric_key}` {headline}" if headline is not None else ""
    code = "the same code" if now.commit == before.commit else f"code {before.commit} then"
    same_data = bool(now.data_fingerprint) and now.data_fingerprint == before.data_fingerprint
    data = (
        "the same feature views (figures comparable)"
        if same_data
        else "other feature views (new or changed records: the test rows differ, so its figures are not comparable)"
    )
    return f"Previous comparison {run}, finished {before.finished}: chose `{before.candidate}`{figure}; {code}; {data}."


def _headline(summary: ComparisonSummary, spec: TaskSpec) -> str | None:
    """The chosen variant's test headline, as its comparison table holds it (None where the table lacks it)."""
    row = summary.table.filter(pl.col("variant") == summary.candidate)
    return str(row[spec.metric_key][0]) if spec.metric_key in row.columns and len(row) else None


def _picture(run_id: str, file: str) -> str:
    """One of the run's PNGs shown in its description: the UI's own artifact address, relative, so it works
    wherever the MLflow UI is served (`make ui`, a server, a path prefix); as wide as the page."""
    return f'<img src="get-artifact?path={file}&run_uuid={run_id}" alt="{file}" width="100%">'


def compact_table(table: pl.DataFrame, spec: TaskSpec, chosen: str) -> str:
    """Two narrow tables rather than one too wide for MLflow's description panel or a terminal: what the
    choice read (validation only), then the test figures, scored once after it."""
    marked = readable(table).with_columns(
        pl.when(pl.col("variant") == chosen)
        .then(pl.format("**{}** (chosen)", pl.col("variant")))
        .otherwise(pl.col("variant"))
        .alias("variant"),
    )
    return "\n".join(
        [
            "**What the choice read** (validation only):",
            "",
            markdown_table(marked.select(choice_columns(table))),
            "",
            "**Test** (scored once, after the choice):",
            "",
            markdown_table(marked.select(test_columns(table, spec))),
        ]
    )


def variant_note(v: VariantNote, spec: TaskSpec) -> str:
    """A variant run's description: what the variant is, whether it was chosen and why not, its figures."""
    row, key = v.row, spec.metric_key
    gap = next((str(row[c]) for c in row if c.startswith("val_vs_")), "")
    if v.name == v.chosen:
        verdict = "**chosen** on validation alone"
    elif v.one_patient:
        verdict = f"not chosen: `{v.chosen}` ranked above it on the one validation patient (not told from noise)"
    elif gap and gap != "(best)" and reaches_zero(gap):
        verdict = f"not chosen: within noise of the best on validation (`{v.best}`); the rule preferred `{v.chosen}`"
    elif v.name == v.best:
        verdict = f"best on validation; the rule chose `{v.chosen}`, within noise of it and smaller"
    else:
        verdict = f"not chosen: below the best on validation (`{v.best}`) beyond noise"
    lines = [
        f"### `{v.name}` ({v.kind}): {verdict}",
        v.description[:1].upper() + v.description[1:] + ".",
        "",
        f"- Validation (what the choice read): `{key}` {row.get('val_metric', '')}"
        + (f"; against `{v.best}`, paired over validation patients: {gap}" if gap and gap != "(best)" else ""),
        f"- Test: `{key}` {row.get(key, '')}"
        + "".join(f"; {c} {row[c]}" for c in ("accuracy", *spec.focus_figures, "ece") if c in row),
        *(
            [
                "- Reads most, per class (named descriptors, mean attribution over the validation rows explained "
                "as that class; +: for it, -: against): "
                + "; ".join(f"{cls}: {', '.join(said)}" for cls, said in v.strongest.items())
            ]
            if v.strongest
            else []
        ),
        f"- {row.get('params', '')} parameters, {row.get('latency_ms', '')} ms a row",
        f"- The comparison: [{v.parent_url.rsplit('/', 1)[-1]}]({v.parent_url})",
    ]
    return "\n".join(lines)


def model_version_note(spec: TaskSpec, variant: str, kind: str, description: str, run_id: str, val: Interval) -> str:
    """A registered model version's description: what it is and where it was trained and judged."""
    return (
        f"`{variant}` ({kind}) of task `{spec.name}`: {description}. Trained and logged by run {run_id} "
        f"(a child of its comparison run); validation `{spec.metric_key}` {val}. Inputs and classes: the "
        "model's metadata (`layout`: where each input lies in the flat row; `names`: what its leads, "
        "descriptors and frequencies are called; `classes`; `views`: the feature-view versions it read)."
    )


def registered_model_note(spec: TaskSpec, variant: str, kind: str, description: str) -> str:
    """A registered model's description: the variant, and where its versions come from."""
    return (
        f"`{variant}` ({kind}) of task `{spec.name}`: {description}. Each version is one comparison's (experiment "
        f"`ecgnet-{spec.name}`); the `champion` alias marks the promoted one, which `python -m ecgnet predict` uses."
    )


def gate_note(decision: GateDecision) -> str:
    """The promotion gate's verdict, section GATE of the comparison run's description."""
    said = "; ".join([*decision.reasons, *decision.notes])
    if decision.passed:
        return "passed" + (f" ({said})" if said else "") + "; the champion asset moves the alias."
    return f"refused the candidate: {said}. The champion stays where it was."


def champion_note(candidate: Candidate, previous: Champion | None) -> str:
    """The promotion, section CHAMPION of the comparison run's description, once the alias has moved."""
    was = f"{previous.name} version {previous.version}" if previous else "no champion"
    return (
        f"the alias moved to `ecgnet-{candidate.task}-{candidate.variant}` version {candidate.version} ({was} before)."
    )
