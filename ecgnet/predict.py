"""Inference with the champion: one WFDB record -> class probabilities, through the feature store's
online path with the stored parameters and train statistics of the views the model was trained on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import torch
from mlflow.exceptions import MlflowException

from feature_store.config import MAX_RECORD_VALUES_ENV
from feature_store.sources.base import clock
from feature_store.sources.edf_record import edf_file, is_edf
from feature_store.tasks import RecordWindows, TaskSpec
from feature_store.views.online import NothingClear, Section, record_sections
from feature_store.views.store import FeatureStore
from feature_store.workspace import Workspace

from .config import ExplainConfig
from .data import InputNames, modality_inputs
from .ectopic_runs import runs_of
from .explain import BASELINE_FILE, Explanation, attribute, stratified_rows
from .export import Layout, packed_probs
from .plots import attribution_png, beat_timeline_png, rhythm_timeline_png
from .tracking import CHAMPION, Tracker, pickles_refused


def champion_uri(tracker: Tracker, task: str) -> str:
    champion = tracker.current_champion(task)
    if champion is None:
        raise ValueError(
            f"no '{CHAMPION}' model for task {task!r} in {tracker.uri}; fix: run `make demo` "
            "(it trains, compares and promotes a champion) or the `retrain` job in Dagster"
        )
    return f"models:/{champion.name}@{CHAMPION}"


@dataclass
class Champion:
    """The task's champion as loaded once for any number of records."""

    uri: str
    model: torch.nn.Module  # the packed champion: flat rows in, probabilities out
    layout: Layout
    classes: list[str]
    views: dict[str, str]  # feature view -> version it was trained on
    run_id: str  # the MLflow run that logged it (and its explanation baseline)
    names: InputNames = field(default_factory=InputNames)  # nothing named for models logged before 2026-12-06


@dataclass
class Prediction:
    """One record scored by the champion: a row per entity (beat or record) of packed inputs."""

    classes: list[str]
    ids: np.ndarray
    probs: np.ndarray  # (rows, classes)
    uri: str
    # (rows, width): the packed inputs the model saw; of a record read in sections, those of `flat_rows` only
    flat: np.ndarray | None
    layout: Layout
    model: torch.nn.Module  # the packed champion: flat rows in, probabilities out
    run_id: str  # the MLflow run that logged it (and its explanation baseline)
    record: Path | None = None
    notes: list[str] = field(default_factory=list)  # how the record was read, e.g. a substitute lead
    samples: np.ndarray | None = None  # each beat's R peak, or rhythm window's first sample, in the record as stored
    names: InputNames = field(default_factory=InputNames)  # the champion's
    record_fs: float | None = None  # the rate of the record as stored: `samples` / record_fs are seconds
    # beats: each row's beat number among the record's beats (a gap: beats between not scored, a dropout)
    beat_numbers: np.ndarray | None = None
    # a record read in sections: the rows whose packed inputs `flat` holds (`SectionSample`), sorted
    flat_rows: np.ndarray | None = None
    record_start: dt.datetime | None = None  # when the record began, where its file says (an EDF export does)

    @property
    def onsets_s(self) -> np.ndarray | None:
        """Each row's time in the record (s): a beat's R peak, a rhythm window's start."""
        return None if self.samples is None or not self.record_fs else self.samples / self.record_fs

    def table(self) -> pl.DataFrame:
        """One row per beat or record: the record, the row's id (and sample; for beats, its number among the
        record's beats; where the record says when it began, the time of day), each class's probability and the
        predicted class."""
        n = len(self.ids)
        columns: dict[str, list[str] | list[dt.datetime] | np.ndarray] = {
            "record": [str(self.record)] * n,
            "id": [str(i) for i in self.ids],
        }
        if self.samples is not None:
            columns["sample"] = self.samples
        if self.beat_numbers is not None:  # consecutive beats, where a dropout left none unscored between
            columns["beat"] = self.beat_numbers
        if (onsets := self.onsets_s) is not None:
            columns["time_s"] = onsets
            if self.record_start is not None:  # the time of day a Holter's reader looks an event up by
                columns["clock"] = [self.record_start + dt.timedelta(seconds=float(t)) for t in onsets]
        columns |= {f"p_{c}": self.probs[:, i] for i, c in enumerate(self.classes)}
        columns["predicted"] = [self.classes[i] for i in self.probs.argmax(axis=1)] if n else []
        return pl.DataFrame(columns)


