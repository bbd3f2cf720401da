"""Feature assets, one per (task, family): raw snapshots -> a versioned feature view."""

import dagster as dg
import numpy as np

from feature_store.plots import class_means_png, spectrogram_png
from feature_store.raw_store import RawSnapshot
from feature_store.views.families import FAMILIES
from feature_store.views.storage import tensor_of
from feature_store.views.store import FeatureStore, Materialized, ViewRef

from ..metadata import png
from ..resources import EcgnetStore, FeatureSettings

TASK_ASSET = {"beats": "beat", "records": "record"}
PREVIEW_ROWS = 5000


def feature_asset_name(task: str, family: str) -> str:
    return f"{TASK_ASSET[task]}_{family}_features"


def _materialize(context, store: EcgnetStore, settings: FeatureSettings, task: str, family: str,
                 snapshots: list[RawSnapshot]) -> dg.Output:
    features = FeatureStore(store.raw().root)
    made = features.materialize(task, family, snapshots, backend=settings.backend())
    entry = made.entry
    context.log.info(f"{entry['name']} {entry['version']}: "
                     f"{'reused, nothing computed' if made.reused else 'computed'}; {entry['rows']} rows "
                     f"on {entry['backend']} in {made.seconds:.1f} s")
    ref = ViewRef(entry["name"], entry["version"], str(store.raw().root))
    return dg.Output(ref, metadata=_metadata(made, features, store, feature_asset_name(task, family)))


def _metadata(made: Materialized, features: FeatureStore, store: EcgnetStore, name: str) -> dict:
    e = made.entry
    meta = {
        "view": e["name"], "version": e["version"], "reused": made.reused, "rows": e["rows"],
        "mb": round(e["bytes"] / 2**20, 2), "backend": e["backend"],
        "seconds_this_run": round(made.seconds, 3), "seconds_to_compute": e["seconds"],
        "rows_per_s": round(e["rows"] / e["seconds"], 1) if e["seconds"] else 0.0,
        "columns": dg.MetadataValue.json(e["columns"]), "excluded": dg.MetadataValue.json(e["lineage"]["excluded"]),
        "raw_snapshots": dg.MetadataValue.json(e["lineage"]["snapshots"]),
        "path": dg.MetadataValue.path(e["path"]),
    }
    if e["rows"]:
        meta.update(png(_preview(e, features), store.plots_dir() / f"{name}.png", "preview"))
    return meta


def _preview(entry: dict, features: FeatureStore) -> bytes:
    """Spectrogram of one row, or the mean first-lead curve per class for time and spectral views."""
    step = max(1, entry["rows"] // PREVIEW_ROWS)
    column = {"time": "waveform", "spectral": "psd", "spectrogram": "spectrogram"}[entry["family"]]
    rows = (features.scan(entry["name"], entry["version"]).gather_every(step)
            .select("entity_id", "labels", column).collect())
    values = tensor_of(rows[column].to_arrow(), tuple(entry["columns"][column]))
    d, leads = entry["describe"], entry["input"]["lead_names"]
    if entry["family"] == "spectrogram":
        return spectrogram_png(values[0], freqs=d["freqs_hz"], times=d["frame_times_s"], lead_names=leads,
                               title=f"{entry['name']}: {rows['entity_id'][0]} {list(rows['labels'][0])}")
    labels = [lab[0] if len(lab) else "(none)" for lab in rows["labels"].to_list()]
    if entry["family"] == "spectral":
        x, xlabel, ylabel = np.asarray(d["freqs_hz"]), "Hz", "log10 PSD (standardised mV^2/Hz)"
    else:
        x, xlabel, ylabel = np.arange(values.shape[-1]) / d["fs"], "s", "standardised amplitude"
    return class_means_png(values[:, 0], labels, x=x, xlabel=xlabel, ylabel=ylabel,
                           title=f"{entry['name']}: mean {leads[0]} per class ({len(rows)} rows)")


def build_beat_asset(family: str) -> dg.AssetsDefinition:
    @dg.asset(name=feature_asset_name("beats", family), group_name="features", kinds={"parquet"},
              description=f"{family.capitalize()} features of every beat (feature view beats_{family}).")
    def _asset(context: dg.AssetExecutionContext, store: EcgnetStore, features: FeatureSettings,
               annotated_beats: RawSnapshot) -> dg.Output[ViewRef]:
        return _materialize(context, store, features, "beats", family, [annotated_beats])

    return _asset


def build_record_asset(family: str) -> dg.AssetsDefinition:
    @dg.asset(name=feature_asset_name("records", family), group_name="features", kinds={"parquet"},
              description=f"{family.capitalize()} features of every 12-lead record "
                          f"(feature view records_{family}).")
    def _asset(context: dg.AssetExecutionContext, store: EcgnetStore, features: FeatureSettings,
               ptbxl_records: RawSnapshot, challenge_records: RawSnapshot) -> dg.Output[ViewRef]:
        return _materialize(context, store, features, "records", family,
                            [ptbxl_records, challenge_records])

    return _asset


feature_assets = ([build_beat_asset(f) for f in FAMILIES] + [build_record_asset(f) for f in FAMILIES])
FEATURE_ASSET_NAMES = [feature_asset_name(t, f) for t in TASK_ASSET for f in FAMILIES]
