"""R-peak detection against annotated beats, where the pipeline detects them.

Two settings, in one run, over every beat-annotated record of the bundled sample (MIT-BIH and CPSC 2021,
whose `.atr` marks every R peak) and, where it is there, the full MIT-BIH database:
- the record views (`records`, `af`): each record's af lead resampled to `IngestConfig.record_fs` (100 Hz)
  as ingest resamples it and cut into the 30 s windows the af task reads;
- `predict --task beats` on a record without annotations: its beats lead at the beat views' rate
  (`IngestConfig.beat_fs`, 360 Hz), whole, with the sensitivity per AAMI class (a beat the detector misses
  is never classified).
Detectors: `detect_r_peaks` (XQRS on a copy upsampled to 300 Hz or more: the record views' since
2026-12-05, and `predict`'s until `detect_beats` took its place) and `detect_beats` (GQRS); for the record
views also their baseline, wfdb's XQRS run at the rate directly (the detector before 2026-12-05). The
record views keep XQRS although GQRS misses fewer annotated beats there: the af task reads its rhythm
statistics better (README, "R peaks").
A detection counts within 150 ms of an annotated beat (ANSI/AAMI EC57's window), one to one
(`wfdb.processing.compare_annotations`).

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
from feature_store.sources.annotated import AAMI, read_annotations, read_beats
from feature_store.sources.leads import pick_leads
from feature_store.sources.wfdb_record import read_wfdb
from feature_store.tasks import AF, BEATS, TaskSpec
from feature_store.transforms.resample import resample, rescale_samples
from feature_store.transforms.rhythm import detect_beats, detect_r_peaks
from feature_store.workspace import PROJECT_ROOT

SAMPLE = [PROJECT_ROOT / "data" / "sample" / "mitdb", PROJECT_ROOT / "data" / "sample" / "cpsc2021"]
MATCH_S = 0.15  # EC57's matching window


def xqrs_at_rate(lead: np.ndarray, fs: float) -> np.ndarray:
    """The baseline: XQRS at the lead's own rate, whatever it is."""
    if np.ptp(lead) == 0:
        return np.array([], dtype=np.int64)
    return np.asarray(processing.xqrs_detect(lead.astype(np.float64), fs=fs, verbose=False), dtype=np.int64)


CLASSES = BEATS.classes  # AAMI's


@dataclass
class Score:
    beats: int = 0
    found: int = 0
    extra: int = 0
    seconds: float = 0.0
    offsets_ms: list[float] = field(default_factory=list)
    beats_by_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    found_by_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))

    def add(
        self, reference: np.ndarray, detected: np.ndarray, fs: float, seconds: float, classes: np.ndarray | None = None
    ) -> None:
        """`classes`: each reference beat's AAMI class, for the sensitivity per class."""
        self.beats += len(reference)
        self.seconds += seconds
        found = np.zeros(len(reference), dtype=bool)
        if len(detected) and len(reference):
            c = processing.compare_annotations(reference, detected, window_width=int(round(MATCH_S * fs)))
            found = c.matching_sample_nums >= 0
            self.extra += int(c.fp)
            self.offsets_ms += ((detected[c.matching_sample_nums[found]] - reference[found]) * 1000 / fs).tolist()
        else:
            self.extra += len(detected)
        self.found += int(found.sum())
        for k in CLASSES if classes is not None else ():
            of_class = np.asarray(classes == k, dtype=bool)
            self.beats_by_class[k] += int(of_class.sum())
            self.found_by_class[k] += int((found & of_class).sum())

    def by_class(self) -> str:
        return " ".join(
            f"{k} {self.found_by_class[k] / self.beats_by_class[k]:.4f}" for k in CLASSES if self.beats_by_class[k]
        )

    def line(self, name: str, baseline: Score | None) -> str:
        errors = self.beats - self.found + self.extra
        ratio = "" if baseline is None else f"{errors / max(baseline.beats - baseline.found + baseline.extra, 1):9.2f}"
        offsets = np.asarray(self.offsets_ms or [np.nan])
        return (
            f"{name:34s} {self.found / max(self.beats, 1):7.4f} {self.found / max(self.found + self.extra, 1):7.4f} "
            f"{errors:7d} {ratio:>9s} {np.median(offsets):+8.1f} {np.percentile(np.abs(offsets), 90):8.1f} "
            f"{self.seconds:7.1f}"
        )


