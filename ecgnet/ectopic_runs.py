"""ANSI/AAMI EC57's run-by-run comparison of ectopic beats, as WFDB's rxr makes it for ventricular ectopic
runs: what a Holter reader is asked after "was each beat right" — were the couplets and runs of PVCs found,
and were the ones called real.

A run is a stretch of consecutive beats of the run's classes (V, and fusion F, for a ventricular run),
ended by any other beat or by a stretch not scored; its length is counted up to six (`LONG`: six or more
is a long run). Each reference run is looked for in the prediction within its own span widened by the
150 ms match window, where the longest run of the prediction's beats gives the length found; each
predicted run is looked for in the reference the same way. Then, as rxr reports them:

- couplets (2 beats): Se, the reference couplets where a run of 2 or more was found; +P, the predicted
  couplets where the reference has a run of 2 or more;
- short runs (3 to 5): Se, the reference's found as runs of 3 or more; +P, the predicted ones (3 to 5)
  where the reference has 3 or more;
- long runs (6 or more): found as long runs, both ways.

Isolated ectopic beats (runs of one) are the beat-by-beat comparison's. As there, EC57's five-minute
learning period is not taken out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LONG = 6  # rxr counts a run's length up to six: six or more is a long run
COUPLET, SHORT = (2,), (3, 4, 5)


def runs_of(in_run: np.ndarray, follows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of consecutive rows with `in_run`, a row that does not `follows` the one before (a
    stretch not scored between, a pause) starting a new one: each run's first and last row index (the one
    definition of a run: ectopic runs, a rhythm's episodes, `predict.episodes`)."""
    joined = np.zeros(len(in_run), dtype=bool)  # beat i continues the run of beat i - 1
    joined[1:] = in_run[1:] & in_run[:-1] & follows[1:]
    first = np.flatnonzero(in_run & ~joined)
    last = np.flatnonzero(in_run & ~np.append(joined[1:], False))
    return first, last


def longest_run(in_run: np.ndarray, follows: np.ndarray) -> int:
    """The longest run among these beats (up to `LONG`)."""
    first, last = runs_of(in_run, follows)
    return min(int((last - first).max()) + 1, LONG) if len(first) else 0


def _lengths_found(
    samples: np.ndarray,
    in_run: np.ndarray,
    follows: np.ndarray,
    other_samples: np.ndarray,
    other_in_run: np.ndarray,
    other_follows: np.ndarray,
    window: int,
) -> np.ndarray:
    """(LONG + 1) square: each run of these beats counted at [its length, the longest run of the other
    beats within its span widened by `window` samples]."""
    counts = np.zeros((LONG + 1, LONG + 1), dtype=np.int64)
    first, last = runs_of(in_run, follows)
    lo = np.searchsorted(other_samples, samples[first] - window, side="left")
    hi = np.searchsorted(other_samples, samples[last] + window, side="right")
    for a, b, x, y in zip(first.tolist(), last.tolist(), lo.tolist(), hi.tolist()):
        # a run of the other beats that began before the span counts from the span's first beat
        counts[min(b - a + 1, LONG), longest_run(other_in_run[x:y], other_follows[x:y])] += 1
    return counts


@dataclass(frozen=True)
class RunAgreement:
    """One kind of ectopic run in a record, or several records summed; both matrices indexed [the
    reference's length, the prediction's] as rxr's are."""

    kind: str  # the run's name ("V": ventricular ectopic runs)
    sensitivity: np.ndarray  # each reference run at [its length, the longest predicted run in its span]
    predictivity: np.ndarray  # each predicted run at [the longest reference run in its span, its length]

    def to_json(self) -> dict:
        return {"kind": self.kind, "sensitivity": self.sensitivity.tolist(), "predictivity": self.predictivity.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> RunAgreement:
        as_counts = {k: np.asarray(d[k], dtype=np.int64) for k in ("sensitivity", "predictivity")}
        return cls(d["kind"], as_counts["sensitivity"], as_counts["predictivity"])

    def __add__(self, other: RunAgreement) -> RunAgreement:
        return RunAgreement(self.kind, self.sensitivity + other.sensitivity, self.predictivity + other.predictivity)

    def counts(self) -> dict[str, tuple[int, int, int, int]]:
        """Per run size (couplet, short, long): reference runs found, reference runs, predicted runs true,
        predicted runs."""
        se, pp = self.sensitivity, self.predictivity
        out = {}
        for size, lengths, enough in (("couplet", COUPLET, 2), ("short", SHORT, 3), ("long", (LONG,), LONG)):
            rows = list(lengths)
            # rxr's tallies: a reference run is found where a predicted run at least as long as its size's
            # shortest lies in its span, and a predicted one is true where such a reference run does
            found = int(se[rows, enough:].sum())
            true = int(pp[enough:, rows].sum())
            out[size] = (found, int(se[rows].sum()), true, int(pp[:, rows].sum()))
        return out

    def figures(self) -> dict[str, float]:
        def ratio(a: int, b: int) -> float:
            return a / b if b else float("nan")

        out = {}
        for size, (found, reference, true, called) in self.counts().items():
            out[f"{size}_se"], out[f"{size}_pp"] = ratio(found, reference), ratio(true, called)
        return out

    def line(self) -> str:
        """The comparison in one clause: each run size the reference or the prediction holds."""
        parts = [
            f"{size} {_ratio(found, reference)} found, {_ratio(true, called)} called true"
            for size, (found, reference, true, called) in self.counts().items()
            if reference or called
        ]
        name = f"{self.kind} runs"
        return f"{name}: {'; '.join(parts)}" if parts else f"{name}: none in the reference, none called"


def _ratio(a: int, b: int) -> str:
    return f"{a} of {b} ({a / b:.3f})" if b else f"{a} of {b}"


def compare_runs(
    kind: str,
    ref_samples: np.ndarray,
    ref_in_run: np.ndarray,
    ref_follows: np.ndarray,
    samples: np.ndarray,
    in_run: np.ndarray,
    follows: np.ndarray,
    window: int,
) -> RunAgreement:
    """Reference beats (samples, whether each is of the run's classes, whether each follows the one
    before it) against predicted ones, both in time order; `window`: the match window in samples."""
    return RunAgreement(
        kind,
        _lengths_found(ref_samples, ref_in_run, ref_follows, samples, in_run, follows, window),
        _lengths_found(samples, in_run, follows, ref_samples, ref_in_run, ref_follows, window).T,
    )
