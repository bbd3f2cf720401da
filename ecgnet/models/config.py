"""Hyper-parameters of the modality encoders and fusion heads."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BoostingConfig:
    """The boosted classical reference (ecgnet.classical.BoostedReference). On MIT-BIH DS1 5-fold CV,
    300 rounds of 31 leaves over the time view's scalars scored 0.687 +- 0.033 macro-F1 (N,S,V); with
    20 waveform samples a lead as well 0.676 +- 0.055 (benchmarks/ABLATIONS.md)."""

    rounds: int = 300
    learning_rate: float = 0.1
    leaves: int = 31
    l2: float = 1.0
    # rows a leaf needs: scikit-learn's 20, but at most a tenth of the train rows, since 20 leaves no
    # split at all in a few dozen rows (the demo's record task trains on 41) and every row gets the same answer
    min_leaf: int = 20
    morphology: str = "none"  # waveform samples it reads besides the scalars, as ModelConfig.morphology
    seed: int = 0
    # beat tasks: one binary ensemble a class (one against the rest), those of the premature classes (S, V)
    # constrained to grow, and N's to fall, as the beat comes earlier by each of its RR columns
    # (ecgnet.models.rhythm.EARLIER); scikit-learn constrains binary trees only. False: one multi-class fit.
    # On DS1 5-fold CV 0.705 +- 0.041 against 0.687 +- 0.033, out of fold +0.002 [-0.031, +0.040] paired by
    # patient, and no more S found in runs (benchmarks/ABLATIONS.md): off
    monotone_rhythm: bool = False


@dataclass(frozen=True)
class ModelConfig:
    embed_dim: int = 64  # width of every modality embedding: fusion joins equal-width vectors
    channels: int = 16  # first conv width; deeper stages double it
    scalar_dim: int = 32  # width of the MLP over scalar descriptors (RR, moments, band powers)
    dropout: float = 0.2
    heads: int = 4  # attention heads in the frequency Transformer
    layers: int = 2  # Transformer encoder layers
    # dropout inside the frequency Transformer's layers (attention weights, after attention, feed-forward);
    # the heads keep `dropout`. Drawing these masks was 40 % of a CPU training step: without them the
    # frequency variant's DS1 cross-validation takes half the time (785 -> 362 s, 806 -> 423 s on 2 cores)
    # at a cost within rerun noise (CV 0.397 -> 0.391, 0.412 -> 0.400; benchmarks/ABLATIONS.md)
    attention_dropout: float = 0.0
    fusion_hidden: int = 128  # hidden width of fusion heads
    # classical reference: where each beat's waveform is sampled ("uniform": 20 points evenly over the
    # window; "waves": P, QRS and T windows around the R peak, densest over the QRS, as de Chazal et al.
    # 2004; "none": the scalars alone). On MIT-BIH DS1 5-fold CV "uniform" scored 0.317 +- 0.117 macro-F1,
    # "waves" 0.276 +- 0.068
    morphology: str = "uniform"
    # and which of the time view's scalars it reads: "all" (RR intervals raw and over each record
    # reference, moments, QRS energy, the record template) or "intervals" (the four raw RR intervals
    # in seconds, before, after, local mean, record mean: de Chazal's RR features)
    classical_scalars: str = "all"
    boosting: BoostingConfig = field(default_factory=BoostingConfig)
    # beat tasks, time encoders: the share of training rows whose RR columns are read against one of
    # their record's references only (drawn per row); > 0 also makes evaluation average the readings
    # against each reference (ecgnet/models/readings.py). 0: off; on DS1's S-runs instrument 1.0 moved
    # S under the runs 0.397 -> 0.423 (noise) and the CV headline 0.704 -> 0.689 (benchmarks/ABLATIONS.md)
    reference_readings: float = 0.0
    # beat tasks, time encoders: "additive" or "gated": the beat's own intervals reach the logits only as
    # its prematurity against each record reference, with non-negative weights for the premature classes
    # (S, V; "gated": weights that also depend on the beat's embedding), and no longer reach the rest of
    # the network (ecgnet/models/rhythm.py). "off": read freely, as every other scalar. On DS1 5-fold CV
    # "additive" and "gated" both lost 0.04 (0.720 -> 0.681; benchmarks/ABLATIONS.md)
    monotone_rhythm: str = "off"
    # time encoder: the convolved waveform pooled over this many equal spans of the window, kept in order
    # (1: one mean over the whole window). A beat window is cut around its R peak, so where a shape sits
    # (before the QRS: a P wave; after it: the T wave) is itself evidence that one global mean discards.
    # On DS1 CV 4 spans equalled the mean (0.719 vs 0.724), 8 lost 0.07 (benchmarks/ABLATIONS.md)
    time_segments: int = 1
    # time encoder, where the view has a `strip` (TimeParams.strip_fs): its own small CNN over the strip,
    # pooled over this many ordered spans (the beat sits at the centre, its neighbours either side)
    strip_segments: int = 8
