"""The one error a source raises for a record that cannot land in the raw store."""

from __future__ import annotations


class RecordError(ValueError):
    """A record failed validation; `code` is machine-readable, the message names the file and fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EveryLeadFlat(RecordError):
    """Every lead of a read is flat (`flat_lead`): a record refused, or, in a section or window of a long
    record, the recorder writing no signal for a while (a reader of sections says so and reads on)."""

    def __init__(self, message: str) -> None:
        super().__init__("flat_lead", message)
