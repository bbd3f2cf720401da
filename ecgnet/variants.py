"""The variant registry: each variant's name, kind and what it is made of, and which a task trains.

Plain data (no torch): the Dagster definitions name one asset per variant when the code location loads,
which then stays free of torch; ecgnet.fusion builds the networks these names stand for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feature_store.tasks import TaskSpec

# the single models' views, in the order every fusion variant joins them (ecgnet.models.MODALITIES builds them)
MODALITY_NAMES = ("time", "frequency", "spectrogram")


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str  # "single" | "early" | "intermediate" | "late" | "ensemble" | "classical"
    description: str
    modality: str | None = None  # single variants, and the view a classical one reads
    gated: bool = False  # intermediate variants
    stacker: bool = False  # late variants
    members: tuple[str, ...] = ()  # ensemble variants: the variants whose probabilities they average
    boosted: bool = False  # classical variants: boosted trees instead of a linear discriminant

    @property
    def inputs(self) -> tuple[str, ...]:
        """The trained variants this one builds on: intermediate variants warm-start from, and late ones
        combine, the three single models; an ensemble averages its members."""
        if self.kind in ("intermediate", "late"):
            return MODALITY_NAMES
        return self.members


FUSION = ("early", "intermediate_concat", "intermediate_gated", "late_average", "late_stacker")


VARIANTS = {
    v.name: v
    for v in [
        Variant("time", "single", "residual 1-D CNN over the time view", modality="time"),
        Variant("frequency", "single", "1-D CNN + Transformer over the spectral view", modality="frequency"),
        Variant("spectrogram", "single", "2-D CNN over the spectrogram view", modality="spectrogram"),
        Variant("early", "early", "views normalised, projected to one width, joined, one MLP"),
        Variant("intermediate_concat", "intermediate", "the single models' encoders, embeddings concatenated + MLP"),
        Variant(
            "intermediate_gated",
            "intermediate",
            "the single models' encoders, learned softmax gate over modalities",
            gated=True,
        ),
        Variant("late_average", "late", "single-model probabilities, weights tuned on validation"),
        Variant("late_stacker", "late", "logistic regression on validation probabilities", stacker=True),
        Variant(
            "fusion_ensemble",
            "ensemble",
            "mean probability of the five fusion variants, decision offsets refitted",
            members=FUSION,
        ),
        Variant(
            "classical",
            "classical",
            "linear discriminant over RR intervals and beat morphology samples (de Chazal et al. 2004)",
            modality="time",
        ),
        Variant(
            "classical_trees",
            "classical",
            "gradient-boosted trees over the same hand-made RR and morphology descriptors",
            modality="time",
            boosted=True,
        ),
    ]
}
SINGLE_VARIANTS = [v for v in VARIANTS.values() if v.kind == "single"]


def task_variants(spec: TaskSpec) -> tuple[str, ...]:
    """The variants `spec`'s comparison trains, in registry (dependency) order: its own list, or every
    variant. Raises, naming the fix, for a name not in the registry or a variant without what it is made of."""
    if not spec.variants:
        return tuple(VARIANTS)
    unknown = [n for n in spec.variants if n not in VARIANTS]
    if unknown:
        raise ValueError(f"task {spec.name!r}: variants {unknown} are not among {list(VARIANTS)}")
    for name in spec.variants:
        missing = [n for n in VARIANTS[name].inputs if n not in spec.variants]
        if missing:
            raise ValueError(
                f"task {spec.name!r}: variant {name!r} is made of {list(VARIANTS[name].inputs)}; "
                f"fix: add {missing} to the task's variants"
            )
    return tuple(n for n in VARIANTS if n in spec.variants)
