"""Rhythm descriptors on the host: RR features for beats, heart rate and HRV for records.

R peaks come from the annotations (beats), from `wfdb.processing.xqrs_detect` (records: their rhythm) or
from `wfdb.processing.gqrs_detect` (the beats of a record scored without annotations).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from ..backend import signal_module
from ..beat_ids import record_rows
from .resample import resample

BEAT_RR_NAMES = (
    *("rr_prev_s", "rr_next_s", "rr_local_s", "rr_record_s", "rr_prev_norm", "rr_next_norm"),
    *("rr_prev_slow_norm", "rr_next_slow_norm", "rr_prev_q90_norm", "rr_next_q90_norm"),
)
SINUS_QUANTILE = 0.9  # the third reference: an interval premature beats, however many, do not pull down
RECORD_HRV_NAMES = (
    *("hr_bpm", "rr_mean_s", "sdnn_s", "rmssd_s", "pnn50", "n_beats"),
    *("rr_cv", "rmssd_norm", "rr_step_norm", "irregular_share", "turning_points", "rr_spread"),
)
DETECT_MIN_FS = 300.0  # Hz; below it XQRS misplaces and doubles beats: an upsampled copy is detected
EDGE_TAPER_S = 0.2  # s at each end of a lead faded in and out before R peaks are detected
# GQRS's thresholds are in microvolts (its QRSa, QRSamin): `detect_beats` scales a lead so that its median
# peak-to-peak over AMPLITUDE_SPAN_S stretches is TYPICAL_QRS_MV, whatever its units and gain (on
# MIT-BIH 1 mV missed more ventricular beats, 2.25 mV made 2.6 times the extra detections), and clips it at
# SPIKE_CLIP times that: an artifact a million times a beat's size left GQRS's integer threshold at zero,
# and it divided by it
TYPICAL_QRS_MV = 1.5
AMPLITUDE_SPAN_S = 2.0  # long enough that every stretch holds a beat at any rate over 30 bpm
SPIKE_CLIP = 10.0
EDGE_PAD_S = 1.0  # s of zeros either side: GQRS finds no beat in its first samples
IRREGULAR_STEP = 0.1  # a successive RR difference over this share of the mean RR is irregular


def _processing() -> ModuleType:
    """wfdb.processing, imported at the first detection: it brings scipy.signal, which loading the
    Dagster definitions (they import this module for the views' parameters) does without."""
    return importlib.import_module("wfdb.processing")


def beat_rr_features(
    record_id: np.ndarray, r_peak: np.ndarray, rr_prev_s: np.ndarray, rr_next_s: np.ndarray, *, local_beats: int = 10
) -> np.ndarray:
    """(beats, 10) RR features in the given row order; NaN intervals (first/last beat) take the
    record's mean RR. The record mean normalises each beat's intervals: inter-patient results
    depend on it. So does a second reference, the record's median of the longer of each beat's two
    intervals: premature beats (short before, long after) pull it less towards their own rhythm, so it
    still reads them as early in a record where they are the majority (DS1's S-majority stress test:
    S sensitivity 0.24 -> 0.41; benchmarks/ablations.py). And a third, the record's 90th percentile
    interval, which no share of premature beats pulls down (DS1 5-fold CV of the time variant: S
    sensitivity 0.44 -> 0.65 out of fold, 0.16 -> 0.52 in the records whose N beats are bundle-branch
    blocks, S-majority stress 0.21 -> 0.50; benchmarks/ABLATIONS.md).
    """
    out = np.zeros((len(r_peak), len(BEAT_RR_NAMES)), dtype=np.float32)
    for rows, prev, nxt, mean in _records(record_id, r_peak, rr_prev_s, rr_next_s):
        csum = np.concatenate([[0.0], np.cumsum(prev)])
        idx = np.arange(len(prev))
        start = np.maximum(idx - local_beats + 1, 0)
        local = (csum[idx + 1] - csum[start]) / (idx + 1 - start)  # mean of the last `local_beats`
        slow = max(float(np.median(np.maximum(prev, nxt))), 1e-3)
        sinus = max(float(np.quantile(np.concatenate([prev, nxt]), SINUS_QUANTILE)), 1e-3)
        out[rows] = np.stack(
            [prev, nxt, local, np.full_like(prev, mean), prev / mean, nxt / mean, prev / slow, nxt / slow]
            + [prev / sinus, nxt / sinus],
            axis=1,
        )
    return out


def _records(
    record_id: np.ndarray, r_peak: np.ndarray, rr_prev_s: np.ndarray, rr_next_s: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, float | np.floating]]:
    """Per record: its rows in time order, their intervals before and after (float64; NaN, the first and
    last beat's unknown ones, as the record's mean preceding interval) and that mean."""
    for rows in record_rows(record_id, r_peak):
        prev, nxt = rr_prev_s[rows].astype(np.float64), rr_next_s[rows].astype(np.float64)
        mean = np.nanmean(prev) if np.isfinite(prev).any() else 1.0
        yield rows, np.where(np.isfinite(prev), prev, mean), np.where(np.isfinite(nxt), nxt, mean), mean


