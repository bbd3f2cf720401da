"""Jobs: `ingest` (the raw store) and `ecgnet`, the main job over every asset."""

from __future__ import annotations

import dagster as dg

ingest_job = dg.define_asset_job("ingest", selection=dg.AssetSelection.groups("ingest"),
                                 description="Ingest the source folders into the raw store.")
ecgnet_job = dg.define_asset_job("ecgnet", selection=dg.AssetSelection.all(),
                                 description="The whole pipeline: ingest, features, training.")
