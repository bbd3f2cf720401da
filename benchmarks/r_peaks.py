"""R-peak detection at the record tasks' rate, scored against annotated beats.

The record views (`records`, `af`) read heart rate and rhythm irregularity from R peaks detected in
signals stored at `IngestConfig.record_fs` (100 Hz). Reference: every beat-annotated record of the bundled
sample (MIT-BIH and CPSC 2021, whose `.atr` marks every R peak) and, where it is there, the full MIT-BIH
database, each lead resampled to the rate under test as ingest resamples it and cut into the 30 s windows
the af task reads. Baseline: wfdb's XQRS run at
that rate directly (the detector before 2026-12-05). A detection counts within 150 ms of an annotated beat
(ANSI/AAMI EC57's window), one to one (`wfdb.processing.compare_annotations`).

    python -m benchmarks.r_peaks [--fs 100] [--minutes 10] [--window-s 30] [FOLDER ...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from wfdb import processing

from benchmarks.common import MITDB
from feature_store.config import IngestConfig
from feature_store.sources.annotated import read_annotations, read_beats
from feature_store.sources.leads import pick_leads
from feature_store.sources.wfdb_record import read_wfdb
from feature_store.tasks import AF
from feature_store.transforms.resample import resample, rescale_samples
from feature_store.transforms.rhythm import detect_r_peaks
from feature_store.workspace import PROJECT_ROOT

SAMPLE = [PROJECT_ROOT / "data" / "sample" / "mitdb", PROJECT_ROOT / "data" / "sample" / "cpsc2021"]
MATCH_S = 0.15  # EC57's matching window


def xqrs_at_rate(lead: np.ndarray, fs: float) -> np.ndarray:
    """The baseline: XQRS at the lead's own rate, whatever it is."""
    if np.ptp(lead) == 0:
        return np.array([], dtype=np.int64)
    return np.asarray(processing.xqrs_detect(lead.astype(np.float64), fs=fs, verbose=False), dtype=np.int64)


@dataclass
class Score:
    beats: int = 0
    found: int = 0
    extra: int = 0
    seconds: float = 0.0
    offsets_ms: list[float] = field(default_factory=list)

    def add(self, reference: np.ndarray, detected: np.ndarray, fs: float, seconds: float) -> None:
        self.beats += len(reference)
        self.seconds += seconds
        if not len(detected):
            return
        c = processing.compare_annotations(reference, detected, window_width=int(round(MATCH_S * fs)))
        matched = c.matching_sample_nums >= 0
        self.found += int(c.tp)
        self.extra += int(c.fp)
        self.offsets_ms += ((detected[c.matching_sample_nums[matched]] - reference[matched]) * 1000 / fs).tolist()

    def line(self, name: str, baseline: Score | None) -> str:
        errors = self.beats - self.found + self.extra
        ratio = "" if baseline is None else f"{errors / max(baseline.beats - baseline.found + baseline.extra, 1):9.2f}"
        offsets = np.asarray(self.offsets_ms or [np.nan])
        return (
            f"{name:34s} {self.found / max(self.beats, 1):7.4f} {self.found / max(self.found + self.extra, 1):7.4f} "
            f"{errors:7d} {ratio:>9s} {np.median(offsets):+8.1f} {np.percentile(np.abs(offsets), 90):8.1f} "
            f"{self.seconds:7.1f}"
        )


def score(folders: list[Path], fs: float, minutes: float, window_s: float) -> dict[str, dict[str, Score]]:
    """Per folder, each detector's score over the first `minutes` of every beat-annotated record (the
    lead the af task reads where the record has one, else its first), detected in windows of `window_s`
    laid end to end as the record views detect them (0: the whole stretch at once)."""
    detectors: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
        "XQRS at the rate (baseline)": xqrs_at_rate,
        "detect_r_peaks": detect_r_peaks,
    }
    cfg, out = IngestConfig(), dict[str, dict[str, Score]]()
    for folder in folders:
        label = str(folder.relative_to(PROJECT_ROOT)) if folder.is_relative_to(PROJECT_ROOT) else str(folder)
        scores = out.setdefault(label, {name: Score() for name in detectors})
        for header in sorted(folder.glob("*.hea")):
            path = header.with_suffix("")
            if not path.with_suffix(".atr").is_file():
                continue
            sig = read_wfdb(path, cfg)
            lead = (pick_leads(AF.window.leads, sig.lead_names) or [0])[0]
            n = min(int(minutes * 60 * sig.fs), sig.signal.shape[-1])
            x, _ = resample(sig.signal[lead, :n], fs=sig.fs, target_fs=fs)
            samples = read_beats(read_annotations(path))[0]
            reference = rescale_samples(samples[samples < n], fs=sig.fs, target_fs=fs)
            width = int(round(window_s * fs)) if window_s > 0 else len(x)
            for a in range(0, len(x) - width + 1, width):
                inside = reference[(reference >= a) & (reference < a + width)] - a
                for name, detect in detectors.items():
                    start = time.perf_counter()
                    peaks = detect(x[a : a + width], fs)
                    scores[name].add(inside, peaks, fs, time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="folders of beat-annotated records (default below)")
    parser.add_argument("--fs", type=float, default=IngestConfig().record_fs, help="rate under test, Hz")
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes read from each record's start")
    parser.add_argument("--window-s", type=float, default=30.0, help="seconds a detection sees (0: all of them)")
    args = parser.parse_args()
    folders = args.folders or SAMPLE + ([MITDB] if MITDB.is_dir() else [])
    print(
        f"\nR peaks at {args.fs:g} Hz against annotated beats (first {args.minutes:g} min of each record, "
        f"{f'in {args.window_s:g} s windows' if args.window_s else 'whole'}; within {MATCH_S * 1000:.0f} ms), CPU"
    )
    print(
        f"{'folder / detector':34s} {'Se':>7s} {'+P':>7s} {'errors':>7s} {'x base':>9s} "
        f"{'off ms':>8s} {'|off| p90':>8s} {'seconds':>7s}"
    )
    for folder, scores in score(folders, args.fs, args.minutes, args.window_s).items():
        base = scores["XQRS at the rate (baseline)"]
        print(f"{folder} ({base.beats} beats)")
        for name, s in scores.items():
            print(s.line("  " + name, None if s is base else base))


if __name__ == "__main__":
    main()
