"""The one error a source raises for a record that cannot land in the raw store."""

from __future__ import annotations


class RecordError(ValueError):
    """A record failed validation; `code` is machine-readable, the message names the file and fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
