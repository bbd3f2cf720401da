"""The code location the Dagster daemon loads in tests/test_parallel_backfill.py: the beats task's
ingest and feature assets with their checks, the real resources (workspace and sources from
ECGNET_HOME and ECGNET_DATA) and executor, and no sensor or schedule (no run starts on its own)."""

import dagster as dg

from feature_store.tasks import BEATS
from pipelines.definitions import build_assets
from pipelines.jobs import executor
from pipelines.resources import resources

assets, checks = build_assets([BEATS])
defs = dg.Definitions(assets=assets, asset_checks=checks, resources=resources(), executor=executor)
