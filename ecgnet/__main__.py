"""`python -m ecgnet predict <record>`: class probabilities from the champion model.
`python -m ecgnet show`: the task's latest comparison, as its MLflow store holds it."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from feature_store.config import whole_number
from feature_store.tasks import TASKS, RecordWindows, TaskSpec, in_time, task_named
from feature_store.workspace import Workspace, tracking_uri
from feature_store.writer import WorkspaceBusy, writing

if TYPE_CHECKING:  # torch and mlflow load only when a command runs
    import numpy as np

    from .explain import Explanation
    from .predict import Prediction
    from .reference_report import Comparison


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="class probabilities of one WFDB or EDF record from the champion model")
    p.add_argument(
        "record", type=Path, help="record path without extension (data/sample/mitdb/100), an .edf file, or a folder"
    )
    p.add_argument("--task", choices=sorted(TASKS), default=next(iter(TASKS)))
    p.add_argument("--home", type=Path, default=None, help="workspace (default: ECGNET_HOME or .ecgnet/)")
    p.add_argument(
        "--rows",
        type=_at_least(0),
        default=None,
        help="rows to print per record (beats: the first N); default 10, 0 with --out (the rows are in the file)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE.csv|FILE.parquet",
        help="write every row's probabilities (beats: with the R peak's sample index in the record)",
    )
    p.add_argument(
        "--explain",
        type=Path,
        default=None,
        metavar="FILE.png",
        help="draw the champion's Integrated Gradients attribution (mean per predicted class) to this PNG",
    )
    p.add_argument("--explain-rows", type=_at_least(1), default=50, help="most rows explained per predicted class")
    p.add_argument(
        "--timeline",
        type=Path,
        default=None,
        metavar="FILE.png",
        help="draw the record over time: af its rhythm (class probabilities and the predicted class per window), "
        "beats its heart rate and ectopic beats per bin",
    )
    p.add_argument(
        "--annotations",
        type=Path,
        default=None,
        metavar="DIR",
        help="write each record's predictions as a WFDB annotation file DIR/<record>.ecgnet (beats: a label at each "
        "R peak; af: rhythm changes), for WFDB viewers and EC57 tools (bxb, rxr) against the record's .atr; a "
        "folder's records keep their places under it",
    )
    p.add_argument(
        "--reference",
        nargs="?",
        const="atr",
        default=None,
        metavar="ANNOTATOR",
        help="compare each record with its reference annotations (<record>.atr, or the annotator named): beats as "
        "EC57's beat-by-beat and run-by-run comparisons do (matched within 150 ms, Se and +P per class; couplets "
        "and runs of PVCs), af's windows with the "
        "rhythm annotated over each and its AF episodes as EC57's episode comparison does; records (multi-label) "
        "with the diagnosis each states (header, PTB-XL row); a folder's summed too; --out gains a reference column",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="FILE.csv|FILE.parquet",
        help="with --reference: EC57's report, a row per record of every count and figure compared, then their "
        "gross sum and average",
    )
    s = sub.add_parser("show", help="the task's latest comparison: every variant side by side, the choice")
    s.add_argument("--task", choices=sorted(TASKS), default=next(iter(TASKS)))
    s.add_argument("--home", type=Path, default=None, help="workspace (default: ECGNET_HOME or .ecgnet/)")
    s.add_argument("--run", default=None, help="a comparison's MLflow run id (default: the latest finished one)")
    s.add_argument("--wide", action="store_true", help="every column of the comparison table, not the compact ones")
    args = parser.parse_args(argv)
    workspace = Workspace(args.home.resolve()) if args.home else Workspace.default()
    if args.command == "show":
        return _show(args, workspace)
    if not workspace.home.is_dir():  # reading makes no workspace
        if tracking_uri(workspace) == workspace.mlflow_uri:  # the champion's store would be this missing folder
            return _no_workspace(workspace)
        return _predict(args, workspace)  # the champion is on the MLflow server the environment names
    try:  # a run that is promoting a new champion or rewriting views finishes first
        with writing(workspace.home, "predict", on_wait=lambda h: print(h.waiting(), file=sys.stderr)):
            return _predict(args, workspace)
    except WorkspaceBusy as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `low` (a negative row count would slice from the end)."""

    def parse(text: str) -> int:
        value = whole_number(text, low)
        if value is None:
            raise argparse.ArgumentTypeError(f"{text!r}: a whole number of at least {low}")
        return value

    return parse


