"""Records dropped into an inbox, scored by a task's champion (the scoring assets): each record's rows as
Parquet, its WFDB annotations and its course over time (PNG) under the workspace's `predictions/<task>/`,
and, where the record brings its own reference annotations, how the champion agrees with them
(`reference`). A record is scored once per champion: again only when its files change or another model
becomes champion (`scored.parquet`)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from feature_store.raw_store import write_atomic
from feature_store.sources.base import record_files
from feature_store.sources.registry import files_state
from feature_store.tasks import TaskSpec
from feature_store.workspace import Workspace

from .annotations import ANNOTATOR, prediction_events, write_annotations
from .predict import Champion, draw_timeline, predict, records_in
from .reference import agreement
from .reference_report import Comparison, comparison_from_json, summed
from .reference_report import report as reference_report

# per task: every record scored or refused, its files' fingerprint, the champion (name, version), why refused
MANIFEST = "scored.parquet"
REFERENCE_REPORT = "reference.parquet"  # per task: EC57's report over the inbox's records with a reference
COMPARED = ".reference.json"  # beside a record's rows: its comparison with its reference, to sum with others


@dataclass(frozen=True)
class Scored:
    """One inbox record scored: where its rows and annotations went, and what they say."""

    record: Path
    rows: int
    counts: dict[str, int]  # rows predicted each class
    table: Path
    annotations: Path | None  # a task of one row a record: none
    seconds: float
    reference: str | None = None  # the record against its own reference annotations, where it has them
    timeline: Path | None = None  # the record over time (`draw_timeline`), where it has more than one row


@dataclass
class ScoringReport:
    """What one pass over the inbox did."""

    scored: list[Scored] = field(default_factory=list)
    unchanged: int = 0  # records scored before by this champion, files unchanged
    refused: list[str] = field(default_factory=list)  # each names the record (or folder) and the fix
    # the inbox's records that bring a reference, scored now or before by this champion, summed (EC57's
    # gross: `reference_report.summed`), and their report (`REFERENCE_REPORT`)
    compared: int = 0
    against: str | None = None
    reference_report: Path | None = None


def record_fingerprint(record: Path) -> str:
    """The record's files (`record_files`: header, signal, annotations, a multi-segment record's segments;
    an EDF file) by path, size and time, as the new-records sensor reads a folder (`files_state`)."""
    return files_state(record_files(record))


@dataclass(frozen=True)
class Outputs:
    """Where one inbox record's outputs go: `stem` (its place under the task's predictions folder) and a
    suffix each."""

    stem: Path

    @classmethod
    def of(cls, workspace: Workspace, task: TaskSpec, folder: Path, record: Path) -> Outputs:
        """The record's place under the task's inbox `folder` (two subfolders' record 100 stay two)."""
        try:
            relative = record.relative_to(folder)
        except ValueError:
            relative = Path(record.name)
        return cls(workspace.predictions / task.name / relative)

    def _suffixed(self, suffix: str) -> Path:
        return self.stem.with_name(self.stem.name + suffix)

    @property
    def table(self) -> Path:  # its rows
        return self._suffixed(".parquet")

    @property
    def annotations(self) -> Path:  # WFDB's
        return self._suffixed(f".{ANNOTATOR}")

    @property
    def timeline(self) -> Path:
        return self._suffixed(".png")

    @property
    def compared(self) -> Path:  # its comparison with its reference, to sum with the others'
        return self._suffixed(COMPARED)


def score_inbox(
    task: TaskSpec,
    workspace: Workspace,
    folder: Path,
    champion: Callable[[], Champion],
    identity: str,
    log: Callable[[str], None] = print,
) -> ScoringReport:
    """Score every record under the task's inbox `folder` that the champion `identity` (its registered name
    and version) has not scored as it is now; the champion is loaded (`champion()`) only when a record needs
    it. One record that cannot be read is refused by name and the others go on; it is said again on every
    pass, and read again once its files change or another model is champion."""
    manifest_path = workspace.predictions / task.name / MANIFEST
    done = _read_manifest(manifest_path)
    report = ScoringReport()
    records, problems = records_in(folder) if folder.is_dir() else ([], [])
    report.refused += problems
    pending = []
    outputs = {record: Outputs.of(workspace, task, folder, record) for record in records}
    for record, out in outputs.items():
        fingerprint = record_fingerprint(record)
        seen = done.get(str(record))
        if seen is not None and seen[:2] == (fingerprint, identity) and seen[2]:
            report.refused.append(seen[2])  # refused as it is now: said again, read again once it changes
        elif seen is not None and seen[:2] == (fingerprint, identity) and out.table.is_file():
            report.unchanged += 1
        else:
            pending.append((record, fingerprint, out))
    model = champion() if pending else None  # its failure (no champion) is the run's, not a record's
    now = dict(done)  # the manifest as this pass leaves it
    for record, fingerprint, out in pending:
        assert model is not None
        start = time.perf_counter()
        try:
            scored = _score(record, task, workspace, model, out, folder)
        except ValueError as err:  # a RecordError too: the record cannot be read as this champion reads
            report.refused.append(str(err))
            now[str(record)] = (fingerprint, identity, str(err))
            continue
        scored = replace(scored, seconds=time.perf_counter() - start)
        report.scored.append(scored)
        now[str(record)] = (fingerprint, identity, "")
        log(f"{record}: {scored.rows} row(s) in {scored.seconds:.1f} s, {_counts_text(scored.counts)}")
    if pending:
        _write_manifest(manifest_path, now)
    _sum_references(report, task, workspace, outputs, now, identity)
    return report


def _sum_references(
    report: ScoringReport,
    task: TaskSpec,
    workspace: Workspace,
    outputs: dict[Path, Outputs],
    now: dict[str, tuple[str, str, str]],
    identity: str,
) -> None:
    """The comparisons of the inbox's records as they are now (`outputs`: each one's; scored now or before by
    this champion), summed into `report` and written as EC57's report: what `predict --reference --report`
    gives for the folder."""
    compared: list[tuple[str, Comparison]] = []
    for record, out in outputs.items():
        entry = now.get(str(record))
        if entry is not None and entry[1] == identity and not entry[2] and out.compared.is_file():
            try:
                compared.append((str(record), comparison_from_json(json.loads(out.compared.read_text()))))
            except (ValueError, KeyError, TypeError, OSError):  # damaged by hand: read again on its next scoring
                continue
    path = workspace.predictions / task.name / REFERENCE_REPORT
    if not compared:
        path.unlink(missing_ok=True)  # an inbox whose references left: no report of them stays
        return
    gross = summed([c for _, c in compared])
    report.compared = len(compared)
    report.against = gross.line(task, f"the references of {gross.records} record(s), summed")
    write_atomic(reference_report(compared, task).to_arrow(), path)
    report.reference_report = path


def _score(record: Path, task: TaskSpec, workspace: Workspace, champion: Champion, out: Outputs, inbox: Path) -> Scored:
    """The record's rows, annotations and timeline to `out`, against its own reference where it has one (a
    `REFERENCE.csv` found as far up as the `inbox` folder)."""
    out.compared.unlink(missing_ok=True)  # a comparison of the record as it was, or by another champion, is gone
    pred = predict(record, task, workspace, champion)
    rows = pred.table()
    against = None
    try:  # the record's own reference annotations, or the diagnosis it states, where it has them
        agreed, source = agreement(pred, task, root=inbox)
        rows = rows.with_columns(pl.Series("reference", agreed.reference_column(), dtype=pl.String))
        against = agreed.line(task, source)
        out.compared.parent.mkdir(parents=True, exist_ok=True)
        out.compared.write_text(json.dumps(agreed.to_json()))
    except ValueError as err:  # no reference beside the record: nothing to compare, as for most new recordings
        if Path(f"{record}.atr").is_file():  # one that is there but cannot be read is said
            against = f"not compared: {err}"
    write_atomic(rows.to_arrow(), out.table)
    written = timeline = None
    if task.annotation_codes:  # a task of one row a record has nothing in time to annotate, or to draw
        write_annotations(out.annotations, prediction_events(pred, task), pred.record_fs)
        written = out.annotations
        if pred.samples is not None:  # a record of one row (CinC 2017's) has no course over time
            timeline = out.timeline
            draw_timeline(pred, task, timeline)
    counts = Counter(rows["predicted"].to_list())
    by_class = {c: counts.get(c, 0) for c in task.classes}
    return Scored(record, len(rows), by_class, out.table, written, 0.0, against, timeline)


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{c} {n}" for c, n in counts.items())


def _read_manifest(path: Path) -> dict[str, tuple[str, str, str]]:
    """record -> (files' fingerprint, champion, why it was refused or "")."""
    if not path.is_file():
        return {}
    table = pl.read_parquet(path)
    if "refused" not in table.columns:  # written before 2026-12-07's last change (keyed on the MLflow run)
        return {}
    return {r: (f, c, e) for r, f, c, e in table.select("record", "fingerprint", "champion", "refused").iter_rows()}


def _write_manifest(path: Path, manifest: dict[str, tuple[str, str, str]]) -> None:
    rows = [{"record": r, "fingerprint": f, "champion": c, "refused": e} for r, (f, c, e) in manifest.items()]
    write_atomic(pl.DataFrame(rows).sort("record").to_arrow(), path)
