"""Asset names of a task, all derived from its spec's prefix: one place spells them."""

from __future__ import annotations

from dataclasses import dataclass

from feature_store.tasks import TaskSpec
from feature_store.views.families import FAMILIES

from .assets.ingest import INGEST_ASSETS


@dataclass(frozen=True)
class TaskAssets:
    spec: TaskSpec

    def feature(self, family: str) -> str:
        return f"{self.spec.asset_prefix}_{family}_features"

    @property
    def train_stats(self) -> str:
        return f"{self.spec.asset_prefix}_train_stats"

    @property
    def training_data(self) -> str:
        return f"{self.spec.asset_prefix}_training_data"

    def model(self, variant: str) -> str:
        return f"{self.spec.asset_prefix}_{variant}_model"

    @property
    def comparison(self) -> str:
        return f"{self.spec.asset_prefix}_fusion_comparison"

    @property
    def champion(self) -> str:
        return f"{self.spec.asset_prefix}_champion_model"

    @property
    def predictions(self) -> str:
        return f"{self.spec.asset_prefix}_inbox_predictions"

    def raw(self) -> list[str]:
        """The ingest assets of the task's source kinds."""
        unknown = [k for k in self.spec.source_kinds if k not in INGEST_ASSETS]
        if unknown:
            raise ValueError(
                f"task {self.spec.name!r}: source kinds {unknown} have no ingest asset; "
                f"choose from {sorted(INGEST_ASSETS)}"
            )
        return [INGEST_ASSETS[k][0] for k in self.spec.source_kinds]

    def views(self) -> dict[str, str]:
        """Input name -> feature asset, one per family."""
        return {f"{family}_view": self.feature(family) for family in FAMILIES}
