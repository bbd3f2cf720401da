"""Record-level rhythm labels of the atrial fibrillation databases, as they write them.

- CinC 2017 (single-lead AliveCor): `REFERENCE.csv` beside the records, `A00001,N` per line, with
  N normal sinus rhythm, A atrial fibrillation, O another rhythm, ~ too noisy to classify.
- CPSC 2021 (two-lead Holter excerpts): a header comment, `# paroxysmal atrial fibrillation` (or
  non / persistent); the AF episodes themselves are rhythm annotations `(AFIB` / `(N` in the `.atr`.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from .files import read_head

log = logging.getLogger(__name__)
REFERENCE = "REFERENCE.csv"
CINC2017_CODES = {"N": "N", "A": "AF", "O": "O", "~": "noisy"}  # -> the rhythm task's classes
CPSC2021_STATEMENTS = ("non atrial fibrillation", "paroxysmal atrial fibrillation", "persistent atrial fibrillation")


def reference_codes(folder: Path) -> dict[str, str]:
    """record -> code from the folder's REFERENCE.csv ({} without one); malformed lines are skipped
    with a warning naming the line, and their records land unlabelled."""
    text = read_head(folder / REFERENCE, limit=1 << 24)
    codes = {}
    for number, row in enumerate(csv.reader(text.splitlines()), 1):
        if len(row) != 2 or not row[0].strip():
            log.warning("%s line %d: %r is not `record,label`; it lands unlabelled", folder / REFERENCE, number, row)
            continue
        codes[row[0].strip()] = row[1].strip()
    return codes


def cpsc_statement(comments: list[str]) -> str | None:
    """CPSC 2021's rhythm statement among a header's comments, if any."""
    return next((c.strip().lower() for c in comments if c.strip().lower() in CPSC2021_STATEMENTS), None)
