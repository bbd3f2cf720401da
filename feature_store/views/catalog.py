"""The catalog of feature views: typed entries, kept as one JSON file rewritten atomically."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..raw_store import locked, read_json, write_json_atomic


@dataclass(frozen=True)
class ViewInput:
    """The batch a view was computed from, so online rows are shaped the same way."""

    fs: float  # Hz of the rows before preprocessing
    samples: int  # per row
    crop: tuple[int, int] | None  # beats: the beat window inside the context window, in samples
    lead_names: tuple[str, ...]
    unit: str  # "beat" | "record": how a new record becomes rows

    @classmethod
    def from_json(cls, d: dict) -> ViewInput:
        crop = tuple(d["crop"]) if d.get("crop") is not None else None
        return cls(
            float(d["fs"]),
            int(d["samples"]),
            crop,
            tuple(d["lead_names"]),
            d.get("unit") or ("beat" if crop else "record"),
        )  # entries written before `unit`


@dataclass(frozen=True)
class Lineage:
    raw_store: str  # the raw store the snapshots belong to
    snapshots: dict[str, str]  # source kind -> raw snapshot fingerprint
    raw_records: int
    excluded: dict[str, int]  # rows left out, per reason

    @classmethod
    def from_json(cls, d: dict) -> Lineage:
        return cls(d["raw_store"], dict(d["snapshots"]), int(d["raw_records"]), dict(d["excluded"]))


@dataclass(frozen=True)
class ViewEntry:
    """One version of one feature view: where it is, how it was made, what it holds."""

    name: str  # <task>_<family>
    version: str  # hash of parameters, code version and raw snapshots
    task: str
    family: str
    path: str  # folder of Parquet parts
    params: dict  # the family's parameters, as stored (asdict)
    code_version: str
    stats: dict  # train statistics: per-lead mean and std
    schema: str
    rows: int
    bytes: int
    backend: str  # numpy | cupy
    seconds: float
    created_at: str  # ISO 8601, UTC
    lineage: Lineage
    input: ViewInput
    columns: dict[str, tuple[int, ...]]  # feature column -> shape per row
    describe: dict = field(default_factory=dict)  # axis values and names, for plots and people
    shard: str = ""  # a shard's part of the view ("" for a whole view)
    parts: dict[str, str] = field(default_factory=dict)  # a whole view over shards: shard key -> part folder

    @property
    def is_part(self) -> bool:
        return bool(self.shard)

    @property
    def excluded_rows(self) -> int:
        return sum(self.lineage.excluded.values())

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> ViewEntry:
        return cls(
            **{
                **d,
                "lineage": Lineage.from_json(d["lineage"]),
                "input": ViewInput.from_json(d["input"]),
                "columns": {k: tuple(v) for k, v in d["columns"].items()},
            }
        )


@dataclass(frozen=True)
class Catalog:
    path: Path  # <store>/features/catalog.json

    def entries(self) -> list[ViewEntry]:
        entries = read_json(self.path, [], "so every view is computed again on its next run")
        return [ViewEntry.from_json(e) for e in entries]

    def get(self, name: str, version: str | None = None) -> ViewEntry | None:
        """The entry of `name` at `version`, or its newest whole view when version is None."""
        wanted = (lambda e: not e.is_part) if version is None else (lambda e: e.version == version)
        found = [e for e in self.entries() if e.name == name and wanted(e)]
        return max(found, key=lambda e: e.created_at) if found else None

    def add(self, entry: ViewEntry) -> None:
        # shards are written by parallel runs: each rewrites the file under the lock, so none loses another's entry
        with locked(self.path.with_suffix(".lock")):
            rest = [e for e in self.entries() if (e.name, e.version) != (entry.name, entry.version)]
            write_json_atomic([e.to_json() for e in rest + [entry]], self.path)

    def remove(self, name: str, version: str) -> None:
        with locked(self.path.with_suffix(".lock")):
            kept = [e.to_json() for e in self.entries() if (e.name, e.version) != (name, version)]
            write_json_atomic(kept, self.path)