def _no_workspace(workspace: Workspace) -> int:
    print(f"error: no workspace at {workspace.home}; fix: run make demo first, or give --home", file=sys.stderr)
    return 2


def _show(args: argparse.Namespace, workspace: Workspace) -> int:
    from .show import comparison_summary, render  # mlflow loads only when a command runs
    from .tracking import Tracker

    task = task_named(args.task)
    if not workspace.home.is_dir():  # reading makes no workspace
        return _no_workspace(workspace)
    try:
        summary = comparison_summary(Tracker.for_workspace(workspace), task, args.run)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(render(summary, task, wide=args.wide))
    return 0


def _predict(args: argparse.Namespace, workspace: Workspace) -> int:
    from .config import ExplainConfig
    from .predict import (
        draw_timeline,
        explain_prediction,
        load_champion,
        predict,
        records_in,
        table_format,
        write_table,
    )

    task = task_named(args.task)
    _follow_long_records()
    try:
        if args.out is not None:  # before a folder is scored for nothing
            table_format(args.out)
        if args.report is not None:
            if args.reference is None:
                raise ValueError("--report holds the comparison with the references; fix: add --reference")
            table_format(args.report, "--report")
        if args.annotations is not None:
            _check_annotations(args.annotations, task)
        if args.reference is not None:
            from .reference import check_reference

            check_reference(task, args.reference)
        champion = load_champion(task, workspace)
        records, problems = records_in(args.record)
        for option in ("explain", "timeline"):
            if getattr(args, option) and len(records) > 1:
                raise ValueError(f"{args.record}: --{option} draws one record; fix: give a record, not a folder")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for problem in problems:  # listed, not scored: no record is behind them
        print(f"error: {problem}", file=sys.stderr)
    tables, failed = [], len(problems)
    root = args.record if args.record.is_dir() else None  # where a record's reference tables are looked for
    agreements: list[tuple[str, Comparison]] = []  # each record's, by its path
    for record in records:  # one unreadable record never stops the others
        start = time.perf_counter()
        try:
            pred = predict(record, task, workspace, champion, explain_rows=args.explain_rows)
            expl = (
                explain_prediction(pred, workspace, args.explain, ExplainConfig(rows_per_class=args.explain_rows))
                if args.explain
                else None
            )
            compared, said = (None, None) if args.reference is None else _compare(pred, task, args.reference, root)
            if args.timeline:  # with the reference's classes beside the predicted ones, where it was read
                draw_timeline(pred, task, args.timeline, _row_reference(compared))
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        _print(pred, task, args, expl, time.perf_counter() - start)
        if args.annotations is not None:
            try:
                print(_annotate(pred, task, args.annotations / _relative(record, args.record)))
            except OSError as err:  # the file is not written; the rows are kept for --out all the same
                print(f"error: {err}", file=sys.stderr)
                failed += 1
        table = pred.table()
        if said is not None:
            print(said)
        if compared is not None:
            agreements.append((str(record), compared))
            table = table.with_columns(pl.Series("reference", compared.reference_column(), dtype=pl.String))
        tables.append(table)
    if args.out is not None and tables:
        try:
            write_table(pl.concat(tables, how="diagonal_relaxed"), args.out)  # a record without a start: no clock
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"{sum(len(t) for t in tables)} rows of {len(tables)} record(s) written to {args.out}")
    if len(records) + len(problems) > 1:
        print(f"{len(tables)} record(s) scored, {failed} refused")
    if len(agreements) > 1:  # EC57's gross statistics: every record's rows counted together
        from .reference_report import summed

        gross = summed([a for _, a in agreements])
        print(gross.line(task, f"the references of {gross.records} record(s), summed"))
    if args.report is not None and agreements:
        from .reference_report import report

        try:
            write_table(report(agreements, task), args.report)
        except (ValueError, OSError) as err:
            print(f"error: {args.report}: {err}", file=sys.stderr)
            return 2
        print(f"{len(agreements)} record(s) compared, with their gross sum and average, written to {args.report}")
    elif args.report is not None:
        print(f"note: no record was compared with a reference, so {args.report} was not written")
    return 2 if not tables else (1 if failed else 0)


def _check_annotations(folder: Path, task: TaskSpec) -> None:
    """ValueError before anything is scored: a task with nothing in time, or a folder that is a file."""
    in_time(task, "--annotations")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--annotations {folder}: a file, not a folder; fix: name a folder (it is made if missing)")


