"""Typed resources: the workspace, MLflow, which folders to ingest and how, and the training budgets.

Defaults come from the science's dataclasses (IngestConfig, TrainConfig, ComparisonConfig), so each
is written once; the Dagster launchpad shows and overrides them. torch and MLflow are imported where a
step first uses them, not here: every process that loads the definitions (the UI's code server, the
daemon, each run worker) imports this module, most of them to run no training at all.
"""

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from ecgnet.config import ComparisonConfig, ExplainConfig, TrainConfig
from ecgnet.variants import task_variants
from feature_store.backend import BACKENDS, Backend, select_backend
from feature_store.config import (
    KNOWN_FS_ENV,
    MAX_RECORD_VALUES_ENV,
    IngestConfig,
    known_fs_from,
    max_record_values_from,
    whole_number,
)
from feature_store.raw_store import RawStore
from feature_store.tasks import TaskSpec
from feature_store.views.store import FeatureStore
from feature_store.workspace import Workspace, default_sources, inbox_root
from feature_store.writer import acquire

from .partitions import run_shard
from .stale_runs import run_process, stamp_run

if TYPE_CHECKING:
    from ecgnet.tracking import Tracker

_INGEST, _TRAIN, _COMPARISON, _EXPLAIN = IngestConfig(), TrainConfig(), ComparisonConfig(), ExplainConfig()


class EcgnetStore(dg.ConfigurableResource):
    """The workspace folder holding the Parquet stores (default: ECGNET_HOME or `.ecgnet/`)."""

    home: str = Field(
        default_factory=lambda: str(Workspace.default().home),
        description="Workspace folder: Dagster home, Parquet stores, MLflow",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # every asset uses the store: its first step names the run's process, so a run launched from the
        # UI whose worker dies is closed as failed later (pipelines.stale_runs), and takes the
        # workspace's writer lease for that process (its other steps share it; its death frees it); a
        # run of one shard (a backfill's partition) takes that shard's lease only. Outside a run (a
        # sensor or schedule tick, in the code server that `make ui` keeps alive) the store is only read,
        # and a lease taken there would never be freed: every run would wait for it, then fail
        run = context.run
        if run is None:
            return
        if context.instance is not None:
            stamp_run(context.instance, run)
        log = context.log  # dagster gives every run one; a context built without it waits silently
        acquire(
            self.workspace().home,
            f"dagster run {run.run_id}",
            owner=run_process(),
            shard=run_shard(run.tags),
            on_wait=(lambda h: log.info(h.waiting())) if log is not None else None,
        )

    def workspace(self) -> Workspace:
        return Workspace(Path(self.home))

    def raw(self) -> RawStore:
        return RawStore(self.workspace().store)

    def features(self) -> FeatureStore:
        workspace = self.workspace()
        return FeatureStore(workspace.store, workspace.features)


class MlflowTracking(dg.ConfigurableResource):
    """Where comparisons, runs and registered models go: the workspace's SQLite store by default."""

    store: EcgnetStore
    tracking_uri: str = Field(
        default="", description="An MLflow server; empty: MLFLOW_TRACKING_URI, else the workspace's SQLite store"
    )
    ui_url: str = Field(default="http://127.0.0.1:5000", description="The MLflow UI (`make ui` serves it)")
    validate_models: bool = Field(
        default=True,
        description="MLflow loads every logged model back and serves it its input example (a model that "
        "cannot be served fails at training, not at predict)",
    )

    def tracker(self) -> "Tracker":
        from ecgnet.tracking import Tracker

        return Tracker.for_workspace(self.store.workspace(), self.tracking_uri or None, self.validate_models)

    def runs_url(self, experiment_id: str) -> dg.MetadataValue:
        """A clickable link to an experiment's runs table (MLflow 3 opens GenAI traces by default)."""
        from ecgnet.tracking import run_page

        return dg.MetadataValue.url(f"{self.ui_url}/{run_page(experiment_id)}")

    def run_url(self, experiment_id: str, run_id: str) -> dg.MetadataValue:
        """A clickable link to one run's page (a comparison's: its verdict and table, ecgnet.describe)."""
        from ecgnet.tracking import run_page

        return dg.MetadataValue.url(f"{self.ui_url}/{run_page(experiment_id, run_id)}")


def _max_quarantine(value: str | None) -> float:
    """ECGNET_MAX_QUARANTINE (a fraction, 0 to 1), default 0.1."""
    if value is None:
        return 0.1
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"ECGNET_MAX_QUARANTINE={value!r}; fix: a fraction between 0 and 1, e.g. 0.25")
    return fraction


