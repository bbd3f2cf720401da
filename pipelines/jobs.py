"""Jobs: `ingest` (raw store), `features` (feature views) and `ecgnet`, the main job over everything."""

from __future__ import annotations

import dagster as dg

ingest_job = dg.define_asset_job("ingest", selection=dg.AssetSelection.groups("ingest"),
                                 description="Ingest the source folders into the raw store.")
features_job = dg.define_asset_job("features", selection=dg.AssetSelection.groups("features"),
                                   description="Compute (or reuse) every feature view.")
ecgnet_job = dg.define_asset_job("ecgnet", selection=dg.AssetSelection.all(),
                                 description="The whole pipeline: ingest, features, training.")