Detector = Callable[[np.ndarray, float], np.ndarray]
# each setting's first detector is its baseline
VIEWS: dict[str, Detector] = {
    "XQRS at the rate (baseline)": xqrs_at_rate,
    "detect_r_peaks (XQRS)": detect_r_peaks,
    "detect_beats (GQRS)": detect_beats,
}
PREDICT: dict[str, Detector] = {"detect_r_peaks (XQRS, baseline)": detect_r_peaks, "detect_beats (GQRS)": detect_beats}


def score(
    folders: list[Path],
    fs: float,
    minutes: float,
    window_s: float,
    *,
    task: TaskSpec = AF,
    detectors: dict[str, Detector] = VIEWS,
) -> dict[str, dict[str, Score]]:
    """Per folder, each detector's score over the first `minutes` of every beat-annotated record (the
    lead `task` reads where the record has one, else its first), resampled to `fs`, detected in windows of
    `window_s` laid end to end as the record views detect them (0: the whole stretch at once, as `predict`
    does)."""
    cfg, out = IngestConfig(), dict[str, dict[str, Score]]()
    for folder in folders:
        label = str(folder.relative_to(PROJECT_ROOT)) if folder.is_relative_to(PROJECT_ROOT) else str(folder)
        scores = out.setdefault(label, {name: Score() for name in detectors})
        for header in sorted(folder.glob("*.hea")):
            path = header.with_suffix("")
            if not path.with_suffix(".atr").is_file():
                continue
            sig = read_wfdb(path, cfg)
            lead = (pick_leads(task.window.leads, sig.lead_names) or [0])[0]
            n = min(int(minutes * 60 * sig.fs), sig.signal.shape[-1])
            x, _ = resample(sig.signal[lead, :n], fs=sig.fs, target_fs=fs)
            samples, symbols = read_beats(read_annotations(path), sig.fs)
            inside_n = samples < n
            reference = rescale_samples(samples[inside_n], fs=sig.fs, target_fs=fs)
            classes = np.array([AAMI[s] for s in np.asarray(symbols, dtype=object)[inside_n]], dtype=object)
            width = int(round(window_s * fs)) if window_s > 0 else len(x)
            for a in range(0, len(x) - width + 1, width):
                inside = (reference >= a) & (reference < a + width)
                for name, detect in detectors.items():
                    start = time.perf_counter()
                    peaks = detect(x[a : a + width], fs)
                    scores[name].add(reference[inside] - a, peaks, fs, time.perf_counter() - start, classes[inside])
    return out


def report(title: str, results: dict[str, dict[str, Score]], *, per_class: bool) -> None:
    print(f"\n{title}")
    print(
        f"{'folder / detector':34s} {'Se':>7s} {'+P':>7s} {'errors':>7s} {'x base':>9s} "
        f"{'off ms':>8s} {'|off| p90':>8s} {'seconds':>7s}" + ("  Se per AAMI class" if per_class else "")
    )
    for folder, scores in results.items():
        base = next(iter(scores.values()))  # the baseline
        print(f"{folder} ({base.beats} beats)")
        for name, s in scores.items():
            print(s.line("  " + name, None if s is base else base) + (f"  {s.by_class()}" if per_class else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="folders of beat-annotated records (default below)")
    parser.add_argument("--fs", type=float, default=IngestConfig().record_fs, help="the record views' rate, Hz")
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes read from each record's start")
    parser.add_argument("--window-s", type=float, default=30.0, help="seconds a record view's detection sees")
    args = parser.parse_args()
    folders = args.folders or SAMPLE + ([MITDB] if MITDB.is_dir() else [])
    minutes, within = f"first {args.minutes:g} min of each record", f"within {MATCH_S * 1000:.0f} ms; CPU"
    views = score(folders, args.fs, args.minutes, args.window_s)
    report(
        f"R peaks of the record views: the af lead at {args.fs:g} Hz in {args.window_s:g} s windows "
        f"({minutes}; {within})",
        views,
        per_class=False,
    )
    predict = score(folders, IngestConfig().beat_fs, args.minutes, 0, task=BEATS, detectors=PREDICT)
    report(
        f"R peaks of `predict --task beats` on a record without annotations: the beats lead at the beat views' "
        f"{IngestConfig().beat_fs:g} Hz, whole ({minutes}; {within})",
        predict,
        per_class=True,
    )


if __name__ == "__main__":
    main()
