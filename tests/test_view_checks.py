"""The feature views' checks where a shard's records changed after its view was made."""

import dagster as dg
import pytest

from feature_store.backend import numpy_backend
from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.shards import Shard, shard_count
from feature_store.sources.registry import discover
from feature_store.tasks import BEATS
from pipelines.checks import _view_results
from pipelines.partitions import SHARD_KEYS
from pipelines.resources import EcgnetStore
from tests.records import MITDB, copy_record


def test_a_shard_whose_records_have_no_view_yet_fails_its_check_with_the_fix(tmp_path):
    """Records ingested and no view made of them yet (a check executed alone right after ingest): the
    check says which shard and what to materialize, as a Failure, not a traceback."""
    copy_record(MITDB / "100", tmp_path / "src")
    store, cfg = EcgnetStore(home=str(tmp_path / "home")), IngestConfig()
    ingest_kind("annotated", discover([tmp_path / "src"], cfg)["annotated"], store.raw(), cfg)
    raw = store.raw()
    store.features().fit_train_stats(BEATS, raw.shard_snapshots(BEATS.source_kinds), backend=numpy_backend())
    shards = [Shard.parse(key, shard_count()) for key in SHARD_KEYS]
    said = r"^beat_time_features: shard \d+ has no view of its current records to check; fix: materialize "
    with pytest.raises(dg.Failure, match=said + r"beat_time_features for shard \d+$"):
        list(_view_results(BEATS, "time", "beat_time_features", store, shards))
