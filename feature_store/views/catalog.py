"""The catalog of feature views: one JSON file in the workspace, rewritten atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..raw_store import write_json_atomic


@dataclass(frozen=True)
class Catalog:
    path: Path  # <store>/features/catalog.json

    def entries(self) -> list[dict]:
        return json.loads(self.path.read_text()) if self.path.is_file() else []

    def get(self, name: str, version: str | None = None) -> dict | None:
        """The entry of `name` at `version`, or its newest when version is None."""
        found = [e for e in self.entries() if e["name"] == name and version in (None, e["version"])]
        return max(found, key=lambda e: e["created_at"]) if found else None

    def add(self, entry: dict) -> None:
        rest = [e for e in self.entries()
                if (e["name"], e["version"]) != (entry["name"], entry["version"])]
        write_json_atomic(rest + [entry], self.path)

    def remove(self, name: str, version: str) -> None:
        write_json_atomic([e for e in self.entries()
                           if (e["name"], e["version"]) != (name, version)], self.path)