def load_champion(task: TaskSpec, workspace: Workspace, tracker: Tracker | None = None) -> Champion:
    """The task's champion from `tracker` (default: the workspace's, or the MLflow server the environment
    names), with what it needs to score a record."""
    tracker = tracker or Tracker.for_workspace(workspace)
    uri = champion_uri(tracker, task.name)
    with tracker.fluent(), pickles_refused():
        info = mlflow.models.get_model_info(uri)
        if info.metadata is None:  # a model registered by hand, not by ecgnet's tracking, which always writes it
            raise ValueError(
                f"{uri}: the model has no metadata (layout, classes, views); fix: retrain the champion with ecgnet"
            )
        try:
            model = mlflow.pytorch.load_model(uri)
        except MlflowException as err:
            raise ValueError(
                f"{uri}: MLflow refused to load it ({err}); fix: its artifact folder holds a pickled model "
                "file that ecgnet never writes (model.pth): remove it, or retrain the champion"
            ) from err
    meta = info.metadata
    FeatureStore(workspace.store, workspace.features).online_entries(list(meta["views"]), versions=meta["views"])
    layout, names = Layout.from_json(meta["layout"]), InputNames.from_json(meta.get("names"))
    return Champion(uri, model, layout, list(meta["classes"]), meta["views"], info.run_id, names)