def rr_context_names(beats: int) -> tuple[str, ...]:
    """Column names of `rr_context`: the intervals ending `beats` beats before the beat up to its own
    (`rr_m<k>`, `rr_m0` its preceding one), then its following one and those after it (`rr_p<k>`)."""
    return (*(f"rr_m{k}" for k in range(beats, -1, -1)), *(f"rr_p{k}" for k in range(beats + 1)))


def rr_context(
    record_id: np.ndarray, r_peak: np.ndarray, rr_prev_s: np.ndarray, rr_next_s: np.ndarray, *, beats: int
) -> np.ndarray:
    """(rows, 2 beats + 2) the rhythm around each beat, in the given row order: the `beats` + 1
    intervals before it and the `beats` + 1 after it (`rr_context_names`), each as log2 of its ratio to
    the median of those intervals. Read against the beat's own neighbourhood, not its record: a premature
    beat in a steady rhythm (one short, one long), a beat inside a run, a pause, an irregular rhythm each
    have their shape, whatever the record's references; so copies that move a record's references
    (ecgnet.stress) leave it as it is. Beyond the record's ends the nearest interval repeats; NaN
    intervals take the record's mean (`_records`)."""
    width = 2 * beats + 2
    out = np.zeros((len(r_peak), width), dtype=np.float32)
    for rows, prev, nxt, _ in _records(record_id, r_peak, rr_prev_s, rr_next_s):
        idx = np.arange(len(rows))
        before = prev[np.clip(idx[:, None] + np.arange(-beats, 1), 0, len(rows) - 1)]
        after = nxt[np.clip(idx[:, None] + np.arange(0, beats + 1), 0, len(rows) - 1)]
        seq = np.maximum(np.concatenate([before, after], axis=1), 1e-3)
        out[rows] = np.log2(seq / np.median(seq, axis=1, keepdims=True))
    return out