def _relative(record: Path, given: Path) -> Path:
    """Where a record's annotations go under the --annotations folder: its place under the folder given
    (two folders' record 100 stay two files), or its name where one record was given."""
    try:
        return record.relative_to(given) if given.is_dir() else Path(record.name)
    except ValueError:
        return Path(record.name)


def _annotate(pred: Prediction, task: TaskSpec, where: Path) -> str:
    """The record's predictions as WFDB annotations at `where` plus the annotator's extension, and the line
    that says so; OSError naming the file and the fix where it cannot be written."""
    from .annotations import ANNOTATOR, prediction_events, write_annotations

    events = prediction_events(pred, task)
    path = where.with_name(f"{where.name}.{ANNOTATOR}")
    try:
        write_annotations(path, events, pred.record_fs)
    except OSError as err:
        raise OSError(f"{path}: {err.strerror or err}; fix: give --annotations a folder this user can write") from err
    return f"{len(events)} annotation(s) written to {path} (WFDB, annotator {ANNOTATOR})"


def _compare(pred: Prediction, task: TaskSpec, annotator: str, root: Path | None) -> tuple[Comparison | None, str]:
    """The record's rows against its reference, and the line that says so; a record without a reference is
    said too (its rows are scored all the same)."""
    from .reference import agreement as compared

    try:
        agreement, source = compared(pred, task, annotator, root)
    except ValueError as err:  # a RecordError too: an unreadable reference file
        return None, f"note: {err}"
    return agreement, agreement.line(task, source)


def _row_reference(compared: Comparison | None) -> np.ndarray | None:
    """Each row's reference class (index; -1: none), where a rhythm or beats task's reference was read."""
    from .reference import Agreement

    return compared.row_reference if isinstance(compared, Agreement) else None


def _follow_long_records() -> None:
    """The online path's steps on stderr as a long record goes through them (`LONG_RECORD_S`; a record
    over the size limit section by section): a day-long Holter is minutes of silence otherwise."""
    from feature_store.views.online import log as online
    from feature_store.views.sectioned_beats import log as sectioned

    for logger in (online, sectioned):
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # once: MLflow's import configures the root logger as well


def _print(
    pred: Prediction, task: TaskSpec, args: argparse.Namespace, expl: Explanation | None, seconds: float
) -> None:
    from .predict import ectopy_line, episodes_line

    classes, ids, probs, unit = pred.classes, pred.ids, pred.probs, task.unit
    windows = unit == "record" and pred.samples is not None  # a long record of a rhythm task, window by window
    noun = "window" if windows else unit
    print(f"{pred.record}: {len(ids)} {noun}(s) scored by {pred.uri} in {seconds:.1f} s")  # a Holter takes minutes
    for note in pred.notes:
        print(f"note: {note}")
    rows = args.rows if args.rows is not None else (0 if args.out is not None else 10)
    if rows > 0:
        print("id".ljust(16) + "".join(c.rjust(8) for c in classes))
    for entity, row in list(zip(ids, probs))[:rows]:
        print(str(entity).ljust(16) + "".join(f"{v:8.3f}" for v in row))
    if unit == "beat" or windows:
        counts = Counter(classes[i] for i in probs.argmax(axis=1))
        share = (lambda c: f" ({counts.get(c, 0) / len(ids):.0%})") if windows else (lambda c: "")
        print(f"predicted {noun}s per class: " + ", ".join(f"{c} {counts.get(c, 0)}{share(c)}" for c in classes))
    if windows and isinstance(task.window, RecordWindows):
        for cls in task.focus_classes:
            print(
                episodes_line(
                    probs.argmax(axis=1), classes, cls, task.window.duration_s, pred.onsets_s, pred.record_start
                )
            )
    if unit == "beat" and len(ids):
        for cls in task.focus_classes:
            print(ectopy_line(probs.argmax(axis=1), classes, cls, pred.onsets_s, pred.beat_numbers, pred.record_start))
    if args.timeline is not None:
        what = "heart rate and beats per class" if unit == "beat" else "rhythm"
        print(f"{what} over {len(ids)} {noun}s drawn to {args.timeline}")
    if expl is not None:
        shares = ", ".join(f"{m} {v:.2f}" for m, v in expl.shares().items())
        print(f"attribution of {len(expl.rows)} {noun}(s) drawn to {args.explain}; modality shares: {shares}")


if __name__ == "__main__":
    sys.exit(main())
