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
