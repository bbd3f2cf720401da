"""A beat's id: its record and the sample of its R peak ("<record>:<sample>"), unique in a raw store.

Record ids may hold ":" themselves (a path-like name); the sample is always after the last one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np


def beat_ids(record_id: str, r_peaks: Iterable[int]) -> list[str]:
    """Ids of one record's beats at `r_peaks` (samples at the record's stored rate)."""
    return [f"{record_id}:{int(r)}" for r in r_peaks]


def beat_positions(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(records, R-peak samples) of beat ids; a clear error names an id that is not a beat's."""
    texts = [str(i) for i in np.asarray(ids).tolist()]
    parts = [i.rsplit(":", 1) for i in texts]
    bad = next((i for i, p in zip(texts, parts) if len(p) != 2 or not p[1].isdigit()), None)
    if bad is not None:
        raise ValueError(
            f"{bad!r} is not a beat id ('<record>:<R peak sample>'); fix: pass the ids of a beat task's rows"
        )
    return np.array([p[0] for p in parts]), np.array([int(p[1]) for p in parts], dtype=np.int64)


def record_rows(record_id: np.ndarray, r_peak: np.ndarray) -> Iterator[np.ndarray]:
    """Each record's row indices (records in sorted order), its beats in time order (by `r_peak`; ties keep
    their row order)."""
    for record in np.unique(record_id):
        rows = np.flatnonzero(record_id == record)
        yield rows[np.argsort(r_peak[rows], kind="stable")]
