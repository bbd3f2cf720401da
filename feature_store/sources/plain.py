"""Any other folder of WFDB records: ingested as records, labelled where the folder says (CinC 2017's
REFERENCE.csv: a rhythm class per record)."""

from __future__ import annotations

from ..config import IngestConfig
from .base import Landed, RecordRef
from .canonical import base_row
from .errors import RecordError
from .folder_tables import REFERENCE
from .rhythm_labels import CINC2017_CODES
from .splits import assign
from .wfdb_record import read_wfdb


class PlainWfdbSource:
    kind = "wfdb"
    revision = 1  # 1: a record with a lead flat the whole record lands without it (it was quarantined, flat_lead)

    def load(self, ref: RecordRef, cfg: IngestConfig) -> Landed:
        if ref.problem:  # a file discovery found but cannot read as a record (`registry.strays`)
            raise RecordError(ref.problem_code, ref.problem)
        sig = read_wfdb(ref.path, cfg, keep_dropouts=True)  # rows are cut clear of them (inputs)
        record = ref.path.name
        patient_id, split = assign(record, ref.meta.get("patient"))
        row = base_row(
            sig, source=self.kind, folder=ref.folder, target_fs=cfg.record_fs, split=split, patient_id=patient_id
        )
        code = ref.meta.get("reference")
        if code is not None:
            if code not in CINC2017_CODES:
                table = ref.meta.get("reference_file", ref.path.parent / REFERENCE)
                raise RecordError(
                    "unmappable_labels",
                    f"{table}: label {code!r} of {record} is not one of "
                    f"{sorted(CINC2017_CODES)} (N normal, A AF, O other rhythm, ~ noisy); fix: correct its line",
                )
            row.labels, row.label_codes = [CINC2017_CODES[code]], [code]
        return Landed(row)