class IngestSettings(dg.ConfigurableResource):
    """Which folders to ingest, at which rates, with which beat windows and quality limits."""

    sources: list[str] = Field(
        default_factory=default_sources, description="Source folders (default: ECGNET_DATA or data/sample)"
    )
    record_fs: float = Field(default=_INGEST.record_fs, description="Hz, rate of record tasks (PTB-XL style)")
    beat_fs: float = Field(default=_INGEST.beat_fs, description="Hz, rate of beat tasks (MIT-BIH style)")
    beat_before_s: float = Field(default=_INGEST.beat_before_s, description="s of the beat window before the R peak")
    beat_after_s: float = Field(default=_INGEST.beat_after_s, description="s of the beat window after the R peak")
    context_s: float = Field(default=_INGEST.context_s, description="s, context window centred on the R peak")
    flat_mv: float = Field(default=_INGEST.flat_mv, description="mV, a lead with smaller peak-to-peak is flat")
    known_fs: list[float] = Field(
        default_factory=lambda: list(known_fs_from(os.environ.get(KNOWN_FS_ENV))),
        description="Hz, sampling rates a header may declare; others are quarantined as unknown_fs "
        f"({KNOWN_FS_ENV}: comma-separated rates added to the defaults; predict reads it too)",
    )
    max_gap_s: float = Field(default=_INGEST.max_gap_s, description="s, longest run of invalid samples interpolated")
    max_record_values: int = Field(
        default_factory=lambda: max_record_values_from(os.environ.get(MAX_RECORD_VALUES_ENV)),
        description="Samples over all signals above which a record is too_long (a beat-annotated one is read "
        f"in windows) ({MAX_RECORD_VALUES_ENV}; predict reads it too)",
    )
    max_quarantine_fraction: float = Field(
        default_factory=lambda: _max_quarantine(os.environ.get("ECGNET_MAX_QUARANTINE")),
        description="The quarantine check fails above this fraction of failed records "
        "(ECGNET_MAX_QUARANTINE overrides the default 0.1)",
    )

    rhythm_from_beat_records: bool = Field(
        default_factory=lambda: _flag("ECGNET_RHYTHM_FROM_BEATS", _INGEST.rhythm_from_beat_records),
        description="The af task's rhythm episodes from beat-annotated records too (LTAFDB), not only AF "
        "databases' (ECGNET_RHYTHM_FROM_BEATS=1)",
    )

    def config(self) -> IngestConfig:
        return IngestConfig(
            record_fs=self.record_fs,
            beat_fs=self.beat_fs,
            beat_before_s=self.beat_before_s,
            beat_after_s=self.beat_after_s,
            context_s=self.context_s,
            flat_mv=self.flat_mv,
            known_fs=tuple(self.known_fs),
            max_gap_s=self.max_gap_s,
            max_record_values=self.max_record_values,
            rhythm_from_beat_records=self.rhythm_from_beat_records,
        )

    def folders(self) -> list[Path]:
        return [Path(p) for p in self.sources]


class FeatureSettings(dg.ConfigurableResource):
    """Which array backend computes features; family parameters come from each task spec."""

    backend: str = Field(default="auto", description=f"{' | '.join(BACKENDS)}: auto is CuPy when a GPU is usable")

    def array_backend(self) -> Backend:
        return select_backend(self.backend)


def _native_bf16() -> bool:
    from ecgnet.train import native_bf16  # asks torch, so only when ECGNET_CPU_BF16=auto

    return native_bf16()


def _flag(name: str, default: bool, auto: Callable[[], bool] | None = None) -> bool:
    """An on/off setting from the environment: 1, 0, or, where `auto` is given, auto (what it says of
    this machine)."""
    value = os.environ.get(name, str(int(default))).strip()
    allowed = ("0", "1", "auto") if auto else ("0", "1")
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; fix: 1 (on), 0 (off)" + (" or auto" if auto else ""))
    return auto() if auto and value == "auto" else value == "1"