class SectionSample:
    """Up to `per_class` rows of each predicted class of a record read in sections, with their packed inputs,
    drawn as the sections are scored (each row a seeded random key, the smallest kept): what `--explain`
    reads of a record whose inputs are not all kept. A record read whole is explained on `stratified_rows`."""

    def __init__(self, per_class: int, seed: int = 0) -> None:
        self.per_class, self.seed = per_class, seed
        self.keys, self.rows, self.flat, self.classes = np.zeros(0), np.zeros(0, np.int64), None, np.zeros(0, np.int64)

    def add(self, packed: np.ndarray, probs: np.ndarray, first: int, section: int) -> None:
        """A section's rows (`first`: the first one's row number in the record)."""
        keys, classes = np.random.default_rng([self.seed, section]).random(len(packed)), probs.argmax(axis=1)
        own = self._smallest(keys, classes)  # the section's candidates first: its packed rows are not copied
        keys, classes = np.concatenate([self.keys, keys[own]]), np.concatenate([self.classes, classes[own]])
        rows = np.concatenate([self.rows, first + own])
        flat = packed[own] if self.flat is None else np.concatenate([self.flat, packed[own]])
        kept = self._smallest(keys, classes)
        self.keys, self.rows, self.flat, self.classes = keys[kept], rows[kept], flat[kept], classes[kept]

    def _smallest(self, keys: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Per class, the rows of the `per_class` smallest keys; all of them in row order."""
        kept = [
            np.flatnonzero(classes == c)[np.argsort(keys[classes == c])][: self.per_class] for c in np.unique(classes)
        ]
        return np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)


def predict(
    record: Path,
    task: TaskSpec,
    workspace: Workspace,
    champion: Champion | None = None,
    explain_rows: int = ExplainConfig().rows_per_class,
) -> Prediction:
    """The champion's probabilities for every row of one record. A record read in sections keeps the packed
    inputs of up to `explain_rows` rows per predicted class (`SectionSample`) for `explain_prediction`."""
    record = record_path(Path(record))
    if not Path(f"{record}.hea").is_file() and edf_file(record) is None:
        raise ValueError(
            f"{record}.hea (or {record}.edf) not found; fix: give the record path without extension, e.g. "
            "data/sample/mitdb/100"
        )
    champion = champion or load_champion(task, workspace)
    views, store = champion.views, FeatureStore(workspace.store, workspace.features)
    # a record over the size limit is read in sections (`record_sections`): one section's signal and features
    # are held at a time, and the packed inputs only where there is one read (`--explain` needs all of them)
    sections = record_sections(record, task.name)
    reads: list[Section | None] = list(sections) if sections else [None]
    # a task of one row a record (records) reads sections until one holds its row: the first clear stretch
    one_row = isinstance(task.window, RecordWindows) and not task.window.rhythm_windows
    whole = len(reads) == 1 or one_row
    # a beats task's sections are read against the whole record's beats, found first, section by section
    beats = (
        store.record_beats(record, list(views), sections, versions=views) if sections and task.unit == "beat" else None
    )
    samples: list[np.ndarray | None] = []
    numbers: list[np.ndarray] = []
    ids, probs, flat, record_fs, record_start = [], [], None, None, None
    sample, scored = SectionSample(explain_rows), 0
    notes: list[str] = [] if beats is None else list(beats.notes)  # how its beats were found, said once
    skipped: list[str] = []
    for section in reads:
        try:
            online = store.online(record, list(views), versions=views, section=section, beats=beats)
        except NothingClear as err:
            if len(reads) == 1:
                raise
            # a section inside a dropout: said, the others scored (a one-row task's first miss said, then counted)
            (skipped if one_row else notes).append(f"{err}: not scored")
            continue
        packed = champion.layout.pack(modality_inputs(online.features, task.name))
        flat = packed if whole else None
        ids.append(online.ids)
        probs.append(packed_probs(champion.model, packed))
        if not whole and section is not None:
            sample.add(packed, probs[-1], scored, section.index)
        scored += len(packed)
        samples.append(online.samples)
        if online.beat_numbers is not None:
            numbers.append(online.beat_numbers)
        notes += online.notes
        record_fs, record_start = online.record_fs, online.record_start
        if one_row:
            break
    if not ids:
        what = "a row" if one_row else "a window"
        raise ValueError(f"{record}: no section holds {what} clear of dropouts; fix: score a recording without them")
    if sections:
        more = [f"and {len(skipped) - 1} more section(s) without one"] if len(skipped) > 1 else []
        notes[:0] = [_sections_note(record, sections, one_row), *skipped[:1], *more]
    return Prediction(
        champion.classes,
        np.concatenate(ids),
        np.concatenate(probs),
        champion.uri,
        flat if whole else sample.flat,
        champion.layout,
        champion.model,
        champion.run_id,
        Path(record),
        list(dict.fromkeys(notes)),
        samples[0] if len(samples) == 1 else np.concatenate([s for s in samples if s is not None]),  # each has them
        champion.names,
        record_fs,
        np.concatenate(numbers) if numbers else None,
        None if whole else sample.rows,
        record_start,
    )


def _sections_note(record: Path, sections: list[Section], one_row: bool) -> str:
    """How a record over the size limit was read."""
    first = sections[0]
    length = f"{clock((first.stop - first.start) / first.fs)} (h:mm:ss)"
    if one_row:
        return f"the record is over {MAX_RECORD_VALUES_ENV}: its row was looked for in sections of {length}"
    return f"the record is over {MAX_RECORD_VALUES_ENV}: read in {len(sections)} sections of {length}, one at a time"


def record_path(path: Path) -> Path:
    """A record as wfdb names it, without extension: `100.hea` or `100.dat` (a shell's completion) is record
    100 where its header is there; WFDB record names hold no dot, so the suffix is never the name's. An EDF
    file (`night.edf`) is the record of its name without the suffix, where no header names it."""
    if path.suffix and not path.is_dir() and path.with_suffix(".hea").is_file():
        return path.with_suffix("")
    if is_edf(path) and edf_file(path.with_suffix("")) == path:
        return path.with_suffix("")
    return path


def records_in(path: Path) -> tuple[list[Path], list[str]]:
    """`path` itself when it is a record (`record_path`), else every WFDB record under the folder (segments
    of a multi-segment record are read through it), sorted; and what discovery found unreadable without
    reading a record (a broken PTB-XL table row, named by file and line)."""
    if not path.is_dir():
        return [record_path(path)], []
    from feature_store.config import IngestConfig
    from feature_store.sources.registry import discover

    refs = [ref for refs in discover([path], IngestConfig()).values() for ref in refs]
    return sorted(ref.path for ref in refs if not ref.problem), [ref.problem for ref in refs if ref.problem]


def table_format(out: Path, option: str = "--out") -> str:
    """ "csv" or "parquet", by the file's suffix; ValueError before anything is scored for another."""
    suffix = out.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"{out}: {option} writes .csv or .parquet; fix: name the file with one of those suffixes")


def write_table(table: pl.DataFrame, out: Path) -> None:
    """CSV or Parquet by the file's suffix."""
    fmt = table_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        table.write_csv(out)
    else:
        table.write_parquet(out)


def episodes(
    predicted: np.ndarray,
    cls: int,
    onsets_s: np.ndarray | None = None,
    max_gap_s: float = 0.0,
    numbers: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """Runs of consecutive rows predicted as class `cls`: (first row, rows in the run), in order. With each
    row's onset (s), a row that starts more than `max_gap_s` after the one before (those between were not
    scored: a dropout; or, for beats, a pause) starts a new run; with each row's number among the record's
    rows (`numbers`, beats), so does a row that is not the next one."""
    hit = np.asarray(predicted) == cls
    follows = np.zeros(len(hit), bool)  # row i continues row i - 1 in time
    follows[1:] = True if onsets_s is None else np.diff(onsets_s) <= max_gap_s
    if numbers is not None:
        follows[1:] &= np.diff(numbers) == 1
    first, last = runs_of(hit, follows)
    return list(zip(first.tolist(), (last - first + 1).tolist()))


def episodes_line(
    predicted: np.ndarray,
    classes: list[str],
    cls: str,
    window_s: float,
    onsets_s: np.ndarray | None = None,
    start: dt.datetime | None = None,
) -> str:
    """What a Holter reader asks of a class first: in how many episodes, and the longest, from when.
    `onsets_s`: each window's start in the record, where windows were left out (dropouts); `start`: when the
    record began (`when`)."""
    runs = episodes(predicted, classes.index(cls), onsets_s, 1.5 * window_s)  # the next window, not one after it
    if not runs:
        return f"{cls}: no window predicted"
    first, n = max(runs, key=lambda run: run[1])
    onset = first * window_s if onsets_s is None else onsets_s[first]
    return (
        f"{cls}: {len(runs)} episode(s) of consecutive windows, the longest {n * window_s / 60:.1f} min from "
        f"{when(float(onset), start)}"
    )


RUN_GAP_S = 1.5  # s: two beats further apart (a pause, or a beat between not scored) are not in one run


def ectopy_line(
    predicted: np.ndarray,
    classes: list[str],
    cls: str,
    onsets_s: np.ndarray | None,
    numbers: np.ndarray | None = None,
    start: dt.datetime | None = None,
) -> str:
    """What a Holter reader asks of an ectopic class first: how many beats (the burden, and an hour's rate
    over a record of an hour or more), how many in pairs and in runs of three or more, and the longest run,
    its rate and when (`when`: `start`, where the record says when it began, gives the time of day).
    Consecutive beats predicted `cls` are a run where each follows the one before within `RUN_GAP_S`
    (`onsets_s`: each beat's R peak in the record, s; without it, rows are consecutive beats) and, given each
    row's beat number (`Prediction.beat_numbers`), is the next beat: no beat between left unscored by a
    dropout."""
    predicted = np.asarray(predicted)
    count, total = int((predicted == classes.index(cls)).sum()), len(predicted)
    if not count:
        return f"{cls}: no beat predicted"
    said = f"{cls}: {count} beat(s), {count / total:.1%} of those scored"
    span_h = float(onsets_s[-1] - onsets_s[0]) / 3600 if onsets_s is not None and total > 1 else 0.0
    if span_h >= 1:
        said += f", {count / span_h:.0f} an hour"
    runs = episodes(predicted, classes.index(cls), onsets_s, RUN_GAP_S, numbers)
    pairs, longer = sum(n == 2 for _, n in runs), [(first, n) for first, n in runs if n >= 3]
    said += f"; {pairs} pair(s), {len(longer)} run(s) of 3 or more"
    if not longer:
        return said
    first, n = max(longer, key=lambda run: run[1])
    if onsets_s is None:
        return said + f", the longest {n} beats"
    rate = 60 * (n - 1) / float(onsets_s[first + n - 1] - onsets_s[first])
    return said + f", the longest {n} beats at {rate:.0f} a minute from {when(float(onsets_s[first]), start)}"


def when(seconds: float, start: dt.datetime | None) -> str:
    """A time in a record as h:mm:ss from its start, and, where the record says when it began, the time of
    day too: what a Holter's reader looks an event up by (`0:12:34, 2009-12-10 12:56:36`)."""
    return clock(seconds) + ("" if start is None else f", {start + dt.timedelta(seconds=seconds):%Y-%m-%d %H:%M:%S}")


@dataclass(frozen=True)
class BeatTrend:
    """A record's beats over time, bin by bin: what a Holter's trend pages show."""

    edges_s: np.ndarray  # (bins + 1,) bin edges, s from the record's start
    rate_bpm: np.ndarray  # (bins,) the median heart rate of the intervals ending in the bin (NaN: none)
    counts: np.ndarray  # (bins, classes) beats predicted each class


TREND_BINS = 288  # a day in 5-minute bins; a shorter record in as many, a minute long at least


def beat_trend(
    onsets_s: np.ndarray,
    predicted: np.ndarray,
    n_classes: int,
    numbers: np.ndarray | None = None,
    edges: np.ndarray | None = None,
) -> BeatTrend:
    """`BeatTrend` of beats at `onsets_s` (s, in time order) predicted as `predicted`: bins of a minute,
    or longer so that a record makes at most `TREND_BINS` (or the bins `edges` given: another trend's). The
    rate reads only the intervals between beats that follow within `RUN_GAP_S` twice over and, given each
    row's beat number (`Prediction.beat_numbers`), between a beat and the next: a dropout's unscored beats
    are no pause, nor is the span across them."""
    onsets_s, predicted = np.asarray(onsets_s, np.float64), np.asarray(predicted)
    if edges is None:
        span = float(onsets_s[-1]) if len(onsets_s) else 0.0
        width = max(60.0, np.ceil(span / TREND_BINS / 60.0) * 60.0)
        edges = np.arange(0.0, span + width, width)
        edges = edges if len(edges) > 1 else np.array([0.0, width])
    at = np.clip(np.searchsorted(edges, onsets_s, side="right") - 1, 0, len(edges) - 2)
    counts = np.zeros((len(edges) - 1, n_classes), np.int64)
    np.add.at(counts, (at, predicted), 1)
    rr = np.diff(onsets_s)
    kept = rr <= 2 * RUN_GAP_S
    if numbers is not None:
        kept &= np.diff(np.asarray(numbers)) == 1
    rate = np.full(len(edges) - 1, np.nan)
    for b in np.unique(at[1:][kept]):
        rate[b] = 60.0 / np.median(rr[kept & (at[1:] == b)])
    return BeatTrend(edges, rate, counts)


def draw_timeline(pred: Prediction, task: TaskSpec, out: Path, reference: np.ndarray | None = None) -> None:
    """A record over time, to `out` (PNG): a rhythm task's windows (each class's probability and the
    predicted class), or a beats task's heart rate and beats of each class but the first (N) per bin.
    `reference`: each row's reference class (index; -1: none, `predict --reference`), drawn beside: the
    reference's rhythm under the predicted one, the reference's ectopic beats per bin over the predicted."""
    window = task.window
    if task.unit == "beat" and pred.onsets_s is not None:
        trend = beat_trend(pred.onsets_s, pred.probs.argmax(axis=1), len(pred.classes), pred.beat_numbers)
        reference_counts = None
        if reference is not None:  # the reference beats each scored beat was matched to
            known = reference >= 0
            onsets = pred.onsets_s[known]
            reference_counts = beat_trend(onsets, reference[known], len(pred.classes), None, trend.edges_s).counts
        title = f"{pred.record}: {len(pred.ids)} beats, {pred.uri}"
        png = beat_timeline_png(trend.edges_s, trend.rate_bpm, trend.counts, pred.classes, title, reference_counts)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)
        return
    if not (isinstance(window, RecordWindows) and window.rhythm_windows):
        raise ValueError(
            f"--timeline draws a rhythm task's windows or a beats task's beats over time; fix: use it with --task "
            f"af or beats, not {task.name}"
        )
    if pred.samples is None:
        raise ValueError(
            f"{pred.record}: one row of {window.duration_s:g} s, nothing over time; fix: draw a record of two "
            "windows or more"
        )
    title = f"{pred.record}: {len(pred.ids)} windows of {window.duration_s:g} s, {pred.uri}"
    png = rhythm_timeline_png(pred.probs, pred.classes, window.duration_s, title, pred.onsets_s, reference)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)


