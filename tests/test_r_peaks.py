"""R peaks detected where the pipeline detects them, against the beats that CPSC 2021 and MIT-BIH
annotate: the record views' at the record tasks' rate (100 Hz), `predict --task beats`' at the record's own
rate; and the rhythm statistics read from them."""

import numpy as np
import pytest
from wfdb import processing

from benchmarks.r_peaks import PREDICT, score
from feature_store.config import IngestConfig
from feature_store.sources.annotated import read_annotations, read_beats
from feature_store.sources.wfdb_record import read_wfdb
from feature_store.tasks import BEATS
from feature_store.transforms.resample import resample, rescale_samples
from feature_store.transforms.rhythm import RECORD_HRV_NAMES, detect_beats, detect_r_peaks, hrv
from tests.records import CPSC2021, MITDB, copy_record

FS = 100.0
OFFSET_RECORD = CPSC2021 / "data_8_2"  # its leads sit 5 mV off zero


def _stretch(start_s: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """`OFFSET_RECORD`'s second lead from `start_s`, resampled alone to `FS` as a record view's window is,
    and the annotated beats inside it (samples at `FS`)."""
    sig = read_wfdb(OFFSET_RECORD, IngestConfig())
    start, n = int(start_s * sig.fs), int(seconds * sig.fs)
    lead, _ = resample(sig.signal[1, start : start + n], fs=sig.fs, target_fs=FS)
    annotated = read_beats(read_annotations(OFFSET_RECORD))[0]
    inside = annotated[(annotated >= start) & (annotated < start + n)] - start
    return lead, rescale_samples(inside, fs=sig.fs, target_fs=FS)


def test_r_peaks_at_100_hz_are_the_annotated_beats(tmp_path):
    """Every bundled CPSC 2021 record (AF and sinus rhythm; its .atr marks every R peak) and MIT-BIH 232
    (long pauses), in 30 s windows as the af task reads them: XQRS run at 100 Hz directly found 92 % of
    CPSC's beats at +P 0.79, 30 ms early."""
    for record in sorted(CPSC2021.glob("*.hea")):
        copy_record(record.with_suffix(""), tmp_path / "beats")
    copy_record(MITDB / "232", tmp_path / "beats")
    found = score([tmp_path / "beats"], FS, minutes=3, window_s=30)
    detected = next(iter(found.values()))["detect_r_peaks (XQRS)"]
    assert detected.beats > 1000
    assert detected.found / detected.beats >= 0.99 and detected.found / (detected.found + detected.extra) >= 0.99
    assert abs(np.median(detected.offsets_ms)) <= 10  # at the R peak, not before it


def test_ventricular_beats_are_found_where_predict_detects_them(tmp_path):
    """MIT-BIH 208 (frequent wide ventricular beats; the bundled extract) at its own 360 Hz, whole, as
    `predict --task beats` detects a record without annotations: a beat missed is never classified. XQRS
    (`detect_r_peaks`) found 64 of its 168 V beats, GQRS (`detect_beats`) 166."""
    copy_record(MITDB / "208", tmp_path / "beats")
    beat_fs = IngestConfig().beat_fs  # as `predict` reads it
    found = next(iter(score([tmp_path / "beats"], beat_fs, 5, 0, task=BEATS, detectors=PREDICT).values()))
    detected = found["detect_beats (GQRS)"]
    assert detected.beats_by_class["V"] > 150
    assert detected.found_by_class["V"] / detected.beats_by_class["V"] >= 0.98
    assert detected.found / detected.beats >= 0.99 and detected.found / (detected.found + detected.extra) >= 0.99


@pytest.mark.parametrize("detect", [detect_r_peaks, detect_beats])
def test_detection_reads_no_scale_or_offset_of_its_own(detect):
    """A lead in other units, or lifted by an offset (CPSC 2021's sit 5 mV off zero), gives the same peaks.
    GQRS's thresholds are in microvolts: `detect_beats` scales the lead to a typical beat first."""
    lead, _ = _stretch(0, 30)
    peaks = detect(lead, FS)
    assert len(peaks) > 25
    for other in (lead * 1000, lead / 5, lead * 1e-9, lead + 7.0):
        assert np.array_equal(detect(other, FS), peaks)


@pytest.mark.parametrize("detect", [detect_r_peaks, detect_beats])
def test_a_window_that_starts_on_a_step_still_finds_its_beats(detect):
    """A 30 s window of a lead 5 mV off zero, resampled alone, begins with a 2 mV transient: XQRS learnt
    its thresholds from it and found 1 of the window's 35 annotated beats."""
    window, inside = _stretch(120, 30)
    assert window[0] < np.median(window) - 1.0  # the transient is there
    match = processing.compare_annotations(inside, detect(window, FS), window_width=15)
    assert match.tp >= len(inside) - 1 and match.fp <= 1


@pytest.mark.parametrize("spike", [1e6, 1e12])
def test_an_artifact_of_any_size_leaves_the_beats_found(spike):
    """One sample a million millivolts off (a corrupt sample; ingest lets only finite ones in) left GQRS's
    integer threshold at zero, and it divided by it: a crash that would have stopped the whole view."""
    lead, _ = _stretch(0, 30)
    peaks = detect_beats(lead, FS)
    spiked = lead.copy()
    spiked[1500] += spike
    found = processing.compare_annotations(peaks, detect_beats(spiked, FS), window_width=2)
    assert found.tp == len(peaks) and found.fp <= 1


def test_a_short_record_padded_with_zeros_finds_its_beats():
    """A record shorter than its task's 30 s row is zero-padded (CinC 2017's run from 9 s): the lead's
    typical amplitude is read from its signal, not from the padding, which made GQRS divide by zero."""
    short, inside = _stretch(120, 9)
    padded = np.concatenate([short, np.zeros(3000 - len(short))])
    match = processing.compare_annotations(inside, detect_beats(padded, FS), window_width=15)
    assert len(inside) >= 8 and match.tp >= len(inside) - 1 and match.fp == 0


@pytest.mark.parametrize("detect", [detect_r_peaks, detect_beats])
@pytest.mark.parametrize("lead", [np.zeros(3000), np.ones(3000), np.zeros(0)])
def test_a_flat_or_empty_lead_has_no_beats(lead, detect):
    assert detect(lead, FS).size == 0
    assert hrv(detect(lead, FS), FS).tolist() == [0.0] * len(RECORD_HRV_NAMES)


def test_irregularity_has_no_scale_of_its_own():
    names = list(RECORD_HRV_NAMES)
    steady = hrv(np.arange(0, 3000, 80), FS)  # 75 bpm, every interval equal
    assert steady[names.index("hr_bpm")] == pytest.approx(75.0)
    np.testing.assert_allclose(steady[names.index("rr_cv") : names.index("turning_points") + 1], 0, atol=1e-6)
    assert steady[names.index("rr_spread")] == 1.0
    rng = np.random.default_rng(0)
    irregular = np.cumsum(rng.uniform(40, 120, 40)).astype(int)  # intervals of 0.4-1.2 s at random
    fast, slow = hrv(irregular, FS), hrv(irregular * 2, FS)  # the same rhythm at half the rate
    scale_free = slice(names.index("rr_cv"), len(names))
    np.testing.assert_allclose(fast[scale_free], slow[scale_free], rtol=2e-2)
    assert fast[names.index("irregular_share")] > 0.6 and 0.5 < fast[names.index("turning_points")] < 0.85


def test_af_windows_read_irregular_and_sinus_windows_regular(tmp_path):
    """The bundled CPSC 2021 records' 30 s windows of AF against those of sinus rhythm (annotated), from
    the R peaks detected at 100 Hz: every AF window is more irregular than every sinus one."""
    from feature_store.ingest import ingest_kind
    from feature_store.raw_store import RawSnapshot, RawStore
    from feature_store.sources.registry import discover
    from feature_store.tasks import AF
    from feature_store.views.inputs import load_input

    cfg, store = IngestConfig(), RawStore(tmp_path / "store")
    report = ingest_kind("annotated", discover([CPSC2021], cfg)["annotated"], store, cfg)
    inp = load_input(AF, [RawSnapshot("annotated", str(store.root), report.snapshot, report.record_ids)])
    rhythm = np.stack([hrv(detect_r_peaks(x[0], inp.fs), inp.fs) for x in inp.signal])
    label = np.array(inp.keys["labels"].list.first().to_list())
    share = rhythm[:, list(RECORD_HRV_NAMES).index("irregular_share")]
    assert (label == "AF").sum() >= 5 and (label == "N").sum() >= 5
    assert share[label == "AF"].min() > share[label == "N"].max()
