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
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl

from ..backend import Backend, select_backend
from ..raw_store import RawSnapshot, read_json, write_json_atomic
from ..tasks import TaskSpec, view_name
from ..transforms.preprocess import PreprocessParams
from .catalog import Catalog, Lineage, ViewEntry, ViewInput
from .compute import compute_features, fit_stats, output_fs
from .families import FAMILIES
from .inputs import KEYS, TaskInput, load_input
from .online import record_input
from .storage import scan_entry, tensor_of, view_damage, view_table, write_view

log = logging.getLogger(__name__)


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
    samples: np.ndarray | None = None  # online beat rows: each R peak's sample index in the record as stored


def _hash(obj: object) -> str:
    return hashlib.blake2b(json.dumps(obj, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


class FeatureStore:
    def __init__(self, store_root: Path):
        self.root = Path(store_root) / "features"
        self.catalog = Catalog(self.root / "catalog.json")

    # -- writing ---------------------------------------------------------------------------------
    def materialize(
        self, task: TaskSpec, family: str, snapshots: list[RawSnapshot], *, params=None, backend: Backend | None = None
    ) -> Materialized:
        """Compute and register a view of `task`, or reuse the stored version when nothing changed."""
        start, fam = time.perf_counter(), FAMILIES[family]
        params = params or task.view_params[family]
        name, lineage = view_name(task.name, family), {s.kind: s.fingerprint for s in snapshots}
        version = _hash({"name": name, "params": asdict(params), "code": fam.code_version, "snapshots": lineage})
        existing = self.catalog.get(name, version)
        damage = view_damage(existing) if existing else "not stored"
        if damage is None:
            log.info("%s: version %s is stored; nothing to compute", name, version)
            return Materialized(existing, True, time.perf_counter() - start)
        if existing:  # the catalog names it but its files are gone or cut short: computed again, same version
            log.warning(
                "%s: version %s at %s is damaged (%s); computing it again", name, version, existing.path, damage
            )
        backend = backend or select_backend("auto")
        inp = load_input(task, snapshots)
        stats = self._stats(inp, params, lineage, backend) if len(inp.signal) else {}
        features = compute_features(fam, inp, params, stats, backend) if len(inp.signal) else {}
        table = view_table(inp.keys, features)
        path = self.root / name / version
        size = write_view(path, table)
        seconds = time.perf_counter() - start
        entry = ViewEntry(
            name=name,
            version=version,
            task=task.name,
            family=family,
            path=str(path),
            params=asdict(params),
            code_version=fam.code_version,
            stats=stats,
            schema=table.schema.to_string(show_schema_metadata=False),
            rows=len(table),
            bytes=size,
            backend=backend.name,
            seconds=round(seconds, 3),
            created_at=dt.datetime.now(dt.UTC).isoformat(),
            lineage=Lineage(
                snapshots[0].store_root if snapshots else "",
                lineage,
                sum(len(s.record_ids) for s in snapshots),
                inp.excluded,
            ),
            input=ViewInput(inp.fs, int(inp.signal.shape[-1]), inp.crop, tuple(inp.lead_names), inp.unit),
            columns={k: tuple(v.shape[1:]) for k, v in features.items()},
            describe=fam.describe(inp, params, fs=output_fs(inp, params.preprocess)) if inp.fs else {},
        )
        self.catalog.add(entry)
        log.info(
            "%s: version %s, %d rows, %.1f MB in %.1f s on %s",
            name,
            version,
            len(table),
            size / 2**20,
            seconds,
            backend.name,
        )
        return Materialized(entry, False, seconds)

    def _stats(self, inp: TaskInput, params, lineage: dict, backend: Backend) -> dict:
        """Train statistics, shared by every family with the same preprocessing and data."""
        path = self.root / "_stats" / f"{_hash([inp.task, asdict(params.preprocess), lineage])}.json"
        stats = read_json(path, None, "so the train statistics are fitted again")
        if stats is not None:
            return stats
        stats = fit_stats(inp, params.preprocess, backend)
        write_json_atomic(stats, path)
        return stats

    def prune(self, name: str, keep: int = 2) -> list[str]:
        """Delete all but the newest `keep` versions of a view; returns the versions removed."""
        entries = sorted(
            (e for e in self.catalog.entries() if e.name == name), key=lambda e: e.created_at, reverse=True
        )
        removed = []
        for entry in entries[keep:]:
            shutil.rmtree(entry.path, ignore_errors=True)
            self.catalog.remove(name, entry.version)
            removed.append(entry.version)
        return removed

    # -- reading ---------------------------------------------------------------------------------
    def entry(self, name: str, version: str | None = None) -> ViewEntry:
        entry = self.catalog.get(name, version)
        if entry is None:
            known = sorted({e.name for e in self.catalog.entries()})
            raise ValueError(
                f"no feature view {name!r}{' version ' + version if version else ''} in "
                f"{self.catalog.path}; known views: {known}; fix: materialize it first"
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

    def online(
        self, record: Path, views: list[str], *, versions: dict[str, str] | None = None, backend: Backend | None = None
    ) -> TrainingSet:
        """Features of one new WFDB record with each view's stored parameters and train statistics.

        Shaped like `training_set`: one row per record (record views) or per beat (beat views).
        """
        backend = backend or select_backend("auto")
        entries = self._entries(views, versions)
        inputs: dict[ViewInput, TaskInput] = {}  # views of one task share an input shape: read it once
        features = {}
        for view, entry in entries.items():
            fam = FAMILIES[entry.family]
            if entry.input not in inputs:
                inputs[entry.input] = record_input(Path(record), entry.input, task=entry.task)
            features[view] = compute_features(
                fam, inputs[entry.input], _params(fam.params_cls, entry.params), entry.stats, backend
            )
        first = next(iter(inputs.values()))
        return TrainingSet(
            first.keys["entity_id"].to_numpy(),
            first.keys,
            features,
            {v: e.version for v, e in entries.items()},
            sorted({n for inp in inputs.values() for n in inp.notes}),
            first.beats["sample"].to_numpy() if first.beats is not None else None,
        )


def _params(cls, stored: dict):
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
    store_root: str

    def store(self) -> FeatureStore:
        return FeatureStore(Path(self.store_root))

    def entry(self) -> ViewEntry:
        return self.store().entry(self.name, self.version)
