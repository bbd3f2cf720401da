"""The three feature families: typed parameters, the array part (run on the backend, CuPy or NumPy)
and the host part (RR, HRV: per-record Python)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..backend import Array
from ..transforms.preprocess import PreprocessParams
from ..transforms.resample import resample
from ..transforms.rhythm import (
    BEAT_RR_NAMES,
    RECORD_HRV_NAMES,
    beat_rr_features,
    detect_r_peaks,
    hrv,
    peak_energy,
    rr_context,
    rr_context_names,
)
from ..transforms.spectral import band_powers, log10, welch_grid, welch_psd
from ..transforms.spectrogram import log_spectrogram, stft_grid
from ..transforms.template import read_against, record_templates, template_names, template_picks, template_quantiles
from ..transforms.time import MOMENT_NAMES, centre_energy, lead_moments4
from .compute import scaled_crop

if TYPE_CHECKING:  # polars-free at run time: the GPU checks run where polars is not installed
    from .inputs import RecordBeats, TaskInput


@dataclass(frozen=True)
class TimeParams:
    preprocess: PreprocessParams = field(default_factory=PreprocessParams)
    qrs_half_s: float = 0.05  # s either side of the R peak counted as QRS energy
    # beats: the record's median beat from beats whose preceding RR is at least this quantile of the
    # record's (0: every beat); see transforms/template.py
    template_rr_quantile: float = 0.0
    # beats: with > 0, the beat also against the median of the beats whose preceding RR is at least this
    # quantile of the record's, beside the template above (0: not computed; 0.75 cost the DS1 CV headline
    # 0.03 and found no more S in runs: README, S-runs instrument)
    sinus_template_quantile: float = 0.0
    # beats: each template's features also over the window before the QRS (the P wave); see
    # transforms/template.py (off: with a 0.45 s window they found fewer S beats in runs than the wider
    # window alone, 0.44 against 0.51; benchmarks/ABLATIONS.md, "The P wave")
    pre_qrs_template: bool = False
    # beats: seconds of the time view's window before the R peak (None: ingest's beat window,
    # IngestConfig.beat_before_s); its end stays where ingest put it, and the stored context window
    # (IngestConfig.context_s) holds up to half of itself before the R peak. The other views keep
    # ingest's window. Where the PR interval is long the sinus P wave starts 0.3-0.4 s before the R peak;
    # 0.6 s for MIT-BIH beats cost the comparison's DS1 CV 0.728 -> 0.685, not kept
    # (benchmarks/ABLATIONS.md, "The P wave")
    beat_before_s: float | None = None
    # beats: with k > 0, a column `rr_context` of the 2 k + 2 intervals around the beat against their
    # own median (transforms/rhythm.py rr_context): the rhythm a beat sits in (a run, a pause, an
    # irregular rhythm) beyond its own two intervals and the record's references
    rr_context_beats: int = 0
    # beats: with a rate (Hz), a second waveform `strip`: the whole stored context window (ingest's
    # `context_s`, R peak at its centre) resampled to it, so a model sees the neighbouring beats, their
    # shapes and their P waves beside the beat's own, at a rate that keeps it small (None: not computed;
    # 90 Hz cost the time variant's DS1 CV 0.05 and 0.03 with two seeds, most of it S +P: README, "Where
    # along the beat, and the beats around it")
    strip_fs: float | None = None

    @property
    def template_quantiles(self) -> tuple[float, ...]:
        """The preceding-interval quantile of each of a beat's record templates (`template_quantiles`)."""
        return template_quantiles(self.template_rr_quantile, self.sinus_template_quantile)

    def __post_init__(self) -> None:
        if self.strip_fs is not None and self.strip_fs <= 0:
            raise ValueError(f"TimeParams.strip_fs={self.strip_fs}; fix: a positive rate in Hz, or None")

    def beat_window(self, crop: tuple[int, int] | None, context: int, fs: float) -> tuple[int, int] | None:
        """The time view's (start, stop) in a context window of `context` samples at `fs` whose centre
        is the R peak, given ingest's beat window `crop` at the same rate (None: not beats)."""
        if crop is None or self.beat_before_s is None:
            return crop
        start = context // 2 - int(round(self.beat_before_s * fs))
        if not 0 <= start < crop[1]:
            raise ValueError(
                f"TimeParams.beat_before_s={self.beat_before_s} puts the time view's window outside the "
                f"stored context ({context} samples at {fs:g} Hz, R peak at its centre); fix: keep it "
                f"between {-(crop[1] - context // 2) / fs:g} s and {(context // 2) / fs:g} s, or ingest "
                "with a longer IngestConfig.context_s"
            )
        return start, crop[1]


