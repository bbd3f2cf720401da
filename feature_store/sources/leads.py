"""Canonical lead names, so that 'ii', 'II', 'D2' and 'ML II' are one lead across databases.

The alias table (README, "Lead names") is the one place a header's name becomes a canonical one;
spaces, hyphens and case are ignored. Signals that are not ECG leads (blood pressure, pleth,
respiration) and leads no table knows are dropped from the record with a note, as long as one
known ECG lead remains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import RecordError

STANDARD_12 = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
# Frank orthogonal leads (PTB Diagnostic), the modified leads of Holter databases (MIT-BIH: MLII,
# MCL1, CM5), a chest lead of unknown position (MIMIC's "V"), and the unnamed leads of single- and
# two-lead recorders (CinC 2017: ECG; AFDB: ECG1, ECG2).
OTHER = ("vx", "vy", "vz", "MLI", "MLII", "MLIII", "MCL1", "MCL6", "CM5", "V", "ECG", "ECG1", "ECG2")
ALIASES = {
    "D1": "I",
    "D2": "II",
    "D3": "III",
    "DI": "I",
    "DII": "II",
    "DIII": "III",
    "X": "vx",
    "Y": "vy",
    "Z": "vz",
    "ML1": "MLI",
    "ML2": "MLII",
    "ML3": "MLIII",
    "AVR": "aVR",
    "AVL": "aVL",
    "AVF": "aVF",
    "EKG": "ECG",
}


def _key(name: str) -> str:
    """A lead name as it is looked up: spaces, hyphens, underscores and case ignored."""
    return re.sub(r"[\s_-]", "", name.lower())


_CANONICAL = {_key(name): name for name in STANDARD_12 + OTHER} | {_key(a): n for a, n in ALIASES.items()}


def canonical(name: str | None) -> str | None:
    """The canonical name of a header's lead name, or None when it is not a known ECG lead (a signal
    line may leave the name out: wfdb reads it as None, a lead of unknown position)."""
    if not name:
        return None
    key = _key(name)
    numbered = re.fullmatch(r"ecg(\d)", key)  # the n-th unnamed lead of a recorder: ECG1, ECG 2, ECG_3
    if numbered:
        return f"ECG{numbered.group(1)}"
    # EDF+ names a signal by its type, a space and its lead ("ECG II", "EKG V2"; edfplus.info, standard texts)
    typed = re.fullmatch(r"(?:ecg|ekg)\s+(\S.*)", name.strip(), re.IGNORECASE)
    return _CANONICAL.get(key) or (_CANONICAL.get(_key(typed.group(1))) if typed else None)


@dataclass(frozen=True)
class Leads:
    kept: list[int]  # positions of the signals kept, in header order
    names: list[str]  # their canonical names
    dropped: list[str]  # header names of the signals dropped


def resolve_leads(names: list[str | None], declared_in: str) -> Leads:
    """Canonical names of the ECG leads among a record's signals (`declared_in`: the file that names them, a
    header or an EDF file, for messages); RecordError when none is known or two signals claim one lead."""
    kept = [(i, lead) for i, n in enumerate(names) if (lead := canonical(n)) is not None]
    shown = [n or f"signal {i + 1} (no name)" for i, n in enumerate(names)]  # as messages and notes name them
    dropped = [shown[i] for i, n in enumerate(names) if canonical(n) is None]
    if not kept:
        raise RecordError(
            "unknown_lead",
            f"{declared_in}: no known ECG lead among its signals {shown}; fix: name the leads in the header "
            f"(one of {list(STANDARD_12 + OTHER)}) or add an alias in feature_store/sources/leads.py",
        )
    seen: dict[str, str] = {}
    for i, name in kept:
        if name in seen:
            raise RecordError(
                "duplicate_lead",
                f"{declared_in}: signals {seen[name]!r} and {names[i]!r} are both lead {name}; fix: correct the "
                "lead names in the header so each lead appears once",
            )
        seen[name] = shown[i]  # the header's own name: a kept signal always has one
    return Leads([i for i, _ in kept], [n for _, n in kept], dropped)


@dataclass(frozen=True)
class LeadSlot:
    """One input channel of a task: the lead it was trained on, and the leads accepted in its place,
    in order of preference (a model trained on MLII reads lead II; on V1, a chest lead near it)."""

    name: str
    substitutes: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        return (self.name, *self.substitutes)


def pick_leads(slots: tuple[LeadSlot, ...], names: list[str]) -> list[int] | None:
    """The position in `names` that fills each slot (its own lead first, then its substitutes, never
    one lead twice), or None when some slot finds none."""
    taken: list[int] = []
    for slot in slots:
        found = next((names.index(n) for n in slot.accepted if n in names and names.index(n) not in taken), None)
        if found is None:
            return None
        taken.append(found)
    return taken


def lead_notes(slots: tuple[LeadSlot, ...], names: list[str], picked: list[int]) -> list[str]:
    """Which slots a substitute filled, in words."""
    return [f"lead {s.name} read from {names[i]}" for s, i in zip(slots, picked) if names[i] != s.name]
