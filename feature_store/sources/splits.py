"""Patient-wise splits: PTB-XL's strat_fold, MIT-BIH's DS1/DS2 table, a stable hash otherwise."""

from __future__ import annotations

import csv
import hashlib
from functools import cache
from pathlib import Path

_MITDB_SPLIT = Path(__file__).with_name("mitdb_split.csv")


def fold_split(fold: int) -> str:
    """PTB-XL's recommendation: folds 1-8 train, 9 validation, 10 test."""
    if not 1 <= fold <= 10:
        raise ValueError(f"strat_fold must be 1..10, got {fold}")
    return "train" if fold <= 8 else ("val" if fold == 9 else "test")


def hash_split(patient_id: str) -> str:
    """Stable 10-fold assignment by patient, so every record of a patient shares one split."""
    fold = int(hashlib.blake2b(patient_id.encode(), digest_size=4).hexdigest(), 16) % 10 + 1
    return fold_split(fold)


@cache
def mitdb_table() -> dict[str, tuple[str, str]]:
    """record -> (patient_id, split) for MIT-BIH (de Chazal et al. 2004 inter-patient split)."""
    with _MITDB_SPLIT.open() as f:
        return {row["record"]: (row["patient_id"], row["split"]) for row in csv.DictReader(f)}
