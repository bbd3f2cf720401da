"""Feature views on an object store: a real S3-compatible server (SeaweedFS, started by the test) reached
through fsspec's s3fs, the same sharded views as on the local disk value for value, a catalog of one
object per entry that parallel writers cannot lose entries of, and damage found and mended."""

import json
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import fsspec
import numpy as np
import pytest

from feature_store.backend import numpy_backend
from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.location import Location
from feature_store.raw_store import RawStore
from feature_store.shards import all_shards
from feature_store.sources.registry import discover
from feature_store.tasks import BEATS
from feature_store.views.catalog import Catalog
from feature_store.views.storage import tensor_of, view_damage
from feature_store.views.store import FeatureStore
from pipelines.object_store import LocalObjectStore, ObjectStoreUnavailable
from tests.records import MITDB, copy_record

CPU, COUNT, FAMILIES = numpy_backend(), 3, ("time", "spectrogram")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """SeaweedFS in a folder of the test's."""
    started = LocalObjectStore(tmp_path_factory.mktemp("objects")).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def s3(store):
    """This process pointed at the store as a user's shell would be (its variables), plus fsspec's
    configuration, which fsspec read from the environment at import."""
    env = store.env("views")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            if key != "ECGNET_FEATURES":
                mp.setenv(key, value)
        mp.setitem(fsspec.config.conf, "s3", {"endpoint_url": store.endpoint})
        yield env["ECGNET_FEATURES"]


@pytest.fixture(scope="module")
def both(s3, tmp_path_factory):
    """MIT-BIH 209, 220 and 232 ingested in three shards; every shard's views and the unions computed
    once with the views on the object store and once on the local disk."""
    src = tmp_path_factory.mktemp("src")
    for name in ("209", "220", "232"):
        copy_record(MITDB / name, src)
    raw, cfg = RawStore(tmp_path_factory.mktemp("home") / "store"), IngestConfig()
    refs = discover([src], cfg)["annotated"]
    for shard in all_shards(COUNT):
        ingest_kind("annotated", refs, raw, cfg, shard=shard)
    shards = raw.shard_snapshots(("annotated",), COUNT)
    stores = {"s3": FeatureStore(raw.root, s3), "disk": FeatureStore(raw.root, tmp_path_factory.mktemp("views"))}
    unions = {}
    for where, features in stores.items():
        features.fit_train_stats(BEATS, shards, backend=CPU)
        for family in FAMILIES:
            for snaps in shards.values():
                features.materialize(BEATS, family, snaps, backend=CPU)
            unions[where, family] = features.union(BEATS, family, shards)
    return {"raw": raw, "shards": shards, "stores": stores, "unions": unions}


def test_views_on_the_object_store_equal_the_local_ones(both, s3):
    s3_store, disk = both["stores"]["s3"], both["stores"]["disk"]
    assert s3_store.root.uri == s3 and not s3_store.root.local
    assert not (both["raw"].root / "features").exists()  # nothing of the S3 store's landed on the disk
    for family in FAMILIES:
        remote, local = both["unions"]["s3", family], both["unions"]["disk", family]
        assert remote.version == local.version and remote.rows == local.rows > 0  # same inputs, same versions
        assert all(p.startswith(f"{s3}/beats_{family}/") for p in remote.parts.values())
        assert view_damage(remote) is None
        a = s3_store.scan(remote.name, remote.version).sort("entity_id").collect()
        b = disk.scan(local.name, local.version).sort("entity_id").collect()
        assert a["entity_id"].to_list() == b["entity_id"].to_list()
        for column, shape in remote.columns.items():
            np.testing.assert_array_equal(
                tensor_of(a[column].to_arrow(), shape), tensor_of(b[column].to_arrow(), shape)
            )
    # what training reads: the same rows through the catalog on S3
    train = s3_store.training_set(["beats_time", "beats_spectrogram"], split="DS1")
    local = disk.training_set(["beats_time", "beats_spectrogram"], split="DS1")
    assert train.ids.tolist() == local.ids.tolist() and len(train.ids) > 1000
    np.testing.assert_array_equal(train.features["beats_time"]["waveform"], local.features["beats_time"]["waveform"])
    # the catalog, the train statistics and the parts are objects of the bucket
    fs, root = s3_store.root.fs, s3_store.root.path
    objects = [p.removeprefix(root + "/") for p in fs.find(root)]
    assert f"catalog/beats_time/{both['unions']['s3', 'time'].version}.json" in objects
    assert any(p.startswith("_stats/beats/") and p.endswith("/current.json") for p in objects)
    assert not [p for p in objects if ".tmp" in p]


