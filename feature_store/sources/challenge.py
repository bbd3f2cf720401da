"""Records whose header states their diagnosis: the PhysioNet/CinC Challenge layout (`# Dx:` SNOMED CT
codes, `# Age:`, `# Sex:`) and the PTB Diagnostic ECG Database's (`# Reason for admission: Myocardial
infarction`, one of its diagnostic classes, in `patient<NNN>/` folders: `splits.folder_patient`)."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from ..config import IngestConfig
from .base import Landed, RecordRef
from .canonical import base_row, comment_fields
from .errors import RecordError
from .splits import assign
from .wfdb_record import read_wfdb

SNOMED_TABLE = Path(__file__).with_name("snomed_superclass.csv")
# PTB Diagnostic's reasons for admission -> PTB-XL superclass, where one says the same: MI, healthy controls
# (NORM), bundle branch block (CD) and hypertrophy (HYP); the others (cardiomyopathy, dysrhythmia, angina,
# ...) are kept as unmapped codes, as SNOMED CT codes without a superclass are
ADMISSION_TABLE = Path(__file__).with_name("ptb_admission_superclass.csv")
DX, ADMISSION = "dx", "reason for admission"  # the header fields stating a diagnosis, as `comment_fields` keys them
SINUS_RHYTHM = "426783006"


@cache
def snomed_table() -> dict[str, dict[str, str]]:
    """snomed_code -> {abbreviation, description, scp_code, superclass} (superclass may be '')."""
    with SNOMED_TABLE.open() as f:
        return {row["snomed_code"]: row for row in csv.DictReader(f)}


@cache
def admission_table() -> dict[str, str]:
    """PTB Diagnostic reason for admission, lower-cased -> superclass ('' where none says the same)."""
    with ADMISSION_TABLE.open() as f:
        return {row["reason"].lower(): row["superclass"] for row in csv.DictReader(f)}


def admission_superclasses(reason: str) -> tuple[list[str], list[str]]:
    """(superclasses, the reason where it gave none) of a PTB Diagnostic record: kept, never dropped."""
    superclass = admission_table().get(reason.strip().lower(), "")
    return ([superclass], []) if superclass else ([], [reason] if reason else [])


def parse_dx(value: str | None, path: Path) -> list[str]:
    codes = [c.strip() for c in (value or "").split(",") if c.strip()]
    bad = [c for c in codes if not c.isdigit()]
    if not codes or bad:
        raise RecordError(
            "unmappable_labels",
            f"{path}.hea: '# Dx: {value}' holds no SNOMED CT codes "
            f"{bad or ''}; fix: write comma-separated numeric SNOMED CT codes",
        )
    return codes


def superclasses(codes: list[str], *, norm_from_sinus_rhythm: bool = True) -> tuple[list[str], list[str]]:
    """(sorted superclasses, codes that gave none): unmapped codes are kept, never dropped."""
    table = snomed_table()
    labels = {table[c]["superclass"] for c in codes if c in table and table[c]["superclass"]}
    unmapped = [c for c in codes if c not in table or not table[c]["superclass"]]
    if norm_from_sinus_rhythm and not labels and SINUS_RHYTHM in codes:
        labels, unmapped = {"NORM"}, [c for c in unmapped if c != SINUS_RHYTHM]
    return sorted(labels), unmapped


def states_diagnosis(header_text: str) -> bool:
    """Whether a header states a diagnosis (a `# Dx:` or `# Reason for admission:` comment line): what makes
    a WFDB record the Challenge source's (`registry`) and gives it labels (`header_labels`)."""
    stated = (f"{DX}:", f"{ADMISSION}:")
    return any(
        line.lstrip("# ").lower().startswith(stated) for line in header_text.splitlines() if line.startswith("#")
    )


def header_labels(comments: list[str], path: Path, cfg: IngestConfig) -> tuple[list[str], list[str], list[str]]:
    """(superclasses, codes that gave none, the codes stated) of a header's diagnosis: Challenge's `# Dx:`
    SNOMED CT codes, else PTB Diagnostic's reason for admission."""
    fields = comment_fields(comments)
    if DX in fields or ADMISSION not in fields:
        codes = parse_dx(fields.get(DX), path)
        labels, unmapped = superclasses(codes, norm_from_sinus_rhythm=cfg.norm_from_sinus_rhythm)
    else:
        codes = [fields[ADMISSION]] if fields[ADMISSION] else []
        labels, unmapped = admission_superclasses(fields[ADMISSION])
    return labels, unmapped, codes


class ChallengeSource:
    kind = "challenge"
    revision = 1  # 1: a record with a lead flat the whole record lands without it (it was quarantined, flat_lead)

    def load(self, ref: RecordRef, cfg: IngestConfig) -> Landed:
        sig = read_wfdb(ref.path, cfg, keep_dropouts=True)  # rows are cut clear of them (inputs)
        patient_id, split = assign(sig.record_id, ref.meta.get("patient"))
        row = base_row(
            sig, source=self.kind, folder=ref.folder, target_fs=cfg.record_fs, split=split, patient_id=patient_id
        )
        row.labels, row.unmapped_codes, row.label_codes = header_labels(sig.comments, ref.path, cfg)
        return Landed(row)
