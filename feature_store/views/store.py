"""FeatureStore: the one door to feature views, for the pipeline, training and inference.

store = FeatureStore(home / "store")
made = store.materialize(BEATS, "spectrogram", [snapshot])     # reuses an unchanged version
train = store.training_set(["beats_time", "beats_spectral"], split="DS1")
one = store.online(Path("new/record"), ["records_time"])
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TypeVar, cast

import numpy as np
import polars as pl

from ..backend import Backend, select_backend
from ..location import Location
from ..raw_store import RawSnapshot
from ..shards import shard_label
from ..tasks import TaskSpec, view_name
from ..transforms.preprocess import PreprocessParams
from .catalog import Catalog, Lineage, ViewEntry, ViewInput
from .compute import add_moments, compute_features, output_fs, stats_of, train_moments
from .families import FAMILIES, BeatReferences, Family, FamilyParams, TimeParams, template_geometry
from .inputs import KEYS, RecordBeats, TaskInput, chunked_inputs, empty_input
from .online import NothingClear, Section, record_input
from .sectioned_beats import record_beats, section_beats
from .storage import ViewWriter, part_schema, scan_entry, tensor_of, view_damage, view_table

log = logging.getLogger(__name__)
_P = TypeVar("_P", bound=FamilyParams)


@dataclass(frozen=True)
class Materialized:
    entry: ViewEntry
    reused: bool  # True when an identical version already existed: nothing was computed
    seconds: float


@dataclass
class TrainingSet:
    ids: np.ndarray  # entity ids, sorted; every array below is aligned to them
    keys: pl.DataFrame  # entity_id, record_id, patient_id, split, labels, recorded_at
    features: dict[str, dict[str, np.ndarray]]  # view -> column -> (rows, ...)
    versions: dict[str, str]  # view -> version read
    notes: list[str] = field(default_factory=list)  # online rows: how the record was read (substitute leads)
    # online rows: each beat's R peak, or each rhythm window's first sample, in the record as stored
    samples: np.ndarray | None = None
    record_fs: float | None = None  # online rows: the rate of the record as stored (that of `samples`)
    record_start: dt.datetime | None = None  # online rows: when the record began, where its file says
    # online beat rows: each beat's number among the record's beats, those not scored (a dropout) counted
    beat_numbers: np.ndarray | None = None


@dataclass(frozen=True)
class TrainStats:
    """A task's train statistics and the raw snapshots of every shard they were fitted over."""

    stats: dict  # mean, std (per lead), train_rows; {} when the task has no rows
    shards: dict[str, dict[str, str]]  # shard key -> source kind -> raw snapshot fingerprint


class StaleStats(ValueError):
    """A shard's view was asked for with train statistics that did not see the shard as it is now."""


