"""Record-level rhythm labels of the atrial fibrillation databases, as they write them.

- CinC 2017 (single-lead AliveCor): `REFERENCE.csv` (`folder_tables`), `A00001,N` per line, with
  N normal sinus rhythm, A atrial fibrillation, O another rhythm, ~ too noisy to classify.
- CPSC 2021 (two-lead Holter excerpts): a header comment, `# paroxysmal atrial fibrillation` (or
  non / persistent); the AF episodes themselves are rhythm annotations `(AFIB` / `(N` in the `.atr`.
- The MIT-BIH Atrial Fibrillation Database (AFDB: 10 h two-lead Holter records): an `.atr` of rhythm
  annotations only, `(AFIB`, `(AFL`, `(J` and `(N`; its beats are in an unlabelled `.qrs`.

AFDB's `(N` is every rhythm but AF, flutter and junctional rhythm, and CPSC 2021's non-AF episodes are
every rhythm but AF: both are read as N, the nearest of the task's classes (CinC 2017's N is normal
sinus rhythm only), so their N windows may hold rhythms CinC 2017 would call other.
"""

from __future__ import annotations

import numpy as np

CINC2017_CODES = {"N": "N", "A": "AF", "O": "O", "~": "noisy"}  # -> the rhythm task's classes
CPSC2021_STATEMENTS = ("non atrial fibrillation", "paroxysmal atrial fibrillation", "persistent atrial fibrillation")


def cpsc_statement(comments: list[str]) -> str | None:
    """CPSC 2021's rhythm statement among a header's comments, if any."""
    return next((c.strip().lower() for c in comments if c.strip().lower() in CPSC2021_STATEMENTS), None)


# Rhythm annotations (`aux_note` of a `+` annotation) -> the rhythm task's classes. CPSC 2021 writes
# only `(AFIB` and `(N`; AFDB also atrial flutter and AV junctional rhythm, which are other rhythms as
# in CinC 2017's classes. Every other rhythm ends the episode before it and starts none.
RHYTHM_CODES = {"(N": "N", "(AFIB": "AF", "(AFL": "O", "(J": "O"}


def rhythm_note(note: str | None) -> str | None:
    """An annotation's note as a rhythm change (`(AFIB`), or None. PhysioNet's own files end the string
    with a NUL (MIT-BIH 100's first note reads `(N\x00`), files written by wfdb do not: both read alike."""
    text = (note or "").replace("\x00", "").strip()
    return text if text.startswith("(") else None


def rhythm_changes(notes: list[str] | None) -> list[str]:
    """The rhythm changes among an annotation file's notes, cleaned, in order."""
    return [change for note in notes or [] if (change := rhythm_note(note))]


def rhythm_spans(
    samples: np.ndarray,
    notes: list[str],
    n_samples: int,
    *,
    start_rhythm: str | None,
    codes: dict[str, str] = RHYTHM_CODES,
) -> list[tuple[int, int, str]]:
    """Rhythm episodes (start, stop, class) from rhythm annotations: a note `(X` starts rhythm X, which
    lasts to the next note or the record's end; before the first note the rhythm is `start_rhythm`
    (None: not known, no episode). Notes of other rhythms end the episode before them and start none
    of the task's classes (`codes`: notes -> classes). Samples at or past `n_samples` are clipped to it."""
    changes = sorted(
        (min(max(int(s), 0), n_samples), change) for s, n in zip(samples, notes) if (change := rhythm_note(n))
    )
    spans, rhythm, start = [], start_rhythm, 0
    for sample, note in changes:
        if rhythm is not None and sample > start:
            spans.append((start, sample, rhythm))
        rhythm, start = codes.get(note), sample
    if rhythm is not None and n_samples > start:
        spans.append((start, n_samples, rhythm))
    return _merged(spans)


def _merged(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Adjacent episodes of one rhythm as one (`(N` at the end of a record already in N)."""
    out: list[tuple[int, int, str]] = []
    for start, stop, rhythm in spans:
        if out and out[-1][2] == rhythm and out[-1][1] == start:
            out[-1] = (out[-1][0], stop, rhythm)
        else:
            out.append((start, stop, rhythm))
    return out


def cpsc_start_rhythm(statement: str | None) -> str | None:
    """The rhythm before a CPSC 2021 record's first rhythm annotation: its annotations mark the AF
    episodes, so the rest is non-AF (N); a persistent-AF record starts with `(AFIB` at sample 0."""
    return "N" if statement in CPSC2021_STATEMENTS else None