def test_the_store_reports_nothing_to_a_third_party(both, store):
    """SeaweedFS's master reports usage statistics to telemetry.seaweedfs.com unless told not to; a
    workspace's store of ECG features is told not to (its log says when it would report)."""
    log = store.log.read_text()
    assert "Start Seaweed Master" in log and "Reporting anonymous cluster statistics" not in log


def test_an_unchanged_shard_is_reused_from_the_object_store(both):
    s3_store = both["stores"]["s3"]
    made = [s3_store.materialize(BEATS, "time", snaps, backend=CPU) for snaps in both["shards"].values()]
    assert all(m.reused for m in made)


def test_damage_on_the_object_store_is_found_and_computed_again(both):
    s3_store, shards = both["stores"]["s3"], both["shards"]
    key, snaps = next((k, s) for k, s in shards.items() if s3_store.shard_entry(BEATS, "time", s).rows)
    entry = s3_store.shard_entry(BEATS, "time", snaps)
    folder = Location.of(entry.path)
    parts = folder.files("*.parquet")
    part = parts[0]
    part.write_bytes(part.read_bytes()[:100])  # cut short, as by a killed upload of a store without atomic PUT
    (folder / "part-99999.parquet").write_bytes(b"stray")  # left by a killed writer
    damage = view_damage(entry)
    assert damage is not None and "cut short or not Parquet" in damage
    again = s3_store.materialize(BEATS, "time", snaps, backend=CPU)
    assert not again.reused and again.entry.version == entry.version and again.entry.rows == entry.rows
    assert view_damage(again.entry) is None
    assert [p.name for p in folder.files()] == [p.name for p in parts]  # the stray was cleared with the prefix


def test_parallel_writers_lose_no_catalog_entry(both):
    """Shard runs add entries at once; with one object per entry, no read-modify-write can drop one."""
    s3_store = both["stores"]["s3"]
    catalog, template = s3_store.catalog, both["unions"]["s3", "time"]

    def add(i: int) -> None:
        catalog.add(replace(template, name="beats_parallel", version=f"v{i:03d}"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(40)))
    assert sorted(e.version for e in catalog.entries("beats_parallel")) == [f"v{i:03d}" for i in range(40)]
    for i in range(40):
        catalog.remove("beats_parallel", f"v{i:03d}")
    assert catalog.entries("beats_parallel") == [] and catalog.get("beats_time") is not None


def test_a_single_file_catalog_is_adopted(beat_world, tmp_path):
    """Workspaces written before the catalog became one object per entry keep their views."""
    entries = [e.to_json() for e in beat_world["features"].catalog.entries()]
    old = tmp_path / "features"
    old.mkdir()
    (old / "catalog.json").write_text(json.dumps(entries))
    catalog = Catalog(Location.of(old / "catalog"))
    assert sorted((e.name, e.version) for e in catalog.entries()) == sorted((e["name"], e["version"]) for e in entries)
    assert not (old / "catalog.json").exists() and len(list((old / "catalog").rglob("*.json"))) == len(entries)


def test_a_store_that_takes_no_writes_fails_by_its_deadline(tmp_path, monkeypatch):
    """A gateway that answers connections but never a write (SeaweedFS on a disk below its free-space
    floor) fails the start at its deadline with the log's causes, not after s3fs's and botocore's
    retries of a 15 s read timeout (7 minutes on CI). The shell's variables from an earlier start (its
    endpoint in fsspec's configuration) do not get in the way."""
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": "http://127.0.0.1:1"})
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        store = LocalObjectStore(tmp_path)
        (tmp_path / "s3.port").write_text(str(silent.getsockname()[1]))
        (tmp_path / "weed.log").write_text(
            "I1205 23:18:42.807474 disk_location.go:731 dir /x/data disk free 2 GiB < required 2.5 GiB\n"
        )
        began = time.monotonic()
        with pytest.raises(ObjectStoreUnavailable, match="took no writes") as err:
            store.await_writes(began + 1)
    assert time.monotonic() - began < 30
    assert "< required 2.5 GiB" in str(err.value) and str(store.log) in str(err.value)


def test_too_little_free_disk_is_named_before_the_store_starts(tmp_path):
    store = LocalObjectStore(tmp_path)
    too_much = shutil.disk_usage(tmp_path).free + 2**30
    with pytest.raises(ObjectStoreUnavailable, match=r"MiB free on the disk of .*fix: free disk space"):
        store.start(min_free_disk=too_much)
    assert not (tmp_path / "weed.pid").exists()
