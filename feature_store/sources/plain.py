"""Any other folder of WFDB records: ingested as unlabelled records."""

from __future__ import annotations

from ..config import IngestConfig
from .base import Landed, RecordRef
from .canonical import base_row
from .splits import patient_of, record_split
from .wfdb_record import read_wfdb


class PlainWfdbSource:
    kind = "wfdb"

    def load(self, ref: RecordRef, cfg: IngestConfig) -> Landed:
        sig = read_wfdb(ref.path, cfg)
        record = ref.path.name
        return Landed(
            base_row(
                sig,
                source=self.kind,
                folder=ref.folder,
                target_fs=cfg.record_fs,
                split=record_split(record),
                patient_id=patient_of(record),
            )
        )
