"""Shards: ingest and features a bucket of records at a time, one set of train statistics over all of
them, and the union training reads equal to the view computed whole."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from feature_store.backend import numpy_backend
from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.raw_store import RawStore
from feature_store.shards import Shard, all_shards, bucket, shard_count, shard_keys
from feature_store.sources.registry import discover
from feature_store.tasks import BEATS
from feature_store.views.storage import tensor_of
from feature_store.views.store import FeatureStore, StaleStats
from tests.records import MITDB, copy_record

CPU, COUNT = numpy_backend(), 3


def _ingest_shards(src, store: RawStore, cfg: IngestConfig) -> dict:
    refs = discover([src], cfg)["annotated"]
    return {s.key: ingest_kind("annotated", refs, store, cfg, shard=s) for s in all_shards(COUNT)}


def _shards(store: RawStore) -> dict:
    return store.shard_snapshots(("annotated",), COUNT)


def _rows(features: FeatureStore, entry) -> pl.DataFrame:
    return features.scan(entry.name, entry.version).sort("entity_id").collect()


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("209", "220", "232"):
        copy_record(MITDB / name, src)
    store, cfg = RawStore(tmp_path_factory.mktemp("home") / "store"), IngestConfig()
    reports = _ingest_shards(src, store, cfg)
    features = FeatureStore(store.root)
    features.fit_train_stats(BEATS, _shards(store), backend=CPU)
    made = {key: features.materialize(BEATS, "time", snaps, backend=CPU) for key, snaps in _shards(store).items()}
    return {"src": src, "store": store, "cfg": cfg, "reports": reports, "features": features, "made": made}


def test_shard_keys_and_buckets_are_stable():
    assert shard_keys(4) == ["00", "01", "02", "03"] and shard_keys(120)[-1] == "119"
    assert Shard.parse("02", 4) == Shard(2, 4) and Shard(2, 4).holds("232") == (bucket("232", 4) == 2)
    assert bucket("232", 4) == 1 and bucket("209", 4) == 2  # fixed across runs and machines: blake2b, not hash()
    with pytest.raises(ValueError, match="not a shard among 4"):
        Shard.parse("07", 4)
    with pytest.raises(ValueError, match="ECGNET_SHARDS='0'; fix"):
        shard_count("0")


def test_each_record_lands_in_exactly_one_shard(sharded):
    reports = sharded["reports"]
    landed = [r for report in reports.values() for r in report.landed]
    assert sorted(landed) == ["209", "220", "232"]
    for key, report in reports.items():
        assert all(Shard.parse(key, COUNT).holds(r) for r in report.landed) and report.shard == key
    manifests = sorted(p.name for p in sharded["store"].manifest_file("annotated", Shard(0, COUNT)).parent.iterdir())
    assert [m for m in manifests if m.endswith(".json")] == [f"{k}.json" for k in shard_keys(COUNT)]


def test_union_of_shards_equals_the_view_computed_whole(sharded, tmp_path):
    features, store = sharded["features"], sharded["store"]
    union = features.union(BEATS, "time", _shards(store))
    assert union.rows == sum(m.entry.rows for m in sharded["made"].values())
    assert set(union.parts) == {"00", "02"}  # shard 01 holds no record: its empty part is not read
    assert set(union.lineage.snapshots) == {f"annotated@{k}" for k in shard_keys(COUNT)}  # but is in the lineage
    assert features.entry("beats_time") == union  # the newest whole view is the union, never a shard part
    # the same records ingested whole, one record per chunk (streamed), in a store of their own
    whole_store = RawStore(tmp_path / "store")
    report = ingest_kind(
        "annotated", discover([sharded["src"]], sharded["cfg"])["annotated"], whole_store, sharded["cfg"]
    )
    whole = FeatureStore(whole_store.root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECGNET_CHUNK_MB", "0.001")  # every record a chunk of its own
        entry = whole.materialize(BEATS, "time", [whole_store.snapshot("annotated")], backend=CPU).entry
    assert report.record_ids == ("209", "220", "232") and entry.rows == union.rows
    assert len(list(Path(entry.path).glob("*.parquet"))) == 3  # streamed: a part per record
    np.testing.assert_allclose(entry.stats["mean"], union.stats["mean"], rtol=1e-9)
    a, b = _rows(whole, entry), _rows(features, union)
    assert a["entity_id"].to_list() == b["entity_id"].to_list() and a["split"].to_list() == b["split"].to_list()
    for column, shape in union.columns.items():
        np.testing.assert_allclose(
            tensor_of(a[column].to_arrow(), shape), tensor_of(b[column].to_arrow(), shape), atol=1e-5
        )


def test_a_new_test_record_touches_only_its_shard(sharded, tmp_path):
    features, store, cfg = sharded["features"], sharded["store"], sharded["cfg"]
    src = tmp_path / "src"
    for name in ("209", "220", "232", "100"):  # 100 is DS2: the train statistics do not change
        copy_record(MITDB / name, src)
    before = _shards(store)
    reports = _ingest_shards(src, store, cfg)
    home = next(k for k in shard_keys(COUNT) if Shard.parse(k, COUNT).holds("100"))
    assert {k: r.landed for k, r in reports.items() if r.landed} == {home: ["100"]}  # one shard read anything
    after = _shards(store)
    assert {k for k in after if after[k] != before[k]} == {home}
    with pytest.raises(StaleStats, match=f"fitted before shard {home} changed"):
        features.materialize(BEATS, "time", after[home], backend=CPU)
    with pytest.raises(StaleStats):
        features.union(BEATS, "time", after)
    old_stats = sharded["made"][home].entry.stats
    assert features.fit_train_stats(BEATS, after, backend=CPU)  # the moments of unchanged shards are reused
    made = {key: features.materialize(BEATS, "time", snaps, backend=CPU) for key, snaps in after.items()}
    assert {k for k, m in made.items() if not m.reused} == {home}
    assert made[home].entry.stats == old_stats
    union = features.union(BEATS, "time", after)
    assert "100" in _rows(features, union)["record_id"].unique().to_list()
    import shutil

    shutil.rmtree(made["02"].entry.path)  # a shard whose view is gone is named, with the fix
    with pytest.raises(ValueError, match=r"beats_time: shards \['02'\] have no stored view.*partitions \['02'\]"):
        features.union(BEATS, "time", after)