def _hash(obj: object) -> str:
    return hashlib.blake2b(json.dumps(obj, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def _definition(task: TaskSpec, family: str, params: FamilyParams) -> dict:
    """What a view is computed by, whatever its data: its name, parameters and code."""
    return {
        "name": view_name(task.name, family),
        "params": asdict(params),
        "code": FAMILIES[family].code_versions[task.unit],
    }


def definition_version(task: TaskSpec, family: str) -> str:
    """A digest of the task's view of `family` as defined in code (`_definition`, the task's own
    parameters): it changes exactly when a change of code or parameters computes every shard again."""
    return _hash(_definition(task, family, task.view_params[family]))


def _shard_of(snapshots: list[RawSnapshot]) -> str:
    shards = {s.shard for s in snapshots}
    if len(shards) > 1:
        raise ValueError(f"snapshots of shards {sorted(shards)} given together; fix: one shard's snapshots per view")
    return shards.pop() if shards else ""


def _lineage(snapshots: list[RawSnapshot]) -> dict[str, str]:
    """Source kind -> raw snapshot fingerprint: what a view, its version and its statistics were made from."""
    return {s.kind: s.fingerprint for s in snapshots}


def _view_input(inp: TaskInput) -> ViewInput:
    return ViewInput(inp.fs, int(inp.signal.shape[-1]), inp.crop, tuple(inp.lead_names), inp.unit)


def _schema(folder: Location) -> str:
    return part_schema(folder.files("*.parquet")[0]).to_string(show_schema_metadata=False)


def _train_stats(task: TaskSpec, moments: dict, all_rows: int) -> dict:
    """Statistics from train moments; a task with rows but none in its train splits cannot be standardised."""
    stats = stats_of(moments)
    if all_rows and not stats:
        raise ValueError(
            f"task {task.name!r} has no rows in its train splits "
            f"{task.splits.train}; fix: ingest records of the train split first"
        )
    return stats


class FeatureStore:
    def __init__(self, store_root: Path, features: str | Path | Location | None = None):
        """`store_root`: the raw store's folder; `features`: where views, their catalog and train
        statistics live, a folder or an object-store URI (`Workspace.features`), default
        `<store_root>/features`."""
        self.store_root = Path(store_root)
        self.root = Location.of(features if features is not None else self.store_root / "features")
        self.catalog = Catalog(self.root / "catalog")

    # -- writing ---------------------------------------------------------------------------------
    def materialize(
        self,
        task: TaskSpec,
        family: str,
        snapshots: list[RawSnapshot],
        *,
        params: FamilyParams | None = None,
        backend: Backend | None = None,
        stats: dict | None = None,
    ) -> Materialized:
        """Compute and register a view of `task` over `snapshots` (a whole kind, or one shard of each
        kind), or reuse the stored version when nothing changed. Rows stream a run of records at a
        time, so memory is bounded by CHUNK_BYTES, not by the data. `stats`: the train statistics
        (for a shard: those `fit_train_stats` fitted over every shard); default, fitted on `snapshots`."""
        start = time.perf_counter()
        fam: Family = FAMILIES[family]  # as the protocol: `describe` below takes whichever family's params
        params = params or task.view_params[family]
        backend = backend or select_backend("auto")
        shard = _shard_of(snapshots)
        if stats is None:
            stats = self.current_stats(task, params.preprocess, shard, snapshots, backend=backend)
        name, version = view_name(task.name, family), self.version_of(task, family, params, snapshots, stats)
        existing = self.catalog.get(name, version)
        damage = view_damage(existing) if existing else "not stored"
        if existing and damage is None:
            # DEBUG: the Dagster asset says it in the run's log (dagster.yaml also routes this logger there)
            log.debug("%s%s: version %s is stored; nothing to compute", name, shard_label(shard), version)
            return Materialized(existing, True, time.perf_counter() - start)
        if existing:  # the catalog names it but its files are gone or cut short: computed again, same version
            log.warning(
                "%s: version %s at %s is damaged (%s); computing it again", name, version, existing.path, damage
            )
        path = self.root / name / shard / version if shard else self.root / name / version
        first, columns, rows = None, {}, 0
        excluded: Counter[str] = Counter()
        with ViewWriter(path) as writer:
            for inp in chunked_inputs(task, snapshots):
                excluded.update(inp.excluded)
                if not len(inp.signal):
                    continue
                features = compute_features(fam, inp, params, stats, backend)
                shapes = {k: tuple(v.shape[1:]) for k, v in features.items()}
                if first is None:
                    first, columns = inp, shapes
                elif _view_input(inp) != _view_input(first) or shapes != columns:
                    raise ValueError(
                        f"{name}: records {inp.keys['record_id'][0]}.. give rows shaped {_view_input(inp)}, "
                        f"{shapes}, the ones before {_view_input(first)}, {columns}; fix: ingest every source of "
                        "the task with one IngestConfig (rates, windows)"
                    )
                keys = inp.kept_keys
                writer.write(view_table(keys, inp.kept(features)))
                rows += len(keys)
            if first is None:
                writer.write(view_table(empty_input(task, 0).keys, {}))
            size = writer.close()
        seconds = time.perf_counter() - start
        shown = first or empty_input(task, 0)
        entry = ViewEntry(
            name=name,
            version=version,
            task=task.name,
            family=family,
            path=path.uri,
            params=asdict(params),
            code_version=fam.code_versions[task.unit],
            stats=stats,
            schema=_schema(path),
            rows=rows,
            bytes=size,
            backend=backend.name,
            seconds=round(seconds, 3),
            created_at=dt.datetime.now(dt.UTC).isoformat(),
            lineage=Lineage(
                snapshots[0].store_root if snapshots else "",
                _lineage(snapshots),
                sum(len(s.record_ids) for s in snapshots),
                dict(excluded),
            ),
            input=_view_input(shown),
            columns=columns,
            describe=fam.describe(first, params, fs=output_fs(first, params.preprocess)) if first else {},
            shard=shard,
        )
        self.catalog.add(entry)
        log.debug(
            "%s%s: version %s, %d rows, %.1f MB in %.1f s on %s",
            name,
            shard_label(shard),
            version,
            rows,
            size / 2**20,
            seconds,
            backend.name,
        )
        return Materialized(entry, False, seconds)

    def version_of(
        self, task: TaskSpec, family: str, params: FamilyParams, snapshots: list[RawSnapshot], stats: dict
    ) -> str:
        """A view's version: its definition (`_definition`), raw snapshots, shard and the train statistics
        it used."""
        return _hash(
            {
                **_definition(task, family, params),
                "snapshots": _lineage(snapshots),
                "shard": _shard_of(snapshots),
                "stats": _hash(stats),
            }
        )

    # -- train statistics ------------------------------------------------------------------------
    def _stats_dir(self, task: TaskSpec, pre: PreprocessParams) -> Location:
        return self.root / "_stats" / task.name / _hash(asdict(pre))

    def shard_moments(
        self, task: TaskSpec, pre: PreprocessParams, snapshots: list[RawSnapshot], backend: Backend
    ) -> dict:
        """Moment sums of the train rows of `snapshots` (one shard, or a whole kind), kept on disk by
        their raw snapshots: a shard that did not change is not read again."""
        lineage = _lineage(snapshots)
        path = self._stats_dir(task, pre) / f"moments-{_shard_of(snapshots) or 'all'}-{_hash(lineage)}.json"
        moments = cast("dict | None", path.read_json(None, "so the shard's train moments are summed again"))
        if moments is None:
            parts, rows = [], 0
            for inp in chunked_inputs(task, snapshots):
                parts.append(train_moments(inp, pre, backend))
                rows += len(inp.kept_keys)
            moments = add_moments(parts) | {"all_rows": rows}
            path.write_json(moments)
        return moments

    def fit_train_stats(
        self, task: TaskSpec, shards: dict[str, list[RawSnapshot]], *, backend: Backend | None = None
    ) -> dict[str, TrainStats]:
        """Train statistics of `task` over every shard (shard key -> its snapshots), one per distinct
        preprocessing of its families, summed from per-shard moments; recorded as the task's current
        statistics, which shard views then use (`current_stats`). Preprocess hash -> statistics."""
        backend = backend or select_backend("auto")
        fitted = {}
        for pre in {task.view_params[f].preprocess for f in FAMILIES}:
            moments = [self.shard_moments(task, pre, shards[key], backend) for key in sorted(shards)]
            stats = _train_stats(task, add_moments(moments), sum(m["all_rows"] for m in moments))
            current = TrainStats(stats, {key: _lineage(snaps) for key, snaps in shards.items()})
            (self._stats_dir(task, pre) / "current.json").write_json(asdict(current))
            fitted[_hash(asdict(pre))] = current
        return fitted

    def current_stats(
        self,
        task: TaskSpec,
        pre: PreprocessParams,
        shard: str,
        snapshots: list[RawSnapshot],
        *,
        backend: Backend | None = None,
    ) -> dict:
        """The train statistics a view of `snapshots` uses: fitted on them for a whole kind; for a shard,
        those `fit_train_stats` last fitted over every shard, which must have seen this shard as it is."""
        if not shard:
            moments = self.shard_moments(task, pre, snapshots, backend or select_backend("auto"))
            return _train_stats(task, moments, moments["all_rows"])
        path = self._stats_dir(task, pre) / "current.json"
        current = cast("dict | None", path.read_json(None, "so the train statistics must be fitted again"))
        lineage = _lineage(snapshots)
        if current is None or current["shards"].get(shard) != lineage:
            raise StaleStats(
                f"task {task.name!r}: the train statistics at {path} "
                f"{'are missing' if current is None else 'were fitted before shard ' + shard + ' changed'}; "
                "fix: fit the task's train statistics over every shard again (its train_stats asset), then its views"
            )
        return current["stats"]

    def shard_entry(
        self, task: TaskSpec, family: str, snapshots: list[RawSnapshot], *, params: FamilyParams | None = None
    ) -> ViewEntry | None:
        """The catalog entry of a shard's view at its current raw snapshots and train statistics, if stored."""
        params = params or task.view_params[family]
        stats = self.current_stats(task, params.preprocess, _shard_of(snapshots), snapshots)
        return self.catalog.get(view_name(task.name, family), self.version_of(task, family, params, snapshots, stats))

    def union(
        self, task: TaskSpec, family: str, shards: dict[str, list[RawSnapshot]], *, params: FamilyParams | None = None
    ) -> ViewEntry:
        """The whole view over every shard (shard key -> its snapshots as they are now), registered as one
        version whose parts are the shard views: what training reads. Raises naming the shards whose view
        of their current records and train statistics is not stored (a backfill that failed there)."""
        name, parts, missing = view_name(task.name, family), {}, []
        for key in sorted(shards):
            entry = self.shard_entry(task, family, shards[key], params=params)
            if entry is None or view_damage(entry) is not None:
                missing.append(key)
            else:
                parts[key] = entry
        if missing:
            raise ValueError(
                f"{name}: shards {missing} have no stored view of their current records and train statistics; "
                f"fix: materialize the {family} features of {task.name!r} for partitions {missing}"
            )
        version = _hash({key: e.version for key, e in parts.items()})
        existing = self.catalog.get(name, version)
        if existing is not None:
            return existing
        filled = [e for e in parts.values() if e.rows]
        first = (filled or list(parts.values()))[0]
        odd = [e.shard for e in filled if (e.input, e.columns) != (first.input, first.columns)]
        if odd:
            raise ValueError(
                f"{name}: shards {odd} hold rows shaped unlike shard {first.shard}'s; fix: ingest every "
                "shard with one IngestConfig (rates, windows)"
            )
        excluded: Counter[str] = Counter()
        for e in parts.values():
            excluded.update(e.lineage.excluded)
        # the parts read: shards with rows (an empty shard's file holds the key columns only, and Parquet
        # scans take the first file's schema); one empty part when every shard is empty
        read = {e.shard: e for e in filled} or {first.shard: first}
        entry = replace(
            first,
            version=version,
            path=(self.root / name).uri,
            rows=sum(e.rows for e in parts.values()),
            bytes=sum(e.bytes for e in read.values()),
            backend=",".join(sorted({e.backend for e in parts.values()})),
            seconds=round(sum(e.seconds for e in parts.values()), 3),
            created_at=dt.datetime.now(dt.UTC).isoformat(),
            lineage=Lineage(
                first.lineage.raw_store,
                {f"{kind}@{key}": fp for key, e in parts.items() for kind, fp in e.lineage.snapshots.items()},
                sum(e.lineage.raw_records for e in parts.values()),
                dict(excluded),
            ),
            shard="",
            parts={key: e.path for key, e in read.items()},
        )
        self.catalog.add(entry)
        log.debug("%s: version %s over %d shards, %d rows", name, version, len(parts), entry.rows)
        return entry

    def prune(self, name: str, keep: int = 2) -> list[str]:
        """Delete all but the newest `keep` whole versions of a view (and the shard parts only those
        used); returns the versions removed."""
        entries = self.catalog.entries(name)
        whole = sorted(
            (e for e in entries if e.name == name and not e.is_part), key=lambda e: e.created_at, reverse=True
        )
        kept = {folder for e in whole[:keep] for folder in e.parts.values()}
        dropped = {folder for e in whole[keep:] for folder in e.parts.values()} - kept
        removed = []
        for entry in whole[keep:]:
            if not entry.parts:
                Location.of(entry.path).remove()
            self.catalog.remove(name, entry.version)
            removed.append(entry.version)
        for part in (e for e in entries if e.name == name and e.is_part and e.path in dropped):
            Location.of(part.path).remove()
            self.catalog.remove(name, part.version)
        return removed

    # -- reading ---------------------------------------------------------------------------------
    def entry(self, name: str, version: str | None = None) -> ViewEntry:
        entry = self.catalog.get(name, version)
        if entry is None:
            known = sorted({e.name for e in self.catalog.entries()})
            raise ValueError(
                f"no feature view {name!r}{' version ' + version if version else ''} in "
                f"{self.catalog.root}; known views: {known}; fix: materialize it first"
            )
        return entry

    def scan(self, name: str, version: str | None = None) -> pl.LazyFrame:
        return scan_entry(self.entry(name, version))

    def _entries(self, views: list[str], versions: dict[str, str] | None) -> dict[str, ViewEntry]:
        """Catalog entries of `views` (pinned versions or the newest), all of one task."""
        entries = {v: self.entry(v, (versions or {}).get(v)) for v in views}
        if len({e.task for e in entries.values()}) > 1:
            raise ValueError(f"views {views} belong to different tasks; fix: use views of one task")
        return entries

    def training_set(
        self,
        views: list[str],
        split: str | tuple[str, ...],
        *,
        versions: dict[str, str] | None = None,
        recorded_before: dt.datetime | None = None,
    ) -> TrainingSet:
        """Rows of one split, aligned by entity id across `views`.

        `recorded_before` keeps only entities recorded before the cutoff (rows with no recording
        date cannot be placed in time and are left out), for reproducible retraining.
        """
        splits = [split] if isinstance(split, str) else list(split)
        entries = self._entries(views, versions)
        frames = {}
        for view, entry in entries.items():
            lf = scan_entry(entry).filter(pl.col("split").is_in(splits))
            if recorded_before is not None:
                lf = lf.filter(pl.col("recorded_at") < recorded_before)
            frames[view] = lf.collect()
        ids = sorted(set.intersection(*(set(f["entity_id"]) for f in frames.values())))
        order = pl.DataFrame({"entity_id": ids}, schema={"entity_id": pl.String})
        aligned = {v: order.join(f, on="entity_id", how="left", maintain_order="left") for v, f in frames.items()}
        keys = next(iter(aligned.values())).select(KEYS)
        features = {
            v: {c: tensor_of(f[c].to_arrow(), shape) for c, shape in entries[v].columns.items()}
            for v, f in aligned.items()
        }
        return TrainingSet(np.asarray(ids), keys, features, {v: e.version for v, e in entries.items()})

    def record_beats(
        self, record: Path, views: list[str], sections: list[Section], *, versions: dict[str, str] | None = None
    ) -> RecordBeats:
        """Every beat of a record too long to read whole, found section by section, as `online` reads each
        section's beat rows against (`sectioned_beats.record_beats`), with the median beats the views' time
        parameters ask for."""
        entries = self.online_entries(views, versions=versions)
        beat_views = [e for e in entries.values() if e.input.unit == "beat"]
        if not beat_views:
            raise ValueError(f"{record}: {views} are not views of beats; fix: pass a beat task's views")
        quantiles = {  # the time family's: the one that reads its beats against their record
            q
            for e in beat_views
            if FAMILIES[e.family].reads_record_beats
            for q in _params(TimeParams, e.params).template_quantiles
        }
        first = beat_views[0]
        return record_beats(Path(record), first.input, first.task, sections, tuple(sorted(quantiles)))

    def online_entries(self, views: list[str], *, versions: dict[str, str] | None = None) -> dict[str, ViewEntry]:
        """The catalog entries `online` makes a new record's rows of: ValueError, naming the view and the fix,
        where this checkout's code would not make them as the stored version was made. A model's loader
        asks once, before a folder of records is read."""
        entries = self._entries(views, versions)
        for entry in entries.values():
            _computed_by_this_code(entry)
        return entries

    def online(
        self,
        record: Path,
        views: list[str],
        *,
        versions: dict[str, str] | None = None,
        backend: Backend | None = None,
        section: Section | None = None,
        beats: RecordBeats | None = None,
    ) -> TrainingSet:
        """Features of one new WFDB record with each view's stored parameters and train statistics.

        Shaped like `training_set`: one row per record (record views) or per beat (beat views). `section`
        (`online.record_sections`): the rows of that section of a record too long to read whole; for beat
        views, read against the whole record's `beats` (`record_beats`).
        """
        backend = backend or select_backend("auto")
        entries = self.online_entries(views, versions=versions)
        inputs: dict[ViewInput, TaskInput] = {}  # views of one task share an input shape: read it once
        features = {}
        for view, entry in entries.items():
            fam = FAMILIES[entry.family]
            if entry.input not in inputs and section is not None and entry.input.unit == "beat":
                if beats is None:
                    raise ValueError(f"{record}: a section's beats need the record's (FeatureStore.record_beats)")
                inputs[entry.input] = section_beats(Path(record), entry.input, entry.task, section, beats)
            elif entry.input not in inputs:
                inputs[entry.input] = record_input(Path(record), entry.input, task=entry.task, section=section)
            features[view] = compute_features(
                fam, inputs[entry.input], _params(fam.params_cls, entry.params), entry.stats, backend
            )
        first = next(iter(inputs.values()))
        keys, samples = first.keys, first.beats["sample"].to_numpy() if first.beats is not None else first.starts
        numbers = None if first.beats is None else np.arange(len(keys)) + (first.record.first if first.record else 0)
        if first.scored is not None:  # rows made only as their neighbours' context (a dropout) leave now
            keys, samples, numbers, features = _online_rows(first.scored, keys, samples, numbers, features)
        notes = list(dict.fromkeys(n for inp in inputs.values() for n in inp.notes))  # in the order they were read
        finite, said = finite_rows(features, record)
        if said and not finite.any():
            raise NothingClear(said)
        if said:  # a model given NaN answers NaN: the rows are said and left out, the others scored
            keys, samples, numbers, features = _online_rows(finite, keys, samples, numbers, features)
            notes.append(said)
        return TrainingSet(
            keys["entity_id"].to_numpy(),
            keys,
            features,
            {v: e.version for v, e in entries.items()},
            notes,
            samples,
            first.record_fs,
            first.record_start,
            numbers,
        )


def _online_rows(
    keep: np.ndarray,
    keys: pl.DataFrame,
    samples: np.ndarray | None,
    numbers: np.ndarray | None,
    features: dict[str, dict[str, np.ndarray]],
) -> tuple[pl.DataFrame, np.ndarray | None, np.ndarray | None, dict[str, dict[str, np.ndarray]]]:
    """The rows `keep` marks of a new record's keys, samples, beat numbers and every view's columns, together."""
    return (
        keys.filter(pl.Series(keep)),
        None if samples is None else samples[keep],
        None if numbers is None else numbers[keep],
        {view: {c: a[keep] for c, a in cols.items()} for view, cols in features.items()},
    )


def finite_rows(features: dict[str, dict[str, np.ndarray]], record: Path | str) -> tuple[np.ndarray, str]:
    """Which rows hold only finite features, and, where some do not, what to say of them. A stored view
    with NaN fails its check (`check_finite_values`); a new record's row with one would reach the model and
    come back as NaN probabilities, so it is named and left out instead."""
    columns = [(f"{view}.{c}", a.reshape(len(a), -1)) for view, cols in features.items() for c, a in cols.items()]
    if not columns:
        return np.ones(0, bool), ""
    finite = np.logical_and.reduce([np.isfinite(a).all(axis=1) for _, a in columns])
    if finite.all():
        return finite, ""
    bad = [name for name, a in columns if not np.isfinite(a).all()]
    return finite, (
        f"{int((~finite).sum())} of {len(finite)} rows hold NaN or infinite features ({', '.join(bad)}): not scored; "
        f"fix: report {record} with this line (the feature code made them from a record it read)"
    )


def _computed_by_this_code(entry: ViewEntry) -> None:
    """A new record's features are made by this checkout's code: when it is not the code that computed the
    stored version a model learnt from (an upgrade changed the family), they would differ from the rows it
    was trained on without a word. Refused instead, naming both versions and the fix."""
    current = FAMILIES[entry.family].code_versions[entry.input.unit]
    if entry.code_version != current:
        raise ValueError(
            f"view {entry.name} {entry.version} was computed by version {entry.code_version} of the {entry.family} "
            f"family's code, and this checkout computes version {current}: a new record's features would not be "
            "the ones the model learnt from; fix: retrain on today's views (`make demo`, or the `retrain` job in "
            "Dagster), or score with the checkout that trained it"
        )


def beat_references(entry: ViewEntry) -> BeatReferences:
    """How the beats of a stored time view were read against their records, from its catalog entry."""
    if entry.family != "time" or entry.input.crop is None:
        raise ValueError(f"view {entry.name} {entry.version} is not a time view of beats; fix: pass a beats time view")
    params = _params(TimeParams, entry.params)
    fs = params.preprocess.fs or entry.input.fs
    centre, half = template_geometry(entry.input.samples, entry.input.crop, fs_in=entry.input.fs, fs=fs, params=params)
    return BeatReferences(params, centre, half)


def _params(cls: type[_P], stored: dict) -> _P:
    """Rebuild a frozen params dataclass (with its nested preprocess params) from the catalog."""
    fields = dict(stored)
    fields["preprocess"] = PreprocessParams(**fields["preprocess"])
    if "bands_hz" in fields:
        fields["bands_hz"] = tuple(tuple(b) for b in fields["bands_hz"])
    return replace(cls(), **fields)


@dataclass(frozen=True)
class ViewRef:
    """What a feature asset hands downstream: one version of one view."""

    name: str
    version: str
    store_root: str  # the raw store's folder
    features: str  # where the views live (FeatureStore.root), a folder or an object-store URI

    def store(self) -> FeatureStore:
        return FeatureStore(Path(self.store_root), self.features)

    def entry(self) -> ViewEntry:
        return self.store().entry(self.name, self.version)
