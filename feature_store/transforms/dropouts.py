"""Where a record's dropouts (runs of invalid samples) lie, and which windows and intervals they spoil:
pure array functions over a boolean sample mask, for the online rows of records scored around them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .resample import resample_spread_s


def run_bounds(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The starts and stops of the runs of True, as arrays (a lead's millions of runs filtered unlooped)."""
    pad = np.zeros(1, np.int8)  # int8 throughout: a day-long lead's mask in int64 was 250 MB a copy
    edges = np.flatnonzero(np.diff(np.concatenate([pad, np.asarray(mask).astype(np.int8), pad])))
    return edges[::2], edges[1::2]


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True."""
    starts, stops = run_bounds(mask)
    return list(zip(starts.tolist(), stops.tolist()))


def dropout_mask(spans: np.ndarray, n_samples: int, *, margin: int = 0) -> np.ndarray:
    """(n_samples,) True inside any span [start, stop) of `spans` (k, 2), widened by `margin` samples
    either side and clipped to the signal."""
    mask = np.zeros(n_samples + 1, np.int64)
    spans = np.asarray(spans, np.int64).reshape(-1, 2)
    np.add.at(mask, np.clip(spans[:, 0] - margin, 0, n_samples), 1)
    np.add.at(mask, np.clip(spans[:, 1] + margin, 0, n_samples), -1)
    return np.cumsum(mask[:-1]) > 0


def _touched(mask: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Per [start, stop): any True of `mask` inside (bounds clipped to the signal)."""
    count = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    n = len(mask)
    return count[np.clip(stop, 0, n)] - count[np.clip(start, 0, n)] > 0


def clear_windows(mask: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Per window of `width` samples from each of `starts`: no masked sample in it."""
    starts = np.asarray(starts, np.int64)
    return ~_touched(mask, starts, starts + width)


def intervals_across(mask: np.ndarray, r_peak: np.ndarray) -> np.ndarray:
    """Per interval between consecutive R peaks (len(r_peak) - 1): a masked sample lies between them, so
    the interval is not known (a beat inside a dropout is never seen)."""
    r_peak = np.asarray(r_peak, np.int64)
    return _touched(mask, r_peak[:-1], r_peak[1:] + 1)


def first_clear(mask: np.ndarray, width: int) -> int | None:
    """The first sample from which `width` samples hold no masked one; None where no such stretch is."""
    width = min(width, len(mask))
    starts = np.arange(len(mask) - width + 1)
    clear = np.flatnonzero(clear_windows(mask, starts, width))
    return int(clear[0]) if len(clear) else None


def resampled_mask(spans: np.ndarray, n_samples: int, *, fs: float, target_fs: float) -> np.ndarray:
    """`dropout_mask` of `spans` (k, 2), samples at `fs`, for a signal resampled to `target_fs` (`n_samples`
    long): each span scaled outwards and widened by resampling's reach (`resample_spread_s`), so that no
    sample computed partly from a dropout's stand-in values is left out of it."""
    scale = target_fs / fs
    spans = np.asarray(spans, np.float64).reshape(-1, 2)
    scaled = np.stack([np.floor(spans[:, 0] * scale), np.ceil(spans[:, 1] * scale)], axis=1).astype(np.int64)
    margin = int(np.ceil(resample_spread_s(fs, target_fs) * target_fs))
    return dropout_mask(scaled, n_samples, margin=margin)


def lead_masks(
    spans: Mapping[str, np.ndarray], n_samples: int, *, fs: float, target_fs: float
) -> dict[str, np.ndarray]:
    """Per lead with dropouts (`spans` (k, 2) at `fs`), where they reach in the signal resampled to
    `target_fs` (`resampled_mask`); leads without one are left out."""
    return {lead: resampled_mask(own, n_samples, fs=fs, target_fs=target_fs) for lead, own in spans.items() if len(own)}


def blind_mask(masks: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """Where every one of the given leads is in a dropout (each lead's mask, None for a lead never out), so
    no beat could be seen there: an interval across it is not known. None where there is no such stretch."""
    known = [mask for mask in masks if mask is not None]
    if not masks or len(known) < len(masks):
        return None
    every = np.logical_and.reduce(known)
    return every if every.any() else None


def lead_off_runs(
    signal: np.ndarray, fs: float, min_s: float, invalid: np.ndarray | None = None
) -> list[list[tuple[int, int]]]:
    """Per lead of `signal` (leads, samples at `fs`), the runs [start, stop) of at least `min_s` seconds of one
    value repeated while another lead records (its value changes more than once a second in the run): an
    electrode off that the recorder writes as a constant (MIMIC's ICU records hold 0 or -100 for tens of
    seconds) rather than as invalid samples. No heart and no amplifier hold a lead exactly still for seconds
    while another lead records; where every lead is still at once (a recorder's gap, or a pause read at a
    coarse resolution) nothing is marked, so a real pause is never taken for a dropout. `invalid`: samples
    that stand in for invalid ones (`bridge_dropouts`), neither held nor recording: a stand-in held at the
    first valid value, at a read's edge, does not stretch a held run into the signal."""
    out: list[list[tuple[int, int]]] = [[] for _ in range(len(signal))]
    min_samples = int(round(min_s * fs))
    if len(signal) < 2 or signal.shape[1] < min_samples:
        return out
    same = np.zeros(signal.shape, bool)
    same[:, 1:] = signal[:, 1:] == signal[:, :-1]  # the sample repeats the one before it
    valid = np.ones(signal.shape, bool)
    if invalid is not None:
        valid[:, 1:] = ~invalid[:, 1:] & ~invalid[:, :-1]
    held, changed = same & valid, ~same & valid
    for lead in range(len(signal)):
        repeats, stops = run_bounds(held[lead])
        starts = repeats - 1  # a run's first value is the sample before its first repeat
        long = stops - starts >= min_samples  # filtered first: a quantised lead repeats a value millions of times
        for start, stop in zip(starts[long].tolist(), stops[long].tolist()):
            changes = np.delete(changed[:, start + 1 : stop], lead, axis=0).sum(axis=1)
            if (changes > (stop - start) / fs).any():  # another lead records through the run, not at its edges
                out[lead].append((start, stop))
    return out


def intervals_across_runs(spans: np.ndarray, r_peak: np.ndarray) -> np.ndarray:
    """`intervals_across` with the masked samples given as runs `spans` (k, 2) [start, stop), in any order
    and overlapping: a record too long to hold its mask whole (a patch's weeks) gives its runs section by
    section."""
    r_peak = np.asarray(r_peak, np.int64)
    spans = np.asarray(spans, np.int64).reshape(-1, 2)
    spans = spans[spans[:, 1] > spans[:, 0]]
    if not len(spans) or len(r_peak) < 2:
        return np.zeros(max(len(r_peak) - 1, 0), bool)
    spans = spans[np.argsort(spans[:, 0], kind="stable")]
    stops = np.maximum.accumulate(spans[:, 1])  # the furthest any run so far reaches: sorted, for the search
    # the first run (in start order) that reaches past an interval's first beat; it touches the interval where
    # it starts no later than the next beat (the interval's bounds are [r_peak[i], r_peak[i + 1]], inclusive)
    first = np.searchsorted(stops, r_peak[:-1], side="right")
    inside = first < len(spans)
    out = np.zeros(len(r_peak) - 1, bool)
    out[inside] = spans[first[inside], 0] <= r_peak[1:][inside]
    return out
