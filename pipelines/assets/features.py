"""Feature assets, one per (task, family): the raw snapshots of the task's sources -> a versioned view."""

import dagster as dg
import numpy as np

from feature_store.plots import class_means_png, spectrogram_png
from feature_store.raw_store import RawSnapshot
from feature_store.tasks import TaskSpec
from feature_store.views.catalog import ViewEntry
from feature_store.views.families import FAMILIES
from feature_store.views.storage import tensor_of
from feature_store.views.store import FeatureStore, Materialized, ViewRef

from ..metadata import png
from ..naming import TaskAssets
from ..resources import EcgnetStore, FeatureSettings

PREVIEW_ROWS = 5000
PREVIEW_COLUMN = {"time": "waveform", "spectral": "psd", "spectrogram": "spectrogram"}


def build_feature_asset(spec: TaskSpec, family: str) -> dg.AssetsDefinition:
    names = TaskAssets(spec)

    @dg.asset(
        name=names.feature(family),
        group_name="features",
        kinds={"parquet"},
        ins={raw: dg.AssetIn(raw) for raw in names.raw()},
        description=f"{family.capitalize()} features of every {spec.unit} of task {spec.name!r} "
        f"(feature view {spec.name}_{family}).",
    )
    def _asset(
        context: dg.AssetExecutionContext, store: EcgnetStore, features: FeatureSettings, **snapshots: RawSnapshot
    ) -> dg.Output[ViewRef]:
        feature_store = store.features()
        made = feature_store.materialize(
            spec, family, [snapshots[raw] for raw in names.raw()], backend=features.array_backend()
        )
        e = made.entry
        context.log.info(
            f"{e.name} {e.version}: {'reused, nothing computed' if made.reused else 'computed'}; "
            f"{e.rows} rows on {e.backend} in {made.seconds:.1f} s"
        )
        ref = ViewRef(e.name, e.version, str(store.workspace().store))
        return dg.Output(ref, metadata=_metadata(made, feature_store, store, names.feature(family)))

    return _asset


def _metadata(made: Materialized, features: FeatureStore, store: EcgnetStore, name: str) -> dict:
    e = made.entry
    meta = {
        "view": e.name,
        "version": e.version,
        "reused": made.reused,
        "rows": e.rows,
        "mb": round(e.bytes / 2**20, 2),
        "backend": e.backend,
        "seconds_this_run": round(made.seconds, 3),
        "seconds_to_compute": e.seconds,
        "rows_per_s": round(e.rows / e.seconds, 1) if e.seconds else 0.0,
        "columns": dg.MetadataValue.json({k: list(v) for k, v in e.columns.items()}),
        "excluded": dg.MetadataValue.json(e.lineage.excluded),
        "raw_snapshots": dg.MetadataValue.json(e.lineage.snapshots),
        "path": dg.MetadataValue.path(e.path),
    }
    if e.rows:
        meta.update(png(_preview(e, features), store.workspace().plots / f"{name}.png", "preview"))
    return meta


def _preview(entry: ViewEntry, features: FeatureStore) -> bytes:
    """Spectrogram of one row, or the mean first-lead curve per class for time and spectral views."""
    step, column = max(1, entry.rows // PREVIEW_ROWS), PREVIEW_COLUMN[entry.family]
    rows = features.scan(entry.name, entry.version).gather_every(step).select("entity_id", "labels", column).collect()
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
    return [build_feature_asset(spec, family) for spec in specs for family in FAMILIES]
