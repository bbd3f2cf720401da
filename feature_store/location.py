"""Where stored files live: a folder on this machine or a prefix on an object store, through fsspec.

A `Location` is a filesystem and a path on it. `Location.of` takes a plain path (the local disk) or a
URI (`s3://bucket/prefix`, `gs://...`, `memory://...`: any filesystem fsspec knows). How the store is
reached is fsspec's own configuration, not ours: `FSSPEC_S3_ENDPOINT_URL` for an S3-compatible server,
the usual `AWS_*` credentials, or a `~/.config/fsspec/*.json`.

Object stores cannot rename a folder or hold a lock. What is written through a `Location` therefore
commits by one whole-object write (a JSON file, a Parquet part) and is found again by name; only the
local disk also renames (see `views/storage.py`).
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

log = logging.getLogger(__name__)

PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Location:
    fs: fsspec.AbstractFileSystem
    path: str  # on `fs`, without the protocol

    @classmethod
    def of(cls, where: str | os.PathLike | Location) -> Location:
        if isinstance(where, Location):
            return where
        text = os.fspath(where)
        if "://" not in text:
            return cls(fsspec.filesystem("file"), str(Path(text).absolute()))
        try:
            fs, path = fsspec.core.url_to_fs(text)
        except ImportError as err:
            raise ValueError(
                f"{text}: this filesystem needs a package that is not installed ({err}); fix: pip install the "
                "fsspec implementation it names (s3fs ships with this project)"
            ) from err
        return cls(fs, path.rstrip("/"))

    @property
    def local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def uri(self) -> str:
        """A plain path on the local disk (as catalogs always stored them), else protocol://path."""
        return self.path if self.local else self.fs.unstrip_protocol(self.path)

    def __str__(self) -> str:
        return self.uri

    def __truediv__(self, name: str) -> Location:
        return Location(self.fs, posixpath.join(self.path, name) if name else self.path)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def parent(self) -> Location:
        return Location(self.fs, posixpath.dirname(self.path))

    def exists(self) -> bool:
        return self.fs.exists(self.path)

    def is_dir(self) -> bool:
        return self.fs.isdir(self.path)

    def files(self, pattern: str = "*") -> list[Location]:
        """Files matching `pattern` under this folder, sorted by name; listed afresh, since other
        processes write here too (object-store clients cache listings)."""
        self.fs.invalidate_cache(self.path)
        found = self.fs.glob(posixpath.join(self.path, pattern), detail=True)
        return [Location(self.fs, p) for p, info in sorted(found.items()) if info["type"] == "file"]

    def size(self) -> int:
        return int(self.fs.size(self.path))

    def read_bytes(self) -> bytes:
        return self.fs.cat_file(self.path)

    def open(self, mode: str = "rb") -> IO[Any]:
        """A file object for this path: bytes or text as `mode` says."""
        return self.fs.open(self.path, mode)

    def make_dirs(self) -> None:
        self.fs.makedirs(self.path, exist_ok=True)

    def write_bytes(self, data: bytes) -> None:
        """Whole or not at all for readers: a rename on the local disk, one PUT on an object store."""
        if not self.local:
            self.fs.pipe_file(self.path, data)
            return
        self.parent.make_dirs()
        tmp = posixpath.join(posixpath.dirname(self.path), f".{self.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.path)

    def remove(self) -> None:
        """This file or folder and everything under it; nothing when absent."""
        if self.exists():
            self.fs.rm(self.path, recursive=True)

    def write_json(self, obj: object) -> None:
        self.write_bytes(json.dumps(obj, indent=1, sort_keys=True, default=str).encode())

    def read_json(self, default: object, rebuilt: str) -> object:
        """The JSON here (`default` when absent). A damaged file (truncated by a kill or a full disk) is
        moved aside as `<name>.corrupt` with a warning naming it and what happens next (`rebuilt`),
        instead of a JSONDecodeError without a path in every later run."""
        try:
            text = self.read_bytes()
        except FileNotFoundError:
            return default
        try:
            return json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            aside = self.parent / f"{self.name}.corrupt"
            self.fs.mv(self.path, aside.path)
            log.warning("%s is damaged (%s); moved to %s, %s", self, err, aside, rebuilt)
            return default

    def parquet_intact(self) -> bool:
        """Whether this is a whole Parquet file by its frame (magic bytes at both ends): a file cut short by
        a crash, a full disk or a copy loses its footer. Reads 8 bytes."""
        try:
            size = self.size()
            if size < 12:
                return False
            with self.open("rb") as fh:
                head = fh.read(4)
                fh.seek(size - 4)
                return head == PARQUET_MAGIC and fh.read(4) == PARQUET_MAGIC
        except OSError:
            return False
