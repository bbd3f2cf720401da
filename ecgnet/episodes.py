"""ANSI/AAMI EC57's episode-by-episode comparison of one rhythm, as WFDB's epicmp makes it for atrial
fibrillation: what a Holter reader is asked after "was each window right" — were the AF episodes found,
were the ones called real, and how much of the AF time.

- Episode sensitivity: the reference episodes that any called episode overlaps (by more than nothing),
  of all reference episodes.
- Episode positive predictivity: the called episodes that overlap any reference episode, of all called
  episodes; for AF, stretches the reference marks as atrial flutter are taken out of the called episodes
  first (calling flutter AF is no false alarm), as epicmp does.
- Duration sensitivity and positive predictivity: the time both call the rhythm, of the reference's time
  in it and of the time called.

An episode runs from a change to the rhythm to the next change to another; a stretch left out of the
comparison (one the prediction did not classify, or where the reference states no rhythm) shortens the
episodes over it, and one wholly inside it is not counted, as epicmp treats its exclusions. epicmp's
five-minute learning period is not taken out: the models learn nothing from the record they read.

Spans are int64 arrays of shape (n, 2), [start, stop) in samples, sorted and disjoint."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ectopic_runs import runs_of


def spans_of(pairs: list[tuple[int, int]] | np.ndarray) -> np.ndarray:
    """(start, stop) pairs as spans: empty ones dropped, the rest sorted, overlapping or touching ones joined."""
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    arr = arr[arr[:, 1] > arr[:, 0]]
    if not len(arr):
        return arr
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    reach = np.maximum.accumulate(arr[:, 1])
    first = np.concatenate([[True], arr[1:, 0] > reach[:-1]])  # starts a new span: past all before it
    group = np.cumsum(first) - 1
    stops = np.zeros(int(group[-1]) + 1, dtype=np.int64)
    np.maximum.at(stops, group, arr[:, 1])
    return np.stack([arr[first, 0], stops], axis=1)


def intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The stretches in both `a` and `b`."""
    if not len(a) or not len(b):
        return np.zeros((0, 2), dtype=np.int64)
    # every pair that can overlap: b's spans from the first that ends after a's start to the last that
    # starts before a's stop
    lo = np.searchsorted(b[:, 1], a[:, 0], side="right")
    hi = np.searchsorted(b[:, 0], a[:, 1], side="left")
    ia = np.repeat(np.arange(len(a)), np.maximum(hi - lo, 0))
    ib = np.concatenate([np.arange(x, y) for x, y in zip(lo.tolist(), hi.tolist())] or [np.zeros(0, np.int64)])
    out = np.stack([np.maximum(a[ia, 0], b[ib, 0]), np.minimum(a[ia, 1], b[ib, 1])], axis=1).astype(np.int64)
    return out[out[:, 1] > out[:, 0]]


def subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The stretches of `a` outside `b`."""
    if not len(a) or not len(b):
        return a
    lo, hi = min(int(a[0, 0]), int(b[0, 0])), max(int(a[-1, 1]), int(b[-1, 1]))
    gaps = np.stack([np.concatenate([[lo], b[:, 1]]), np.concatenate([b[:, 0], [hi]])], axis=1)
    return intersect(a, gaps[gaps[:, 1] > gaps[:, 0]])


def length(a: np.ndarray) -> int:
    return int((a[:, 1] - a[:, 0]).sum()) if len(a) else 0


@dataclass(frozen=True)
class EpisodeAgreement:
    """One rhythm's episodes in a record, or several records summed (epicmp's gross statistics)."""

    rhythm: str
    reference: int  # reference episodes compared
    found: int  # of them, overlapped by a called one (EC57's TPs)
    called: int  # called episodes compared
    true: int  # of them, overlapping a reference one (EC57's TPp)
    overlap_s: float  # time both call the rhythm
    reference_s: float
    called_s: float

    def __add__(self, other: EpisodeAgreement) -> EpisodeAgreement:
        return EpisodeAgreement(
            self.rhythm,
            self.reference + other.reference,
            self.found + other.found,
            self.called + other.called,
            self.true + other.true,
            self.overlap_s + other.overlap_s,
            self.reference_s + other.reference_s,
            self.called_s + other.called_s,
        )

    def figures(self) -> dict[str, float]:
        """Episode and duration Se and +P (NaN where nothing was there to find, or nothing called)."""

        def ratio(a: float, b: float) -> float:
            return a / b if b > 0 else float("nan")

        return {
            "episode_se": ratio(self.found, self.reference),
            "episode_pp": ratio(self.true, self.called),
            "duration_se": ratio(self.overlap_s, self.reference_s),
            "duration_pp": ratio(self.overlap_s, self.called_s),
        }

    def line(self) -> str:
        """The comparison in one clause, as epicmp's report gives it (counts, then the four figures)."""
        f = self.figures()
        if not self.reference and not self.called:
            return f"{self.rhythm} episodes: none in the reference, none called"
        return (
            f"{self.rhythm} episodes: {self.found} of {self.reference} found (Se {_fig(f['episode_se'])}), "
            f"{self.true} of {self.called} called true (+P {_fig(f['episode_pp'])}); "
            f"duration Se {_fig(f['duration_se'])}, +P {_fig(f['duration_pp'])} "
            f"({_clock(self.reference_s)} in the reference, {_clock(self.called_s)} called)"
        )


def _fig(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.3f}"


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def compare_episodes(
    reference: np.ndarray,
    called: np.ndarray,
    compared: np.ndarray,
    fs: float,
    rhythm: str,
    excluded: np.ndarray | None = None,
) -> EpisodeAgreement:
    """Reference episodes of `rhythm` against called ones (both spans of episodes, as annotated: an
    episode is not split where the comparison leaves stretches out) over the `compared` spans; `excluded`:
    reference stretches taken out of the called episodes only (AF: the reference's atrial flutter)."""
    ref_hit, ref_n, ref_len, overlap = _each(reference, called, compared)
    called_compared = compared if excluded is None else subtract(compared, excluded)
    hit, n, called_len, _ = _each(called, reference, called_compared)
    return EpisodeAgreement(rhythm, ref_n, ref_hit, n, hit, overlap / fs, ref_len / fs, called_len / fs)


def _each(episodes: np.ndarray, other: np.ndarray, compared: np.ndarray) -> tuple[int, int, int, int]:
    """Of `episodes` (each cut to `compared`; one left with nothing is not counted): how many overlap
    `other`, how many there are, their time, and the time they share with `other`."""
    hit = n = total = shared = 0
    for start, stop in episodes.tolist():
        part = intersect(np.array([[start, stop]], dtype=np.int64), compared)
        if not len(part):
            continue
        common = length(intersect(part, other))
        n, total, shared, hit = n + 1, total + length(part), shared + common, hit + (common > 0)
    return hit, n, total, shared


def window_episodes(
    starts: np.ndarray, called: np.ndarray, length: int, cls: int, unclassified: tuple[int, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """A rhythm task's windows (first samples `starts`, `length` samples, class `called`) as its annotation
    file gives them: the episodes of class `cls` (runs of it among the windows classified, a window of an
    `unclassified` class (noise) or a stretch not scored between them holding the rhythm, as the file's
    rhythm holds across them), and the stretches classified. A window reaches to the next one's start."""
    starts = np.asarray(starts, dtype=np.int64)
    stops = np.minimum(starts + length, np.append(starts[1:], np.iinfo(np.int64).max))
    keep = ~np.isin(called, unclassified)
    first, stop, cls_of = starts[keep], stops[keep], np.asarray(called)[keep]
    begins, ends = runs_of(cls_of == cls, np.ones(len(cls_of), dtype=bool))  # nothing between ends a run
    episodes = np.stack([first[begins], stop[ends]], axis=1).astype(np.int64)
    return episodes, spans_of(np.stack([first, stop], axis=1))
