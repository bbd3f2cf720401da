"""The catalog of feature views: typed entries, one JSON object each."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import cast

from ..location import Location

log = logging.getLogger(__name__)


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
    """One JSON object per entry, `<root>/<name>/<version>.json`: adding or removing an entry is one
    whole-object write or delete, so parallel shard runs need no lock and an object store holds it as
    well as a disk. Every reader of a view goes through an entry: writing it is a version's commit."""

    root: Location  # <features>/catalog

    def __post_init__(self) -> None:
        self._adopt_legacy()  # once per catalog opened, not on every lookup

    @property
    def legacy(self) -> Location:
        """The single catalog file of workspaces written before 2026-12-01, adopted when the catalog is opened."""
        return self.root.parent / "catalog.json"

    def _file(self, name: str, version: str) -> Location:
        return self.root / name / f"{version}.json"

    def _read(self, file: Location) -> ViewEntry | None:
        found = cast("dict | None", file.read_json(None, "so that version is computed again on its next run"))
        return ViewEntry.from_json(found) if found is not None else None

    def entries(self, name: str | None = None) -> list[ViewEntry]:
        files = (self.root / name).files("*.json") if name else self.root.files("*/*.json")
        return [e for e in map(self._read, files) if e is not None]

    def get(self, name: str, version: str | None = None) -> ViewEntry | None:
        """The entry of `name` at `version`, or its newest whole view when version is None."""
        if version is not None:
            return self._read(self._file(name, version))
        found = [e for e in self.entries(name) if not e.is_part]
        return max(found, key=lambda e: e.created_at) if found else None

    def add(self, entry: ViewEntry) -> None:
        self._file(entry.name, entry.version).write_json(entry.to_json())

    def remove(self, name: str, version: str) -> None:
        self._file(name, version).remove()

    def _adopt_legacy(self) -> None:
        old = cast("list[dict] | None", self.legacy.read_json(None, "so every view is computed again on its next run"))
        if old is None:
            return
        for d in old:  # idempotent: two processes adopting at once write the same objects
            if not self._file(d["name"], d["version"]).exists():
                self.add(ViewEntry.from_json(d))
        self.legacy.remove()
        log.info("catalog %s: %d entries moved to one file each under %s", self.legacy, len(old), self.root)