def explain_prediction(
    pred: Prediction, workspace: Workspace, out: Path, cfg: ExplainConfig | None = None
) -> Explanation:
    """Attributions (`attribute`: Integrated Gradients, or Shapley values for trees) of the champion's
    decision for the record's rows (a stratified sample of at most `rows_per_class` per predicted
    class), from the train mean it was logged with; the mean attribution per predicted class is drawn
    to `out` (PNG)."""
    cfg = cfg or ExplainConfig()
    if pred.flat is None:
        raise ValueError(f"{pred.record}: no row's inputs were kept; fix: score it with `predict` first")
    with Tracker.for_workspace(workspace).fluent():
        try:
            path = mlflow.artifacts.download_artifacts(run_id=pred.run_id, artifact_path=f"explain/{BASELINE_FILE}")
        except MlflowException as err:
            raise ValueError(
                f"the champion {pred.uri} was logged without an explanation baseline; fix: retrain it "
                "(`make demo` or the `retrain` job) with this version"
            ) from err
    if pred.flat_rows is None:
        rows = stratified_rows(pred.probs.argmax(axis=1), cfg.rows_per_class, cfg.seed)
        x = pred.flat[rows]
    else:  # read in sections: the rows drawn as they were scored, as many a class as asked where more were kept
        picked = stratified_rows(pred.probs[pred.flat_rows].argmax(axis=1), cfg.rows_per_class, cfg.seed)
        rows, x = pred.flat_rows[picked], pred.flat[picked]
    expl = attribute(pred.model, pred.layout, x, np.load(path), cfg, rows)
    shown = f"{len(rows)} of {len(pred.ids)}" if len(rows) < len(pred.ids) else f"{len(rows)}"
    record = f"{pred.record.name} by " if pred.record is not None else ""  # pictures of several records told apart
    title = f"{record}{pred.uri}: mean attribution per predicted class ({shown} rows)"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(attribution_png(expl.class_maps(tuple(pred.classes)), title, names=pred.names))
    return expl