@dataclass(frozen=True)
class SpectralParams:
    preprocess: PreprocessParams = field(default_factory=PreprocessParams)
    nperseg_s: float = 0.5  # s per Welch segment: 2 Hz resolution
    fmax_hz: float = 50.0  # highest frequency kept on the grid
    bands_hz: tuple[tuple[float, float], ...] = ((0.5, 4.0), (4.0, 8.0), (8.0, 15.0), (15.0, 25.0), (25.0, 40.0))

    def nperseg(self, fs: float) -> int:
        """Welch segment length in samples at `fs`."""
        return int(round(self.nperseg_s * fs))


@dataclass(frozen=True)
class SpectrogramParams:
    preprocess: PreprocessParams = field(default_factory=PreprocessParams)
    window_s: float = 0.25  # s per STFT window (Hann)
    hop_s: float = 0.0625  # s between frames
    fmax_hz: float = 50.0  # highest frequency kept on the grid

    def stft_sizes(self, fs: float) -> dict:
        """Window and hop in samples at `fs` (the hop at least one sample)."""
        return {"nperseg": int(round(self.window_s * fs)), "hop": max(1, int(round(self.hop_s * fs)))}


FamilyParams = TimeParams | SpectralParams | SpectrogramParams  # the params of one of the families


class Family(Protocol):
    """What computing a view asks of a feature family. `params` is always an instance of the family's own
    `params_cls`: a view's family and its params are paired by the family's name, which the types cannot
    follow, so the protocol takes any; each family's methods say which params they read."""

    @property
    def name(self) -> str: ...

    @property
    def code_versions(self) -> Mapping[str, str]:
        """The version of the family's code per row unit (`TaskSpec.unit`: beat or record), part of each
        view's version: a change to what one unit's views compute recomputes only those."""
        ...

    def arrays(
        self, x: Array, xp: ModuleType, *, fs: float, params: Any, crop: tuple[int, int] | None
    ) -> dict[str, Array]: ...

    @property
    def reads_record_beats(self) -> bool:
        """Its beat rows are read against their record's beats (`host_columns`' `picks`)."""
        ...

    def host_columns(
        self, inp: TaskInput, params: Any, out: dict[str, np.ndarray], *, fs: float, picks: dict | None = None
    ) -> dict[str, np.ndarray]:
        """The per-record columns; `picks`: `arrays` of `inp.record.pick_signal` where the rows are one section
        of a record (`TaskInput.record`) and the family `reads_record_beats`."""
        ...

    def describe(self, inp: TaskInput, params: Any, *, fs: float) -> dict: ...