def _count(name: str, default: int, *, low: int, example: int | None = None) -> int:
    """A whole number of at least `low` from the environment, else `default`."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    value = whole_number(text, low)
    if value is None:
        raise ValueError(f"{name}={text!r}; fix: a whole number of at least {low}, e.g. {example or max(default, low)}")
    return value


class TrainingSettings(dg.ConfigurableResource):
    """Budgets of the model comparison and gate overrides; ECGNET_EPOCHS overrides the epoch default."""

    epochs: int = Field(
        default_factory=lambda: _count("ECGNET_EPOCHS", _TRAIN.epochs, low=1),
        description="Most epochs per trainable variant (early stopping may stop sooner)",
    )
    batch_size: int = Field(default=_TRAIN.batch_size)
    patience: int = Field(default=_TRAIN.patience, description="Epochs without a better validation metric")
    seed: int = Field(default=_TRAIN.seed)
    device: str = Field(default=_TRAIN.device, description="torch device: auto (CUDA when available) | cpu | cuda")
    cpu_bf16: bool = Field(
        default_factory=lambda: _flag("ECGNET_CPU_BF16", _TRAIN.cpu_bf16, _native_bf16),
        description="Train the time and spectrogram models in bfloat16 on the CPU (faster where the CPU has "
        "AMX or AVX512-BF16; scoring stays float32); ECGNET_CPU_BF16=1, 0 or auto (on where the CPU has "
        "either) overrides the default, off",
    )
    n_boot: int = Field(default=_COMPARISON.n_boot, description="Bootstrap draws per interval")
    folds: int = Field(
        default_factory=lambda: _count("ECGNET_FOLDS", _COMPARISON.folds, low=1, example=5),
        description="> 1: patient-grouped cross-validation over train + val, fold ensembles tested; "
        "1: one fit on train, chosen on val (ECGNET_FOLDS overrides the default)",
    )
    seeds: int = Field(
        default_factory=lambda: _count("ECGNET_SEEDS", _COMPARISON.seeds, low=1, example=2),
        description="With folds > 1: members per fold of every trained variant, each from its own seed, "
        "averaged (ECGNET_SEEDS overrides the default)",
    )
    one_seed: list[str] = Field(
        default_factory=lambda: [n.strip() for n in os.environ.get("ECGNET_ONE_SEED", "").split(",") if n.strip()],
        description="Variants kept at one member a fold whatever seeds says: the costly ones "
        "(ECGNET_ONE_SEED, comma-separated, overrides the default: none)",
    )
    explain_rows: int = Field(
        default_factory=lambda: _count("ECGNET_EXPLAIN_ROWS", _EXPLAIN.rows_per_class, low=0),
        description="Validation rows per class explained with Integrated Gradients: modality shares, "
        "ablation, faithfulness and attribution maps per variant; 0: none (ECGNET_EXPLAIN_ROWS overrides)",
    )
    selection: str = Field(
        default=_COMPARISON.selection,
        description="How the candidate is chosen on validation: parsimony (the smallest variant not worse "
        "than the best beyond its patient-paired interval) | best (the highest validation metric)",
    )
    gate_minimum: dict[str, float] = Field(
        default_factory=dict,
        description="Task name -> the gate's minimum validation metric, instead of the task spec's",
    )

    def config(self, spec: TaskSpec) -> ComparisonConfig:
        """The comparison of `spec`: its variants, these budgets."""
        return ComparisonConfig(
            variants=task_variants(spec),
            n_boot=self.n_boot,
            folds=self.folds,
            seeds=self.seeds,
            one_seed=tuple(self.one_seed),
            selection=self.selection,
            explain=replace(_EXPLAIN, rows_per_class=self.explain_rows) if self.explain_rows > 0 else None,
            train=TrainConfig(
                epochs=self.epochs,
                batch_size=self.batch_size,
                patience=self.patience,
                seed=self.seed,
                device=self.device,
                cpu_bf16=self.cpu_bf16,
            ),
        )

    def minimum(self, spec: TaskSpec) -> float:
        return self.gate_minimum.get(spec.name, spec.gate_min)


class ScoringSettings(dg.ConfigurableResource):
    """Where the champions find new records to score: `<inbox>/<task>/` (the scoring assets, their sensor)."""

    inbox: str = Field(
        default="", description="Inbox folder, a subfolder a task (default: ECGNET_INBOX, else <workspace>/inbox)"
    )

    def root(self, workspace: Workspace) -> Path:
        return Path(self.inbox) if self.inbox else inbox_root(workspace)

    def folder(self, workspace: Workspace, task: TaskSpec) -> Path:
        """The task's inbox folder (`inbox/beats/`)."""
        return self.root(workspace) / task.name


def resources(store: EcgnetStore | None = None, **settings: dg.ConfigurableResource) -> dict:
    """Every resource the definitions use, over one workspace; `settings` replaces any by key."""
    store = store or EcgnetStore()
    return {
        "store": store,
        "mlflow": MlflowTracking(store=store),
        "ingest": IngestSettings(),
        "features": FeatureSettings(),
        "training": TrainingSettings(),
        "scoring": ScoringSettings(),
        **settings,
    }
