"""Shards: stable hash buckets of a source kind's records, so ingest and features run (and run again)
one bucket at a time, in parallel runs, and a new record touches only its own bucket.

A record's bucket comes from the id it will land under (PTB-XL's `ecg_id`, else the record's name), so
two files claiming one record id meet in one shard, where ingest refuses the second (`duplicate_id`).
The count is fixed per workspace by ECGNET_SHARDS (default 4): changing it gives new manifests, so
every record is read once more into its new bucket. Standard library only (Dagster builds its
partitions from it at import).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from .config import whole_number

SHARDS_ENV = "ECGNET_SHARDS"
DEFAULT_SHARDS = 4
MAX_SHARDS = 4096


def shard_count(value: str | None = None) -> int:
    """ECGNET_SHARDS (or `value`), default 4; a clear error for anything but 1..4096."""
    text = os.environ.get(SHARDS_ENV) if value is None else value
    if text is None or not text.strip():
        return DEFAULT_SHARDS
    count = whole_number(text, 1, MAX_SHARDS)
    if count is None:
        raise ValueError(f"{SHARDS_ENV}={text!r}; fix: a whole number of shards from 1 to {MAX_SHARDS}, e.g. 16")
    return count


@dataclass(frozen=True)
class Shard:
    """Bucket `index` of `count`; `key` is its Dagster partition key ("00", "01", ...)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} does not exist among {self.count} shards")

    @property
    def key(self) -> str:
        return f"{self.index:0{max(2, len(str(self.count - 1)))}d}"

    @classmethod
    def parse(cls, key: str, count: int | None = None) -> Shard:
        """The shard of a partition key, among `count` (default: ECGNET_SHARDS) shards."""
        count = count or shard_count()
        if not key.isdigit() or int(key) >= count:
            raise ValueError(
                f"{key!r} is not a shard among {count} ({SHARDS_ENV}={count}); fix: a key from "
                f"{shard_keys(count)[0]} to {shard_keys(count)[-1]}"
            )
        return cls(int(key), count)

    def holds(self, record_key: str) -> bool:
        return bucket(record_key, self.count) == self.index


def bucket(record_key: str, count: int) -> int:
    """A stable bucket (the same on every machine and Python run, unlike hash())."""
    return int.from_bytes(hashlib.blake2b(record_key.encode(), digest_size=8).digest(), "big") % count


def all_shards(count: int | None = None) -> list[Shard]:
    count = count or shard_count()
    return [Shard(i, count) for i in range(count)]


def shard_label(key: str) -> str:
    """Follows a view or kind's name in messages: " shard 02", or "" for a whole one."""
    return f" shard {key}" if key else ""


def shard_keys(count: int | None = None) -> list[str]:
    return [s.key for s in all_shards(count)]
