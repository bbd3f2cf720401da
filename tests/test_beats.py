"""Beat-annotated records: every annotated beat is in the beat table or counted at an edge."""

from collections import Counter

import numpy as np
import polars as pl
import pytest
import wfdb

from feature_store.accounting import beat_accounting
from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.raw_store import signals_of
from feature_store.sources.annotated import beat_windows
from feature_store.sources.registry import discover
from tests.records import MITDB, annotation_beats, copy_record


@pytest.fixture(scope="module")
def mitdb_store(tmp_path_factory):
    from feature_store.raw_store import RawStore

    store = RawStore(tmp_path_factory.mktemp("mitdb") / "store")
    cfg = IngestConfig()
    report = ingest_kind("annotated", discover([MITDB], cfg)["annotated"], store, cfg)
    return store, report


def test_beat_counts_agree_with_the_annotation_files(mitdb_store):
    store, report = mitdb_store
    assert sorted(report.landed) == ["100", "208", "209", "220", "223", "232"]
    for record in report.landed:
        expected = Counter(annotation_beats(MITDB / record))
        in_table = Counter(
            store.scan_beats().filter(pl.col("record_id") == record).select("label").collect()["label"].to_list()
        )
        edge = Counter(
            store.scan_records()
            .filter(pl.col("record_id") == record)
            .select("edge_beat_labels")
            .collect()
            .item()
            .to_list()
        )
        assert in_table + edge == expected, record
    assert beat_accounting(store)["ok"].all()


def test_beat_table_reads_with_polars_and_holds_both_splits(mitdb_store):
    store, _ = mitdb_store
    beats = pl.scan_parquet(str(store.root / "raw" / "beats" / "**" / "*.parquet"))
    splits = beats.group_by("split").agg(pl.len()).collect()
    assert set(splits["split"]) == {"DS1", "DS2"}
    counts = beats.group_by("label").agg(pl.len()).collect()
    assert set(counts["label"]) <= set("NSVFQ") and {"N", "S", "V", "F"} <= set(counts["label"])


def test_beat_windows_are_centred_on_the_r_peak(mitdb_store):
    store, _ = mitdb_store
    cfg = IngestConfig()
    beats = store.scan_beats().filter(pl.col("record_id") == "100").head(5).collect()
    record = wfdb.rdrecord(str(MITDB / "100"))
    windows = signals_of(beats.to_arrow())
    assert windows.shape == (5, 2, cfg.context_samples)
    for window, r_peak in zip(windows, beats["r_peak"]):
        start = r_peak - cfg.context_samples // 2
        assert np.allclose(window, record.p_signal[start : start + cfg.context_samples].T, atol=1e-5)
    assert (beats["beat_start"][0], beats["beat_stop"][0]) == cfg.beat_span() == (270, 522)
    assert beats["rr_prev_s"].null_count() <= 1


def test_rr_intervals_match_the_annotations(mitdb_store):
    store, _ = mitdb_store
    beats = store.scan_beats().filter(pl.col("record_id") == "208").sort("r_peak").collect()
    r = beats["r_peak"].to_numpy()
    inner = np.diff(r) / 360.0
    assert np.allclose(beats["rr_next_s"].to_numpy()[:-1], inner, atol=1e-4)
    assert np.allclose(beats["rr_prev_s"].to_numpy()[1:], inner, atol=1e-4)


def test_paced_records_are_excluded_by_policy(tmp_path, cfg, store):
    copy_record(MITDB / "100", tmp_path, "107")
    report = ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    assert report.landed == [] and report.quarantined[0].code == "excluded_paced"


def test_beats_near_the_edges_are_counted_not_lost(cfg):
    signal = np.zeros((2, 1000), dtype=np.float32)
    r_peak = np.array([10, 500, 990])
    windows, fits = beat_windows(signal, r_peak, 720)
    assert fits.tolist() == [False, True, False] and windows.shape == (1, 2, 720)


def test_beats_follow_a_different_target_rate(tmp_path, store):
    cfg = IngestConfig(beat_fs=250.0)
    copy_record(MITDB / "232", tmp_path)
    report = ingest_kind("annotated", discover([tmp_path], cfg)["annotated"], store, cfg)
    assert report.landed == ["232"]
    beats = store.scan_beats().select("fs", "r_peak", "signal").collect()
    assert beats["fs"][0] == 250.0 and len(beats["signal"][0][0]) == 500
    ann = wfdb.rdann(str(MITDB / "232"), "atr")
    rescaled = {round(s * 250 / 360) for s, sym in zip(ann.sample, ann.symbol) if sym in "NARj"}
    assert set(beats["r_peak"].to_list()) <= rescaled


@pytest.mark.parametrize("resolution", ["frames", "high"])
def test_a_multi_frequency_records_annotations_count_frames_unless_they_state_their_resolution(tmp_path, resolution):
    """MIT-BIH 100 written with 2 samples a frame (frames at 180 Hz, its ECG at 360 Hz), its .atr as WFDB
    writes one for such a record: in frames (by default), or at 360 Hz with the time resolution stated
    (high-resolution mode). Ingest and `predict` put each beat where the annotation says, at the ECG's
    rate: the clean record's beats. Before, a file in frames was read as samples at 360 Hz, every beat at
    half its time."""
    from feature_store.sources.annotated import AnnotatedBeatSource
    from feature_store.sources.base import RecordRef
    from feature_store.views.catalog import ViewInput
    from feature_store.views.online import record_input

    clean = wfdb.rdrecord(str(MITDB / "100"))
    e = [clean.p_signal[:, i].copy() for i in range(2)]
    common = {"units": ["mV", "mV"], "sig_name": clean.sig_name, "fmt": ["16", "16"], "baseline": [0, 0]}
    wfdb.wrsamp(
        "mf", fs=180, e_p_signal=e, samps_per_frame=[2, 2], adc_gain=[200.0, 200.0], write_dir=str(tmp_path), **common
    )
    ann = wfdb.rdann(str(MITDB / "100"), "atr")
    sample = ann.sample // 2 if resolution == "frames" else ann.sample
    written = wfdb.Annotation("mf", "atr", sample=sample, symbol=ann.symbol, fs=None if resolution == "frames" else 360)
    written.wrann(write_fs=resolution == "high", write_dir=str(tmp_path))
    expected = sample * 2 if resolution == "frames" else sample  # at 360 Hz
    landed = AnnotatedBeatSource().load(RecordRef("annotated", tmp_path / "mf", tmp_path), IngestConfig())
    whole = AnnotatedBeatSource().load(RecordRef("annotated", MITDB / "100", MITDB), IngestConfig())
    assert landed.beats is not None and whole.beats is not None and landed.record.fs == 360.0
    beat = np.isin(ann.symbol, list(whole.beats.symbol))
    assert set(landed.beats.r_peak.tolist()) <= set(expected[beat].tolist())
    assert len(landed.beats.r_peak) == len(whole.beats.r_peak)
    signal = np.stack(e).astype(np.float32)
    cut, _ = beat_windows(signal, landed.beats.r_peak, IngestConfig().context_samples)
    np.testing.assert_allclose(landed.beats.windows, cut, atol=3e-3)  # 16-bit at 200/mV against 212's rounding
    spec = ViewInput(fs=360.0, samples=720, crop=(216, 468), lead_names=("MLII", "V1"), unit="beat")
    read = record_input(tmp_path / "mf", spec, task="beats")
    assert read.beats is not None and set(read.beats["sample"].to_list()) <= set(expected[beat].tolist())
