"""What may be read from a data folder: regular files, inside it, read in bounded pieces.

A data folder is untrusted input. A `.hea` that is a directory, a FIFO (reading blocks forever), a
device such as /dev/zero (reading never ends), a dangling link or a link loop must be refused by
name before anything opens it, and a link that leads out of the folder is refused unless the
configuration allows it: otherwise `x.dat -> /etc/passwd` lands as an ECG.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

from .errors import RecordError

T = TypeVar("T")

CHUNK = 1 << 20  # bytes hashed at a time: a file's fingerprint needs no more memory than this
HEADER_LIMIT = 1 << 20  # bytes of a header read for discovery; real headers are a few kB


def is_regular(path: Path) -> bool:
    """A regular file once links are followed (False for directories, FIFOs, devices, dangling
    links and link loops; never raises)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def while_unchanged(read: Callable[..., T], maxsize: int = 8) -> Callable[..., T]:
    """`read(path, *args)` kept and given again while the file at `path` keeps its size and modification
    time (many records sharing one table read it once, and again once it is edited); OSError where it is
    not there."""

    @functools.lru_cache(maxsize=maxsize)
    def kept(path: Path, mtime_ns: int, size: int, *args: Hashable) -> T:
        return read(path, *args)

    def wrapper(path: Path, *args: Hashable) -> T:
        seen = os.stat(path)
        return kept(path, seen.st_mtime_ns, seen.st_size, *args)

    return wrapper


def under_folders(paths: list[str], folders: list[Path]) -> list[bool]:
    """Whether each stored record path lies inside one of `folders`, however either was spelt (relative
    or absolute, with or without a trailing separator): the store keeps the records of folders not read
    this time, and a check about this run's records must tell them apart."""
    roots = [os.path.join(os.path.abspath(folder), "") for folder in folders]
    return [os.path.abspath(path).startswith(tuple(roots)) for path in paths]


def check_readable(files: list[Path], folder: Path, *, outside_links: bool = False) -> None:
    """Raise RecordError naming the first file that must not be read: not a regular file, or (unless
    `outside_links`) a link that resolves outside `folder`."""
    root = folder.resolve()
    for file in files:
        if not is_regular(file):
            raise RecordError(
                "not_a_file",
                f"{file}: {_what(file)}, not a regular file, so it is not read; fix: replace it with the "
                "record's real file or remove it from the data folder",
            )
        if not outside_links and not file.resolve().is_relative_to(root):
            raise RecordError(
                "outside_folder",
                f"{file}: a link to {file.resolve()}, outside the data folder {root}; fix: copy the file into "
                "the folder, point ECGNET_DATA at the folder it lives in, or set IngestConfig.outside_links",
            )


def file_digest(files: list[Path], prefix: bytes) -> str:
    """blake2b of `prefix` and each file's name and bytes, read in CHUNK pieces."""
    h = hashlib.blake2b(prefix, digest_size=16)
    for file in files:
        h.update(file.name.encode())
        with open(file, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
    return h.hexdigest()


def read_head(path: Path, limit: int = HEADER_LIMIT) -> str:
    """The first `limit` bytes of a regular file as text ("" for anything else)."""
    if not is_regular(path):
        return ""
    with open(path, "rb") as fh:
        return fh.read(limit).decode(errors="replace")


def _what(path: Path) -> str:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a link to a missing file" if path.is_symlink() else "missing"
    except OSError as err:
        return f"unreadable ({err.strerror or err})"  # e.g. a link loop
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket or other special file"
