"""Rhythm descriptors on the host: RR features for beats, heart rate and HRV for records.

R peaks come from the annotations (beats) or from `wfdb.processing.xqrs_detect` (records).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from wfdb import processing

BEAT_RR_NAMES = ("rr_prev_s", "rr_next_s", "rr_local_s", "rr_record_s", "rr_prev_norm", "rr_next_norm")
RECORD_HRV_NAMES = ("hr_bpm", "rr_mean_s", "sdnn_s", "rmssd_s", "pnn50", "n_beats")


def beat_rr_features(beats: pl.DataFrame, *, local_beats: int = 10) -> np.ndarray:
    """(beats, 6) RR features in the row order of `beats` (record_id, r_peak, rr_prev_s, rr_next_s).

    The record's mean RR normalises each beat's intervals: inter-patient results depend on it.
    Missing intervals (first/last beat) take the record mean.
    """
    rr = (beats.with_row_index("_row")
          .with_columns(rr_record_s=pl.col("rr_prev_s").mean().over("record_id"))
          .sort("record_id", "r_peak")
          .with_columns(rr_prev_s=pl.col("rr_prev_s").fill_null(pl.col("rr_record_s")),
                        rr_next_s=pl.col("rr_next_s").fill_null(pl.col("rr_record_s")))
          .with_columns(rr_local_s=pl.col("rr_prev_s").rolling_mean(local_beats, min_samples=1)
                        .over("record_id"))
          .with_columns(rr_prev_norm=pl.col("rr_prev_s") / pl.col("rr_record_s"),
                        rr_next_norm=pl.col("rr_next_s") / pl.col("rr_record_s"))
          .sort("_row"))
    return rr.select(BEAT_RR_NAMES).to_numpy().astype(np.float32)


def detect_r_peaks(lead: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of one lead (mV) with wfdb's XQRS; empty when none are found."""
    if np.ptp(lead) == 0:
        return np.array([], dtype=np.int64)
    return np.asarray(processing.xqrs_detect(lead.astype(np.float64), fs=fs, verbose=False),
                      dtype=np.int64)


def hrv(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """(6,) heart rate and HRV statistics; zeros where fewer than three beats were found."""
    rr = np.diff(r_peaks) / fs
    if len(rr) < 2:
        return np.array([0, 0, 0, 0, 0, len(r_peaks)], dtype=np.float32)
    diffs = np.abs(np.diff(rr))
    return np.array([60.0 / rr.mean(), rr.mean(), rr.std(ddof=1), np.sqrt(np.mean(diffs ** 2)),
                     np.mean(diffs > 0.05), len(r_peaks)], dtype=np.float32)


def peak_energy(signal: np.ndarray, r_peaks: np.ndarray, half: int) -> np.ndarray:
    """(leads,) mean over beats of the energy within +-half samples of each R peak."""
    if len(r_peaks) == 0:
        return np.zeros(signal.shape[0], dtype=np.float32)
    idx = np.clip(r_peaks[:, None] + np.arange(-half, half + 1), 0, signal.shape[-1] - 1)
    seg = signal[:, idx]  # (leads, beats, 2 half + 1)
    return (seg * seg).sum(axis=-1).mean(axis=-1).astype(np.float32)
