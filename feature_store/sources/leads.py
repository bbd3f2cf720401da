"""Canonical lead names, so that 'ii', 'II' and 'D2' are one lead across databases."""

from __future__ import annotations

from .errors import RecordError

STANDARD_12 = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
# Frank orthogonal leads (PTB Diagnostic) and the modified limb leads of Holter databases (MIT-BIH).
OTHER = ("vx", "vy", "vz", "MLI", "MLII", "MLIII", "ECG")
ALIASES = {"D1": "I", "D2": "II", "D3": "III", "X": "vx", "Y": "vy", "Z": "vz", "ECG1": "ECG"}

_CANONICAL = {name.lower(): name for name in STANDARD_12 + OTHER}
_CANONICAL.update({alias.lower(): name for alias, name in ALIASES.items()})


def canonical_lead_names(names: list[str], path: str) -> list[str]:
    """Map header lead names to canonical ones; raise naming the file for any unknown lead."""
    unknown = [name for name in names if name.strip().lower() not in _CANONICAL]
    if unknown:
        raise RecordError(
            "unknown_lead",
            f"{path}.hea: unknown lead name(s) {unknown}; fix: rename the lead in the header to one of "
            f"{list(STANDARD_12 + OTHER)} or add an alias in feature_store/sources/leads.py",
        )
    return [_CANONICAL[name.strip().lower()] for name in names]
