"""Typed resources: where the workspace is, which folders to ingest and how."""

from pathlib import Path

import dagster as dg
from pydantic import Field

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
