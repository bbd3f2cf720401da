"""Feature assets: per task its train statistics (every shard), then per (task, family) a versioned view
per shard of the raw records."""

import dagster as dg
import numpy as np

from feature_store.tasks import TaskSpec
from feature_store.views.catalog import ViewEntry
from feature_store.views.families import FAMILIES
from feature_store.views.storage import tensor_of
from feature_store.views.store import FeatureStore, Materialized, definition_version

from ..metadata import png, view_columns
from ..naming import TaskAssets
from ..partitions import shards_def, step_shards
from ..resources import EcgnetStore, FeatureSettings

PREVIEW_ROWS = 5000
PREVIEW_COLUMN = {"time": "waveform", "spectral": "psd", "spectrogram": "spectrogram"}


def build_train_stats(spec: TaskSpec) -> dg.AssetsDefinition:
    names = TaskAssets(spec)

    @dg.asset(
        name=names.train_stats,
        group_name="features",
        deps=names.raw(),
        description=f"Per-lead mean and std of the preprocessed {spec.name} rows of the train splits "
        f"{' or '.join(spec.splits.train)} over every shard, summed from per-shard moments (a shard whose records did "
        "not change is not read again); every shard's views are standardised with them.",
    )
    def _stats(
        context: dg.AssetExecutionContext, store: EcgnetStore, features: FeatureSettings
    ) -> dg.MaterializeResult:
        shards = store.raw().shard_snapshots(spec.source_kinds)
        fitted = store.features().fit_train_stats(spec, shards, backend=features.array_backend())
        stats = next(iter(fitted.values())).stats
        context.log.info(
            f"{spec.name}: train statistics over {len(shards)} shards, {stats.get('train_rows', 0)} train rows"
        )
        return dg.MaterializeResult(
            metadata={
                "train_rows": stats.get("train_rows", 0),
                "shards": len(shards),
                "preprocessings": len(fitted),
                "lead_mean": dg.MetadataValue.json([round(v, 5) for v in stats.get("mean", [])]),
                "lead_std": dg.MetadataValue.json([round(v, 5) for v in stats.get("std", [])]),
            }
        )

    return _stats


def build_feature_asset(spec: TaskSpec, family: str) -> dg.AssetsDefinition:
    names = TaskAssets(spec)

    @dg.asset(
        name=names.feature(family),
        group_name="features",
        kinds={"parquet"},
        partitions_def=shards_def,
        deps=[*names.raw(), names.train_stats],
        description=f"{family.capitalize()} features of every {spec.unit} of task {spec.name!r} "
        f"(feature view {spec.name}_{family}), one versioned part per shard.",
        # the view's parameters and code: a change to either shows the view (and what reads it) as unsynced
        code_version=definition_version(spec, family),
    )
    def _asset(
        context: dg.AssetExecutionContext, store: EcgnetStore, features: FeatureSettings
    ) -> dg.MaterializeResult:
        feature_store, raw, made = store.features(), store.raw(), []
        for shard in step_shards(context):
            snapshots = raw.snapshots(spec.source_kinds, shard)
            m = feature_store.materialize(spec, family, snapshots, backend=features.array_backend())
            e = m.entry
            context.log.info(
                f"{e.name} shard {shard.key} {e.version}: "
                + ("stored, nothing computed" if m.reused else f"computed on {e.backend} in {m.seconds:.1f} s")
                + f"; {e.rows} rows, {e.bytes / 2**20:.1f} MB"
            )
            made.append(m)
            context.add_asset_metadata(
                {"dagster/row_count": e.rows, "version": e.version, "reused": m.reused}, partition_key=shard.key
            )
        return dg.MaterializeResult(metadata=_metadata(made, feature_store, store, names.feature(family)))

    return _asset


def _metadata(made: list[Materialized], features: FeatureStore, store: EcgnetStore, name: str) -> dict:
    entries = [m.entry for m in made]
    rows, seconds = sum(e.rows for e in entries), sum(e.seconds for e in entries)
    e = next((e for e in entries if e.rows), entries[0])
    meta = {
        "view": e.name,
        "versions": dg.MetadataValue.json({x.shard: x.version for x in entries}),
        "reused_shards": sum(m.reused for m in made),
        "computed_shards": sum(not m.reused for m in made),
        "rows": rows,
        "mb": round(sum(x.bytes for x in entries) / 2**20, 2),
        "backend": e.backend,
        "seconds_this_run": round(sum(m.seconds for m in made), 3),
        "seconds_to_compute": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1) if seconds else 0.0,
        "columns": dg.MetadataValue.json({k: list(v) for k, v in e.columns.items()}),
        "excluded": dg.MetadataValue.json({x.shard: x.lineage.excluded for x in entries}),
        "raw_snapshots": dg.MetadataValue.json({x.shard: x.lineage.snapshots for x in entries}),
        "path": dg.MetadataValue.path((features.root / e.name).uri),
        "dagster/column_schema": view_columns(e),
    }
    if e.rows:
        meta.update(png(_preview(e, features), store.workspace().plots / f"{name}.png", "preview"))
    return meta


def _preview(entry: ViewEntry, features: FeatureStore) -> bytes:
    """Spectrogram of one row, or the mean first-lead curve per class for time and spectral views."""
    from feature_store.plots import class_means_png, spectrogram_png  # matplotlib: not at the code location's load

    column = PREVIEW_COLUMN[entry.family]
    # the first rows only: a preview must not read a view whose size grows with the database
    rows = features.scan(entry.name, entry.version).select("entity_id", "labels", column).head(PREVIEW_ROWS).collect()
    values = tensor_of(rows[column].to_arrow(), entry.columns[column])
    d, leads = entry.describe, entry.input.lead_names
    if entry.family == "spectrogram":
        return spectrogram_png(
            values[0],
            freqs=d["freqs_hz"],
            times=d["frame_times_s"],
            lead_names=list(leads),
            title=f"{entry.name}: {rows['entity_id'][0]} {list(rows['labels'][0])}",
        )
    labels = [lab[0] if len(lab) else "(none)" for lab in rows["labels"].to_list()]
    if entry.family == "spectral":
        x, xlabel, ylabel = np.asarray(d["freqs_hz"]), "Hz", "log10 PSD (standardised mV^2/Hz)"
    else:
        x, xlabel, ylabel = np.arange(values.shape[-1]) / d["fs"], "s", "standardised amplitude"
    return class_means_png(
        values[:, 0],
        labels,
        x=x,
        xlabel=xlabel,
        ylabel=ylabel,
        title=f"{entry.name}: mean {leads[0]} per class ({len(rows)} rows)",
    )


def build_feature_assets(specs: list[TaskSpec]) -> list[dg.AssetsDefinition]:
    return [
        *[build_train_stats(spec) for spec in specs],
        *[build_feature_asset(spec, family) for spec in specs for family in FAMILIES],
    ]