class TimeFamily:
    name, params_cls = "time", TimeParams
    # beats: 2 `template`; 3 the slow RR reference; 4 the 90th-percentile RR reference; 5 a beat a dropout
    # spoils takes only its own pick out of its record's median beat (the same views where none is spoiled).
    # records: 5 R peaks detected at 300 Hz or more, the rhythm's irregularity (`hrv`), and windows of
    # annotated records resampled with the record around them (`inputs._crop`)
    code_versions = {"beat": "5", "record": "5"}
    reads_record_beats = True

    def arrays(
        self, x: Array, xp: ModuleType, *, fs: float, params: TimeParams, crop: tuple[int, int] | None
    ) -> dict[str, Array]:
        crop = params.beat_window(crop, x.shape[-1], fs)
        waveform = x if crop is None else x[..., crop[0] : crop[1]]
        out = {"waveform": waveform, "moments": lead_moments4(waveform, xp)}
        if crop is not None:  # beats: the R peak sits at the centre of the context window
            out["qrs_energy"] = centre_energy(x, xp, centre=x.shape[-1] // 2, half=int(round(params.qrs_half_s * fs)))
            if params.strip_fs is not None:
                out["strip"] = resample(x, fs=fs, target_fs=params.strip_fs, xp=xp)[0]
        return out

    def host_columns(
        self, inp: TaskInput, params: TimeParams, out: dict, *, fs: float, picks: dict | None = None
    ) -> dict:
        if inp.beats is not None:
            if inp.crop is None:  # rows shaped like a view computed from no beats (it stores no beat window)
                raise ValueError(
                    f"{inp.task}: beat rows without a beat window; fix: score against a view materialized from "
                    "ingested beats"
                )
            if inp.record is not None:  # one section of a long record: read against the whole record's beats
                assert picks is not None  # compute_features makes them for a family that reads_record_beats
                centre, half = template_geometry(inp.signal.shape[-1], inp.crop, fs_in=inp.fs, fs=fs, params=params)
                return section_columns(
                    out["waveform"], inp.record, picks["waveform"], centre=centre, half=half, params=params
                )
            b = inp.beats
            return beat_columns(
                out["waveform"],
                *(b[c].to_numpy() for c in ("record_id", "r_peak", "rr_prev_s", "rr_next_s")),
                context=inp.signal.shape[-1],
                crop=inp.crop,
                fs_in=inp.fs,
                fs=fs,
                params=params,
                clear=inp.scored,
            )
        half = int(round(params.qrs_half_s * fs))
        lead = inp.lead_names.index("II") if "II" in inp.lead_names else 0
        rhythm = np.zeros((len(inp.signal), len(RECORD_HRV_NAMES)), np.float32)
        energy = np.zeros(inp.signal.shape[:2], np.float32)
        for i, x in enumerate(inp.signal):
            peaks = detect_r_peaks(x[lead], inp.fs)
            rhythm[i] = hrv(peaks, inp.fs)
            energy[i] = peak_energy(out["waveform"][i], np.round(peaks * fs / inp.fs).astype(int), half)
        return {"rhythm": rhythm, "qrs_energy": energy}

    def describe(self, inp: TaskInput, params: TimeParams, *, fs: float) -> dict:
        rhythm = BEAT_RR_NAMES if inp.beats is not None else RECORD_HRV_NAMES
        names = template_names(params.sinus_template_quantile, params.pre_qrs_template)
        beats: dict[str, list[str] | str] = {"template": ["leads", *names]} if inp.beats is not None else {}
        if inp.beats is not None and params.rr_context_beats:
            beats["rr_context"] = list(rr_context_names(params.rr_context_beats))
        if inp.beats is not None and params.strip_fs is not None:
            beats["strip"] = f"leads x samples: the context window at {params.strip_fs:g} Hz (standardised)"
        return {
            "waveform": "leads x samples (standardised)",
            "moments": list(MOMENT_NAMES),
            "qrs_energy": "leads",
            "rhythm": list(rhythm),
            **beats,
            "fs": fs,
        }


def beat_columns(
    waveform: np.ndarray,
    record_id: np.ndarray,
    r_peak: np.ndarray,
    rr_prev_s: np.ndarray,
    rr_next_s: np.ndarray,
    *,
    context: int,
    crop: tuple[int, int],
    fs_in: float,
    fs: float,
    params: TimeParams,
    clear: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The time family's per-record columns of beat rows: RR intervals against the record's rhythm and
    the beat against the record's median beat. `waveform` is the beat window at `fs` (after
    preprocessing), cut by `crop` (samples at `fs_in`) from a context window of `context` samples whose
    centre is the R peak; `clear` as `reference_columns` reads it."""
    centre, half = template_geometry(context, crop, fs_in=fs_in, fs=fs, params=params)
    return reference_columns(
        waveform, record_id, r_peak, rr_prev_s, rr_next_s, centre=centre, half=half, params=params, clear=clear
    )


def template_geometry(context: int, crop: tuple[int, int], *, fs_in: float, fs: float, params: TimeParams) -> tuple:
    """(R peak, QRS half-width) in samples of the beat window at `fs`: where the template's QRS is."""
    samples = int(round(context * fs / fs_in))  # the context window after preprocessing
    window = params.beat_window(scaled_crop(crop, fs=fs_in, out_fs=fs), samples, fs)
    assert window is not None  # a beat window `crop` stays one when scaled and moved
    start = window[0]
    return samples // 2 - start, 2 * int(round(params.qrs_half_s * fs))


@dataclass(frozen=True)
class BeatReferences:
    """How a time view of beats reads each beat against its record (`feature_store.views.store.beat_references`
    makes one from the view's catalog entry): its parameters and where the beat window's QRS is."""

    params: TimeParams
    centre: int  # the R peak, in samples of the beat window
    half: int  # the template's QRS half-width, samples

    def columns(
        self,
        waveform: np.ndarray,
        record_id: np.ndarray,
        r_peak: np.ndarray,
        rr_prev_s: np.ndarray,
        rr_next_s: np.ndarray,
        reference_rows: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """`reference_columns` with this view's geometry."""
        return reference_columns(
            waveform,
            record_id,
            r_peak,
            rr_prev_s,
            rr_next_s,
            centre=self.centre,
            half=self.half,
            params=self.params,
            reference_rows=reference_rows,
        )


def reference_columns(
    waveform: np.ndarray,
    record_id: np.ndarray,
    r_peak: np.ndarray,
    rr_prev_s: np.ndarray,
    rr_next_s: np.ndarray,
    *,
    centre: int,
    half: int,
    params: TimeParams,
    reference_rows: np.ndarray | None = None,
    clear: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """`rhythm` and `template` of the beats, each read against its record's references (RR mean, median
    and 90th percentile, median beat), and `rr_context` where the params ask for it. `reference_rows`:
    beats that count again in their record's references (repeats allowed), as copies placed after the
    record's last beat; every beat keeps its own intervals and neighbours, and only the beats themselves
    are returned. That is how a training copy of a record reads when premature beats are most of it
    (DS2's 232), label-free here: the caller names the rows. `clear`: False for a beat whose window holds a
    dropout's stand-in line (`TaskInput.scored`), left out of its record's median beat."""
    n = len(r_peak)
    if reference_rows is not None and len(reference_rows):
        reference_rows = np.asarray(reference_rows, dtype=np.int64)
        last = {r: int(r_peak[record_id == r].max()) for r in np.unique(record_id[reference_rows])}
        # each copy lands after its record's last beat, in the order the rows were named
        after = np.array([last[r] for r in record_id[reference_rows].tolist()], dtype=np.int64)
        shift = after + 1 + np.arange(len(reference_rows))
        waveform = np.concatenate([waveform, waveform[reference_rows]])
        record_id = np.concatenate([record_id, record_id[reference_rows]])
        r_peak = np.concatenate([np.asarray(r_peak, dtype=np.int64), shift])
        rr_prev_s = np.concatenate([rr_prev_s, rr_prev_s[reference_rows]])
        rr_next_s = np.concatenate([rr_next_s, rr_next_s[reference_rows]])
        clear = None if clear is None else np.concatenate([clear, clear[reference_rows]])
    template = record_templates(
        waveform,
        record_id,
        r_peak,
        centre=centre,
        half=half,
        rr_prev=rr_prev_s,
        rr_quantile=params.template_rr_quantile,
        sinus_quantile=params.sinus_template_quantile,
        pre_qrs=params.pre_qrs_template,
        clear=clear,
    )
    out = {"rhythm": beat_rr_features(record_id, r_peak, rr_prev_s, rr_next_s)[:n], "template": template[:n]}
    if params.rr_context_beats:  # the beats' own neighbours only: reference copies are no one's neighbours
        rows = (record_id[:n], r_peak[:n], rr_prev_s[:n], rr_next_s[:n])
        out["rr_context"] = rr_context(*rows, beats=params.rr_context_beats)
    return out


def section_columns(
    waveform: np.ndarray,
    record: RecordBeats,
    pick_waveform: np.ndarray,
    *,
    centre: int,
    half: int,
    params: TimeParams,
) -> dict[str, np.ndarray]:
    """`reference_columns` of one section's beats (`waveform`, the beats `record.rows(len(waveform))` of a
    record too long to read whole), read against the whole record: its intervals and, as the median beat,
    the median of its picks (`pick_waveform`: the beats `record.pick_rows`, preprocessed as the rows are).
    The same numbers as the whole record's rows would get."""
    n, total = len(waveform), len(record.r_peak)
    rows, record_id = record.rows(n), np.zeros(total, np.int8)  # one record: every beat's id is the same
    rr = (record.rr_prev_s, record.rr_next_s)
    picks = template_picks(np.arange(total), record.rr_prev_s, record.clear, params.template_quantiles)
    templates = [
        np.median(pick_waveform[np.searchsorted(record.pick_rows, p)].astype(np.float64), axis=0) for p in picks
    ]
    names = template_names(params.sinus_template_quantile, params.pre_qrs_template)
    template = np.zeros((*waveform.shape[:2], len(names)), np.float32)
    read_against(
        waveform, np.arange(n), templates, centre=centre, half=half, pre_qrs=params.pre_qrs_template, out=template
    )
    out = {"rhythm": beat_rr_features(record_id, record.r_peak, *rr)[rows], "template": template}
    if params.rr_context_beats:  # the section's beats and as many either side, the record's mean for an unknown one
        k = params.rr_context_beats + 1
        lo, hi = max(rows.start - k, 0), min(rows.stop + k, total)
        prev = record.rr_prev_s.astype(np.float64)
        mean = float(np.nanmean(prev)) if np.isfinite(prev).any() else 1.0  # as `rhythm._records` takes it
        near = [np.where(np.isfinite(a[lo:hi]), a[lo:hi].astype(np.float64), mean) for a in rr]
        context = rr_context(record_id[lo:hi], record.r_peak[lo:hi], *near, beats=params.rr_context_beats)
        out["rr_context"] = context[rows.start - lo : rows.start - lo + n]
    return out


class SpectralFamily:
    name, params_cls = "spectral", SpectralParams
    code_versions = {"beat": "1", "record": "2"}  # records 2: windows resampled with the record around them
    reads_record_beats = False

    def arrays(
        self, x: Array, xp: ModuleType, *, fs: float, params: SpectralParams, crop: tuple[int, int] | None
    ) -> dict[str, Array]:
        nperseg = params.nperseg(fs)
        psd = welch_psd(x, xp, fs=fs, nperseg=nperseg, fmax_hz=params.fmax_hz)
        bands = band_powers(psd, xp, freqs=welch_grid(nperseg, fs, params.fmax_hz), bands=params.bands_hz)
        return {"psd": log10(psd, xp), "band_power": log10(bands, xp)}

    def host_columns(
        self, inp: TaskInput, params: SpectralParams, out: dict, *, fs: float, picks: dict | None = None
    ) -> dict:
        return {}

    def describe(self, inp: TaskInput, params: SpectralParams, *, fs: float) -> dict:
        freqs = welch_grid(params.nperseg(fs), fs, params.fmax_hz)
        return {
            "psd": "leads x freq, log10 mV^2/Hz",
            "freqs_hz": freqs.tolist(),
            "band_power": [f"{lo:g}-{hi:g} Hz" for lo, hi in params.bands_hz],
        }


class SpectrogramFamily:
    name, params_cls = "spectrogram", SpectrogramParams
    code_versions = {"beat": "1", "record": "2"}  # records 2: windows resampled with the record around them
    reads_record_beats = False

    def arrays(
        self, x: Array, xp: ModuleType, *, fs: float, params: SpectrogramParams, crop: tuple[int, int] | None
    ) -> dict[str, Array]:
        return {"spectrogram": log_spectrogram(x, xp, fs=fs, fmax_hz=params.fmax_hz, **params.stft_sizes(fs))}

    def host_columns(
        self, inp: TaskInput, params: SpectrogramParams, out: dict, *, fs: float, picks: dict | None = None
    ) -> dict:
        return {}

    def describe(self, inp: TaskInput, params: SpectrogramParams, *, fs: float) -> dict:
        n = int(round(inp.signal.shape[-1] * fs / inp.fs)) if inp.fs else 0
        freqs, times = stft_grid(n, fs=fs, fmax_hz=params.fmax_hz, **params.stft_sizes(fs))
        return {
            "spectrogram": "leads x freq x frames, ln mV",
            "freqs_hz": freqs.tolist(),
            "frame_times_s": times.tolist(),
        }


FAMILIES = {f.name: f for f in (TimeFamily(), SpectralFamily(), SpectrogramFamily())}
FAMILY_PARAMS = {name: f.params_cls() for name, f in FAMILIES.items()}  # defaults; a task may override
