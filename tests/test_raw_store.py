"""The raw store: explicit schema, readable with polars, idempotent and incremental."""

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from feature_store.ingest import ingest_kind
from feature_store.raw_store import BEAT_SCHEMA, RECORD_SCHEMA, signal_column, signals_of
from feature_store.sources.registry import discover
from feature_store.sources.wfdb_record import read_wfdb
from tests.records import CINC, copy_record


def _mtimes(root):
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_signal_column_round_trips():
    signals = np.random.default_rng(0).standard_normal((3, 2, 7)).astype(np.float32)
    import pyarrow as pa

    table = pa.table({"signal": signal_column(signals)})
    assert np.array_equal(signals_of(table), signals)


def test_records_keep_the_arrow_schema_and_physical_units(tmp_path, cfg, store):
    copy_record(CINC / "HR06000", tmp_path / "src")
    ingest_kind("challenge", discover([tmp_path / "src"], cfg)["challenge"], store, cfg)
    (file,) = (store.root / "raw" / "records" / "challenge").glob("*.parquet")
    table = pq.read_table(file)
    assert table.schema.equals(RECORD_SCHEMA, check_metadata=False)
    assert table.schema.metadata[b"ecgnet.table"] == b"records"
    signal = signals_of(table)[0]  # (leads, samples) at 100 Hz
    original = read_wfdb(CINC / "HR06000", cfg).signal
    assert signal.shape == (12, 1000)
    # resampled, so compare amplitude scale rather than samples: mV stays mV
    assert np.allclose(signal.std(axis=1), original.std(axis=1), rtol=0.2)


def test_rematerializing_unchanged_inputs_rewrites_nothing(tmp_path, cfg, store):
    src = tmp_path / "src"
    for name in ("HR06000", "HR06001"):
        copy_record(CINC / name, src)
    first = ingest_kind("challenge", discover([src], cfg)["challenge"], store, cfg)
    before = _mtimes(store.root / "raw" / "records")
    again = ingest_kind("challenge", discover([src], cfg)["challenge"], store, cfg)
    assert (len(first.landed), again.landed, again.unchanged) == (2, [], 2)
    assert _mtimes(store.root / "raw" / "records") == before
    assert again.snapshot == first.snapshot


def test_new_records_are_ingested_incrementally(tmp_path, cfg, store):
    src = tmp_path / "src"
    copy_record(CINC / "HR06000", src)
    first = ingest_kind("challenge", discover([src], cfg)["challenge"], store, cfg)
    copy_record(CINC / "HR06001", src)
    second = ingest_kind("challenge", discover([src], cfg)["challenge"], store, cfg)
    assert (second.landed, second.unchanged) == (["HR06001"], 1)
    assert second.snapshot != first.snapshot
    assert second.record_ids == ("HR06000", "HR06001")


def test_changed_ingest_parameters_reingest(tmp_path, store):
    from feature_store.config import IngestConfig

    copy_record(CINC / "HR06000", tmp_path / "src")
    refs = discover([tmp_path / "src"], IngestConfig())["challenge"]
    ingest_kind("challenge", refs, store, IngestConfig())
    report = ingest_kind("challenge", refs, store, IngestConfig(record_fs=250.0))
    assert report.landed == ["HR06000"]
    assert store.scan_records().select("n_samples").collect().item() == 2500


def test_no_temp_files_are_left_behind(tmp_path, cfg, store):
    copy_record(CINC / "HR06000", tmp_path / "src")
    ingest_kind("challenge", discover([tmp_path / "src"], cfg)["challenge"], store, cfg)
    assert not [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]


def test_empty_store_scans_with_the_schema(store):
    assert store.scan_beats().collect().columns == BEAT_SCHEMA.names
    assert store.scan_records().select(pl.len()).collect().item() == 0
