"""Feature views on disk: key columns plus tensor columns as nested fixed-size lists in Parquet."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ..location import Location
from ..writer import alive
from .catalog import ViewEntry

ROWS_PER_PART = 16384  # keeps each Parquet file (and each read) to tens of MB


def tensor_column(values: np.ndarray) -> pa.Array:
    """(rows, *shape) -> fixed_size_list nested len(shape) deep, without copying through Python."""
    arr: pa.Array = pa.array(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
    for size in reversed(values.shape[1:]):
        arr = pa.FixedSizeListArray.from_arrays(arr, size)
    return arr


def tensor_of(column: pa.ChunkedArray | pa.Array, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of `tensor_column`: (rows, *shape) float32."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    for _ in shape:
        arr = arr.flatten()
    return arr.to_numpy(zero_copy_only=False).reshape(-1, *shape)


def view_table(keys: pl.DataFrame, features: dict[str, np.ndarray]) -> pa.Table:
    table = keys.to_arrow()
    for name, values in features.items():
        table = table.append_column(name, tensor_column(values))
    return table


def entry_folders(entry: ViewEntry) -> list[Location]:
    """The folders of Parquet parts of a catalog entry (ViewEntry): its own, or each shard's of a union."""
    return [Location.of(p) for p in entry.parts.values()] if entry.parts else [Location.of(entry.path)]


def entry_parts(entry: ViewEntry) -> list[Location]:
    """Every Parquet part of a catalog entry (ViewEntry), in order."""
    return [part for folder in entry_folders(entry) for part in folder.files("*.parquet")]


def scan_entry(entry: ViewEntry) -> pl.LazyFrame:
    """All parts of the view version a catalog entry (ViewEntry) describes: polars' own reader on the
    local disk, pyarrow's dataset (any fsspec filesystem, filters pushed down) on an object store."""
    parts = entry_parts(entry)
    if all(p.local for p in parts):
        return pl.scan_parquet([p.path for p in parts])
    import pyarrow.dataset as ds  # here: it imports pandas, 0.4 s of every code location load

    return pl.scan_pyarrow_dataset(ds.dataset([p.path for p in parts], filesystem=parts[0].fs, format="parquet"))


def read_part(part: Location, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(part.path, columns=columns, filesystem=None if part.local else part.fs)


def part_schema(part: Location) -> pa.Schema:
    with part.open("rb") as fh:
        return pq.read_schema(fh)


def view_damage(entry: ViewEntry) -> str | None:
    """What is wrong with the stored files of a catalog entry (ViewEntry), or None when they are whole:
    every part present with its Parquet frame, and the bytes the catalog recorded. Stats and 8 bytes a
    part: cheap enough for every reuse."""
    parts = []
    for folder in entry_folders(entry):
        if not folder.is_dir():
            return f"folder {folder} is missing"
        parts += folder.files("*.parquet")
    broken = [p.name for p in parts if not p.parquet_intact()]
    if broken:
        return f"{len(broken)} part file(s) cut short or not Parquet: {', '.join(broken[:3])}"
    size = sum(p.size() for p in parts)
    if size != entry.bytes:
        return f"{len(parts)} part file(s) hold {size} bytes, the catalog recorded {entry.bytes}"
    return None


class ViewWriter:
    """Parts of one view version written as they come, a chunk in memory at a time. On the local disk
    they go to a temporary folder renamed into place by `close`, so even a reader that globs the folder
    never sees half a version. An object store cannot rename a folder: parts go straight to the
    version's own prefix (what an earlier, killed attempt left there is cleared first), and the catalog
    entry written after `close` is the commit; every reader goes through the catalog."""

    def __init__(self, directory: Location | Path | str):
        self.directory = Location.of(directory)
        if self.directory.local:
            _remove_orphans(Path(self.directory.path))
            self.target = self.directory.parent / f".{self.directory.name}.{os.getpid()}.tmp"
        else:
            self.target = self.directory
        self.target.remove()
        self.target.make_dirs()
        self.parts = 0

    def write(self, table: pa.Table) -> None:
        for start in range(0, max(len(table), 1), ROWS_PER_PART):
            pq.write_table(
                table.slice(start, ROWS_PER_PART),
                (self.target / f"part-{self.parts:05d}.parquet").path,
                filesystem=None if self.target.local else self.target.fs,
                compression="zstd",
                compression_level=1,
                use_byte_stream_split=True,
            )
            self.parts += 1

    def close(self) -> int:
        """Move the parts into place; returns the bytes written."""
        if self.target != self.directory:
            self.directory.remove()
            os.replace(self.target.path, self.directory.path)
        return sum(p.size() for p in self.directory.files("*.parquet"))

    def abort(self) -> None:
        """A full disk or an interrupt: leave no half-written folder behind."""
        self.target.remove()

    def __enter__(self) -> ViewWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.abort()


def write_view(directory: Location | Path | str, table: pa.Table) -> int:
    """Write a whole table as one view version through a `ViewWriter`; returns bytes written."""
    with ViewWriter(directory) as writer:
        writer.write(table)
        return writer.close()


def _remove_orphans(directory: Path) -> None:
    """Temporary folders of earlier writes of `directory` whose process is gone (killed mid-write)."""
    for tmp in directory.parent.glob(f".{directory.name}.*.tmp"):
        pid = tmp.name.removeprefix(f".{directory.name}.").removesuffix(".tmp")
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