def detect_r_peaks(lead: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of one lead with wfdb's XQRS, for the record views' rhythm statistics;
    empty when none are found. A lead below `DETECT_MIN_FS` is detected on a copy upsampled by a whole
    factor and the peaks mapped back: in 30 s windows at 100 Hz (the record tasks' rate) XQRS run directly
    found 92.1 % of CPSC 2021's annotated beats at +P 0.79, against 99.1 % at +P 0.999 upsampled; over
    MIT-BIH upsampling leaves a third of the errors (benchmarks/r_peaks.py). XQRS learns its thresholds
    from the lead, so its scale does not matter. It misses wide ventricular beats, which `detect_beats`
    finds; the rhythm statistics stay with XQRS because the af task reads them better so (on the team's
    CinC 2017 and CPSC 2021 rows, 5-fold CV over ten fold seeds, macro-F1 0.74 against 0.67 from GQRS's
    peaks: XQRS's peaks in a noisy recording tell it apart)."""
    prepared = _prepared(lead, fs)
    if prepared is None:
        return np.array([], dtype=np.int64)
    x, up = prepared
    peaks = np.asarray(_processing().xqrs_detect(x, fs=fs * up, verbose=False), dtype=np.int64)
    return _mapped_back(peaks, up, len(lead))


def detect_beats(lead: np.ndarray, fs: float) -> np.ndarray:
    """Every beat's R-peak sample index in one lead, to classify them (`predict --task beats` on a record
    without annotations: a beat missed is never classified); empty when none are found. wfdb's GQRS on the
    lead scaled to `TYPICAL_QRS_MV`, each peak then moved to the largest deflection near it, up or down
    (`correct_peaks`). XQRS's upright wavelet misses wide ventricular beats: in the first 10 minutes of
    MIT-BIH's records at 360 Hz it found 87.3 % of the V beats, GQRS 98.6 %, at +P 0.993 and 0.995
    (benchmarks/r_peaks.py)."""
    prepared = _prepared(lead, fs)
    if prepared is None:
        return np.array([], dtype=np.int64)
    x, up = prepared
    amplitude = typical_peak_to_peak(x, fs * up)
    if not amplitude > 0:
        return np.array([], dtype=np.int64)
    pad = np.zeros(int(EDGE_PAD_S * fs * up))
    top = SPIKE_CLIP * TYPICAL_QRS_MV
    x = np.concatenate([pad, np.clip(x * (TYPICAL_QRS_MV / amplitude), -top, top), pad])
    peaks = _processing().gqrs_detect(sig=x, fs=fs * up)
    if len(peaks):
        radius, smooth = int(0.05 * fs * up), int(0.15 * fs * up)
        peaks = _processing().correct_peaks(x, peaks, search_radius=radius, smooth_window_size=smooth)
    peaks = np.asarray(peaks, dtype=np.int64) - len(pad)
    return _mapped_back(peaks[(peaks >= 0) & (peaks < len(x) - 2 * len(pad))], up, len(lead))


def _prepared(lead: np.ndarray, fs: float) -> tuple[np.ndarray, int] | None:
    """The lead as a detector reads it (float64, at `fs` times the returned whole factor, at least
    `DETECT_MIN_FS`), or None when it is empty or flat. The detectors learn their thresholds from the
    first beats they find: an offset, or a resampling transient at an edge (a 30 s window cut from a
    record), would be the largest "beat" they learn from, so the median is taken off and the ends faded."""
    if len(lead) == 0 or np.ptp(lead) == 0:
        return None
    up = max(1, math.ceil(DETECT_MIN_FS / fs))
    taper = signal_module(np).windows.tukey(len(lead), min(1.0, 2 * EDGE_TAPER_S * fs / len(lead)))
    x = (lead.astype(np.float64) - np.median(lead)) * taper
    return np.asarray(resample(x, fs=fs, target_fs=fs * up)[0] if up > 1 else x, dtype=np.float64), up


def _mapped_back(peaks: np.ndarray, up: int, n: int) -> np.ndarray:
    return np.unique(np.clip(np.round(peaks / up).astype(np.int64), 0, n - 1))


def typical_peak_to_peak(lead: np.ndarray, fs: float) -> float:
    """The median peak-to-peak of the lead over whole `AMPLITUDE_SPAN_S` stretches (the whole lead when
    shorter), flat ones left out (a short record zero-padded to its task's length): its QRS amplitude,
    which a burst of noise or a few large beats do not move."""
    n = int(AMPLITUDE_SPAN_S * fs)
    if len(lead) < n:
        return float(np.ptp(lead))
    spans = lead[: len(lead) // n * n].reshape(-1, n)
    ptp = spans.max(axis=1) - spans.min(axis=1)
    return float(np.median(ptp[ptp > 0])) if (ptp > 0).any() else 0.0


def hrv(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """(12,) heart rate and HRV statistics (`RECORD_HRV_NAMES`); zeros where fewer than three beats were
    found. The last six read the rhythm's irregularity on no scale of its own, what tells AF from a
    regular rhythm at any rate: SDNN and RMSSD over the mean RR (Dash et al. 2009 take RMSSD so), the
    median successive difference over the median RR (one missed or extra beat moves it little), the
    share of successive differences over `IRREGULAR_STEP` of the mean, the turning-point ratio of the
    RR series (Dash et al. 2009: about 2/3 when the intervals are random), and the 90th over the 10th
    percentile interval."""
    rr = np.diff(r_peaks) / fs
    out = np.zeros(len(RECORD_HRV_NAMES), dtype=np.float32)
    out[5] = len(r_peaks)
    if len(rr) < 2:
        return out
    step = np.diff(rr)
    diffs, mean = np.abs(step), rr.mean()
    rmssd = np.sqrt(np.mean(diffs**2))
    turns = np.mean(step[:-1] * step[1:] < 0) if len(step) > 1 else 0.0
    low, high = np.percentile(rr, [10, 90])
    out[:5] = 60.0 / mean, mean, rr.std(ddof=1), rmssd, np.mean(diffs > 0.05)
    out[6:] = (
        rr.std(ddof=1) / mean,
        rmssd / mean,
        np.median(diffs) / np.median(rr),
        np.mean(diffs > IRREGULAR_STEP * mean),
        turns,
        high / low,
    )
    return out


def peak_energy(signal: np.ndarray, r_peaks: np.ndarray, half: int) -> np.ndarray:
    """(leads,) mean over beats of the energy within +-half samples of each R peak."""
    if len(r_peaks) == 0:
        return np.zeros(signal.shape[0], dtype=np.float32)
    idx = np.clip(r_peaks[:, None] + np.arange(-half, half + 1), 0, signal.shape[-1] - 1)
    seg = signal[:, idx]  # (leads, beats, 2 half + 1)
    return (seg * seg).sum(axis=-1).mean(axis=-1).astype(np.float32)
