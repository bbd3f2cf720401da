"""Typed resources: where the workspace is, which folders to ingest and how."""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from ecgnet.comparison import ComparisonConfig
from ecgnet.tracking import Tracker
from ecgnet.train import TrainConfig
from feature_store.backend import Backend, select_backend
from feature_store.config import IngestConfig
from feature_store.raw_store import RawStore
from feature_store.workspace import default_home, default_sources, store_root


class EcgnetStore(dg.ConfigurableResource):
    """The workspace folder holding the Parquet stores (default: ECGNET_HOME or `.ecgnet/`)."""

    home: str = Field(default_factory=lambda: str(default_home()),
                      description="Workspace folder: Dagster home, Parquet stores, MLflow")

    def raw(self) -> RawStore:
        return RawStore(store_root(Path(self.home)))

    def plots_dir(self) -> Path:
        return Path(self.home) / "plots"


class IngestSettings(dg.ConfigurableResource):
    """Which folders to ingest, at which rates, with which beat windows and quality limits."""

    sources: list[str] = Field(default_factory=default_sources,
                               description="Source folders (default: ECGNET_DATA or data/sample)")
    record_fs: float = Field(default=100.0, description="Hz, rate of record tasks (PTB-XL style)")
    beat_fs: float = Field(default=360.0, description="Hz, rate of beat tasks (MIT-BIH style)")
    beat_before_s: float = Field(default=0.25, description="s of the beat window before the R peak")
    beat_after_s: float = Field(default=0.45, description="s of the beat window after the R peak")
    context_s: float = Field(default=2.0, description="s, context window centred on the R peak")
    flat_mv: float = Field(default=0.01, description="mV, a lead with smaller peak-to-peak is flat")
    max_quarantine_fraction: float = Field(
        default=0.1, description="The quarantine check fails above this fraction of failed records")

    def config(self) -> IngestConfig:
        return IngestConfig(record_fs=self.record_fs, beat_fs=self.beat_fs,
                            beat_before_s=self.beat_before_s, beat_after_s=self.beat_after_s,
                            context_s=self.context_s, flat_mv=self.flat_mv)

    def folders(self) -> list[Path]:
        return [Path(p) for p in self.sources]


class FeatureSettings(dg.ConfigurableResource):
    """Where feature transforms run; family parameters keep their typed defaults (views/families.py)."""

    device: str = Field(default="auto", description="auto (GPU when usable) | cpu | gpu")

    def backend(self) -> Backend:
        return select_backend(self.device)


class TrainingSettings(dg.ConfigurableResource):
    """Budgets and gates of the model comparison; ECGNET_EPOCHS overrides the epoch default."""

    epochs: int = Field(default_factory=lambda: int(os.environ.get("ECGNET_EPOCHS", "20")),
                        description="Most epochs per trainable variant (early stopping may stop sooner)")
    batch_size: int = Field(default=256)
    patience: int = Field(default=5, description="Epochs without a better validation metric")
    seed: int = Field(default=0)
    device: str = Field(default="auto", description="auto (CUDA when available) | cpu | cuda")
    n_boot: int = Field(default=200, description="Bootstrap draws per interval")
    val_fraction: float = Field(default=0.25, description="Beats: share of DS1 patients for validation")
    min_val_metric: float = Field(default=0.3, description="Quality gate, beats: minimum validation macro-F1")
    min_val_metric_records: float = Field(default=0.5, description="Quality gate, records: minimum "
                                          "validation macro-AUC (0.5 is chance)")

    def config(self, task: str) -> ComparisonConfig:
        return ComparisonConfig(task=task, n_boot=self.n_boot, val_fraction=self.val_fraction,
                                min_val_metric=self.min_val_metric,
                                train=TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                                                  patience=self.patience, seed=self.seed, device=self.device))

    def min_val(self, task: str) -> float:
        """The gate's minimum validation metric: macro-F1 for beats, macro-AUC for records."""
        return self.min_val_metric_records if task == "records" else self.min_val_metric

    def tracker(self, home: str) -> Tracker:
        return Tracker.for_home(Path(home))
