"""Feature views on disk: key columns plus tensor columns as nested fixed-size lists in Parquet."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ..raw_store import parquet_intact

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


def entry_folders(entry) -> list[Path]:
    """The folders of Parquet parts of a catalog entry (ViewEntry): its own, or each shard's of a union."""
    return [Path(p) for p in entry.parts.values()] if entry.parts else [Path(entry.path)]


def scan_entry(entry) -> pl.LazyFrame:
    """All parts of the view version a catalog entry (ViewEntry) describes."""
    files = [str(p) for folder in entry_folders(entry) for p in sorted(folder.glob("*.parquet"))]
    return pl.scan_parquet(files)


def view_damage(entry) -> str | None:
    """What is wrong with the stored files of a catalog entry (ViewEntry), or None when they are whole:
    every part present with its Parquet frame, and the bytes the catalog recorded. Stats and 8 bytes a
    part: cheap enough for every reuse."""
    parts = []
    for directory in entry_folders(entry):
        if not directory.is_dir():
            return f"folder {directory} is missing"
        parts += sorted(directory.glob("*.parquet"))
    broken = [p.name for p in parts if not parquet_intact(p)]
    if broken:
        return f"{len(broken)} part file(s) cut short or not Parquet: {', '.join(broken[:3])}"
    size = sum(p.stat().st_size for p in parts)
    if size != entry.bytes:
        return f"{len(parts)} part file(s) hold {size} bytes, the catalog recorded {entry.bytes}"
    return None


class ViewWriter:
    """Parts of one view version written as they come into a temporary folder, renamed into place by
    `close`: readers never see half a version, and a writer holds one chunk in memory at a time."""

    def __init__(self, directory: Path):
        self.directory = directory
        _remove_orphans(directory)
        self.tmp = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.parts = 0

    def write(self, table: pa.Table) -> None:
        for start in range(0, max(len(table), 1), ROWS_PER_PART):
            pq.write_table(
                table.slice(start, ROWS_PER_PART),
                self.tmp / f"part-{self.parts:05d}.parquet",
                compression="zstd",
                compression_level=1,
                use_byte_stream_split=True,
            )
            self.parts += 1

    def close(self) -> int:
        """Move the parts into place; returns the bytes written."""
        if self.directory.exists():
            shutil.rmtree(self.directory)
        os.replace(self.tmp, self.directory)
        return sum(p.stat().st_size for p in self.directory.glob("*.parquet"))

    def abort(self) -> None:
        """A full disk or an interrupt: leave no half-written folder behind."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> ViewWriter:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is not None:
            self.abort()


def write_view(directory: Path, table: pa.Table) -> int:
    """Write parts into a temporary folder, then rename it into place; returns bytes written."""
    with ViewWriter(directory) as writer:
        writer.write(table)
        return writer.close()


def _remove_orphans(directory: Path) -> None:
    """Temporary folders of earlier writes of `directory` whose process is gone (killed mid-write)."""
    for tmp in directory.parent.glob(f".{directory.name}.*.tmp"):
        pid = tmp.name.removeprefix(f".{directory.name}.").removesuffix(".tmp")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
