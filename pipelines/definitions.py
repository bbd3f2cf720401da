"""The Dagster code location: `dagster dev -m pipelines.definitions` loads `defs`."""

from __future__ import annotations

import warnings

import dagster as dg

from feature_store.tasks import TASKS, TaskSpec

from .assets.features import build_feature_assets
from .assets.ingest import ingest_assets
from .assets.scoring import build_scoring_assets
from .assets.training import build_training_assets
from .checks import build_feature_checks, build_training_checks, ingest_checks
from .jobs import ecgnet_job, executor, features_job, ingest_job, refresh_job, retrain_job, score_job, weekly_retrain
from .resources import EcgnetStore, resources
from .sensors import build_inbox_sensor, new_records_sensor


def build_assets(specs: list[TaskSpec]) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """The assets and checks of every stage for `specs`: ingest, then per task its views and models."""
    return (
        [*ingest_assets, *build_feature_assets(specs), *build_training_assets(specs)],
        [*ingest_checks, *build_feature_checks(specs), *build_training_checks(specs)],
    )


def build_defs(
    specs: list[TaskSpec] | None = None,
    *,
    store: EcgnetStore | None = None,
    **resource_overrides: dg.ConfigurableResource,
) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, generated for the given tasks (default: all); `store` and
    `resource_overrides` go to `resources` as they are."""
    specs = list(TASKS.values()) if specs is None else specs
    assets, checks = build_assets(specs)
    assets += build_scoring_assets(specs)  # after the stages: what the champions make of new records
    with warnings.catch_warnings():  # beta in dagster 1.13 (a warning per asset, on every load); the links work
        warnings.simplefilter("ignore", dg.BetaWarning)
        # "open in editor" on every asset page: where the definition is (a factory's inner function)
        referenced = dg.with_source_code_references(assets)
    return dg.Definitions(
        assets=referenced,
        asset_checks=checks,
        jobs=[ingest_job, features_job, refresh_job, retrain_job, ecgnet_job, score_job],
        schedules=[weekly_retrain],
        sensors=[new_records_sensor, build_inbox_sensor(specs)],
        executor=executor,
        resources=resources(store, **resource_overrides),
    )


defs = build_defs()
