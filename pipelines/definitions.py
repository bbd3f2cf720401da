"""The Dagster code location: `dagster dev -m pipelines.definitions` loads `defs`."""

from __future__ import annotations

import dagster as dg

from .assets.features import feature_assets
from .assets.ingest import ingest_assets
from .assets.training import training_assets
from .checks import feature_checks, ingest_checks, training_checks
from .jobs import ecgnet_job, executor, features_job, ingest_job, refresh_job, retrain_job, weekly_retrain
from .resources import EcgnetStore, FeatureSettings, IngestSettings, TrainingSettings
from .sensors import new_records_sensor

defs = dg.Definitions(
    assets=[*ingest_assets, *feature_assets, *training_assets],
    asset_checks=[*ingest_checks, *feature_checks, *training_checks],
    jobs=[ingest_job, features_job, refresh_job, retrain_job, ecgnet_job],
    schedules=[weekly_retrain],
    sensors=[new_records_sensor],
    executor=executor,
    resources={"store": EcgnetStore(), "ingest": IngestSettings(), "features": FeatureSettings(),
               "training": TrainingSettings()},
)
