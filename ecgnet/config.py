"""Typed configuration of ECGNet: model sizes, training, augmentation, explanations and the comparison.

Plain dataclasses with the defaults every entry point shares (the Dagster resources show and override
them in the launchpad). Nothing here imports torch, MLflow or scikit-learn, so the Dagster code location
loads without them: the UI, the daemon and every run worker start that much sooner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .promotion import SELECTIONS
from .variants import VARIANTS

# rows per forward pass when scoring on the CPU: a pass's activations grow with its rows (the demo's beats
# champion, late_stacker: about 50 kB a row, so an 8-hour record's 34,000 beats at once took 1.7 GB more
# than the features did, 2026-12-07), and 1,024 rows scores no slower on 2 cores than one pass
CPU_SCORE_ROWS = 1024


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


@dataclass(frozen=True)
class AugmentConfig:
    scale: float = 0.15  # gain drawn from U(1 - scale, 1 + scale), per row and lead
    noise: float = 0.05  # white noise standard deviation (standardised units)
    wander: float = 0.1  # standard deviation of an added offset and of a linear drift over the window
    shift: int = 5  # samples: the window moves by up to this many either way (edges repeat)


@dataclass(frozen=True)
class RhythmJitter:
    """Beat tasks: each training row's RR features as if its record's references had come out otherwise.

    Every RR column is a beat's interval in seconds or over one of its record's references (the mean,
    the slow median, the 90th percentile; feature_store.transforms.rhythm). Where they agree a model may
    play them against each other, and a record whose references disagree as no training record's do
    (DS2's 232: S beats are most of it, so its mean and median are their rhythm, and its pauses are its
    90th percentile) is then read wrongly however early its beats are. Scaling each reference
    independently per row teaches that any one of them may be off, and the heart rate with `tempo`."""

    reference: float = 1.5  # each reference scaled by a log-uniform factor in [1 / reference, reference]
    tempo: float = 1.3  # every interval in seconds scaled together, log-uniform in [1 / tempo, tempo]


@dataclass(frozen=True)
class ConductionSwap:
    """Beat tasks: some training beats of one class wear the conduction of another class's beat.

    A supraventricular beat is conducted through the ventricles as the record's normal beats are, so
    its QRS shape says what the record conducts with (a bundle-branch block, say), not that it is
    premature; a model that learnt "this shape is N" from the records where every blocked beat is N then
    reads a blocked record's S beats as N whatever their rhythm. Each `label` row in a batch takes, with
    probability `share`, the waveform and morphology scalars (every time scalar after the rhythm ones)
    of a `donor` row drawn from the same batch, keeping its own rhythm and label."""

    share: float = 0.5
    label: str = "S"
    donor: str = "N"


@dataclass(frozen=True)
class ShapeDropout:
    """Beat tasks: some training beats are shown with their shape withheld and their rhythm kept.

    Where DS1 pairs a QRS shape with one class only (every bundle-branch-blocked beat it trains on is N),
    a model can learn the shape as the answer and stop reading the rhythm, and then calls a blocked
    record's premature beats N. With probability `share` a training row of any class loses its waveform
    (each lead flattened to the batch's mean level) and its morphology scalars (every time scalar after the
    rhythm ones, set to the batch's column means), so the rhythm has to answer alone for those rows; the
    network still sees both, together, on every other row and at scoring."""

    share: float = 0.3


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 5  # epochs without a better validation metric before stopping
    seed: int = 0
    device: str = "auto"  # torch device: auto (CUDA when available) | cpu | cuda
    amp: bool = True  # mixed precision on CUDA (float16 with a gradient scaler)
    # bfloat16 autocast in training on the CPU, for the models that declare it pays (`cpu_bf16`: the
    # convolutional time and spectrogram models; a CPU step of the frequency Transformer is 2.3x slower in
    # bfloat16). Scoring stays float32. Off: the arithmetic every table in the README was measured with
    cpu_bf16: bool = False
    class_weighting: bool = True  # single-label tasks: inverse-frequency class weights in the loss
    # and those weights raised to this power (1: inverse frequency; 0.5: its square root, a softer balance
    # that trades rare-class sensitivity for positive predictivity: on DS1 CV S Se 0.58 -> 0.43 and
    # 0.75 -> 0.48 with two seeds, the headline down 0.01-0.04; benchmarks/ABLATIONS.md, "Softer class weights")
    class_weight_power: float = 1.0
    # time-modality waveforms augmented in training (ecgnet.augment); measured on DS1 twice (2026-11-30 and,
    # on today's model, 2026-12-05): noise both times, so off
    augment: AugmentConfig | None = None
    rhythm_jitter: RhythmJitter | None = None  # beat tasks: RR references scaled per row in training
    conduction_swap: ConductionSwap | None = None  # beat tasks: S beats wear N beats' shapes in training
    shape_dropout: ShapeDropout | None = None  # beat tasks: some training beats show their rhythm only
    # single-label tasks: each epoch trains on every row of the classes with at most `class_cap` rows
    # and a fresh random `class_cap` of each larger class (MIT-BIH: N is 90 % of DS1), so an epoch costs
    # a fraction of a full pass and, over epochs, every row is still seen; class weights follow the
    # capped counts. None: every row every epoch
    class_cap: int | None = None
    # single-label tasks: within each class, a patient's rows weigh (its rows of that class)^-patient_balance,
    # rescaled so the class keeps its total weight: 0 changes nothing; 1 gives every patient the same say in
    # each class, where MIT-BIH DS1's S beats are otherwise 40 % record 209's and learnt as its S looks
    patient_balance: float = 0.0
    # an exponential moving average of the weights (batch-norm statistics too), updated every step, is what
    # each epoch is scored and kept as: averaged weights sit in flatter minima, which carry better to unseen
    # domains (SWAD, Cha et al. 2021), here unseen patients. The per-step decay; None: the raw weights
    weight_average: float | None = None
    # single-label tasks: the focal loss's exponent (ecgnet.losses): rows the model already reads right
    # weigh (1 - p_true)^focal_gamma of their cross-entropy; 0: the plain (class-weighted) cross-entropy.
    # Gamma 2 on DS1 CV: within noise, the blocked records' S beats found less often (benchmarks/ABLATIONS.md)
    focal_gamma: float = 0.0
    # mixup (ecgnet.augment.mix_rows): each batch trains on convex mixes of its rows and of their losses,
    # lam ~ Beta(mixup, mixup); a smoother boundary between classes, which may carry better to unseen
    # patients. None: the rows as they are. Alpha 0.2 on DS1 CV lost with both seeds (-0.063, -0.023: false
    # S and V from mixed rows; benchmarks/ABLATIONS.md, "Waveform augmentation, mixup and test-time augmentation")
    mixup: float | None = None
    # single-label tasks: a class with fewer training rows than this weighs 0 in the loss (its rows train
    # nothing; its logit is only ever pushed down). Inverse-frequency weights give every class the total say
    # of N, so MIT-BIH DS1's 8 Q beats weigh some 1,300 N beats each. 0: every class as its weight says. Q out
    # (100) on DS1 CV lost with both seeds (-0.025, -0.036 paired; S Se 0.69 -> 0.48, 0.76 -> 0.65;
    # benchmarks/ABLATIONS.md, "The rarest class out of the loss")
    min_class_rows: int = 0


@dataclass(frozen=True)
class ExplainConfig:
    # stratified sample explained: IG costs n_steps forward and backward passes per row and fold member;
    # 50 a class keeps explanations to about a tenth of a 2-core run (README, issue 10 note)
    rows_per_class: int = 50
    n_steps: int = 128  # integration steps (Gauss-Legendre): within 1 % of completeness on real beats (64: 1.4 %)
    # models without gradients (trees): feature orders sampled for Shapley values (completeness is exact
    # at any number; more orders, less noise in each attribution)
    shapley_samples: int = 10
    fractions: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)  # deletion curve points
    seed: int = 0


ENCODER_CHOICES = ("frozen", "fine_tune", "scratch")


@dataclass(frozen=True)
class ComparisonConfig:
    variants: tuple[str, ...] = tuple(VARIANTS)
    train: TrainConfig = field(default_factory=TrainConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    n_boot: int = 200  # bootstrap draws for every interval
    # intermediate variants' encoders: "frozen" (the trained single models' encoders, fixed: only the
    # fusion head trains, on embeddings computed once), "fine_tune" (start from them, train end to end)
    # or "scratch". Frozen is the default: on MIT-BIH it costs seconds a fold instead of 4.5 CPU
    # minutes, and DS1 cross-validation does not tell the two apart (concat 0.386 frozen vs 0.414
    # fine-tuned, gated 0.392 vs 0.372; reruns move these by about 0.03)
    intermediate_encoders: str = "frozen"
    # > 1: patient-grouped k-fold cross-validation over train + val (ecgnet.crossval); every variant is
    # scored out of fold and tested as its fold ensemble. 1: one fit on train, scored on val.
    folds: int = 1
    # under cross-validation: patients placed in folds by their class mix (scikit-learn's
    # StratifiedGroupKFold; ecgnet.crossval.patient_folds) instead of dealt at random; single-label tasks
    stratify_folds: bool = False
    # under cross-validation: members per fold of every trained variant, each from its own seed (the
    # train seed, then + SEED_STEP each), their mean the fold's prediction: an ensemble over
    # initialisation and batch order as well as over folds. On MIT-BIH DS1 two seeds' averaged
    # out-of-fold probabilities of the time variant scored 0.761 and 0.764 against 0.745-0.755 alone
    # (README); k x seeds members cost seeds times the training and the latency. Closed-form variants
    # (classical) keep one member a fold: a second seed would fit the same model
    seeds: int = 1
    # variants kept at one member a fold whatever `seeds` says: the costly ones a time budget cannot
    # double (the "fewer folds for the costly variants"). Fusion members of a later seed build
    # on such a variant's seed-0 member of their fold
    one_seed: tuple[str, ...] = ()
    # single-label tasks scored by macro F1: per-class decision offsets fitted on (out-of-fold)
    # validation probabilities (ecgnet.decisions), kept only where their cross-fitted validation metric
    # beats the plain argmax's beyond noise: the lower end of the gain's patient-paired 95 % interval
    # above `offsets_min_gain`. On MIT-BIH DS1 most variants gain nothing across patients, and offsets
    # that fit some patients' class mix move others' decisions a long way (a +0.019 gain with interval
    # [-0.022, +0.049] cost the ensemble V sensitivity on DS2 when the rule was a fixed +0.01)
    decision_offsets: bool = True
    offsets_min_gain: float = 0.0
    # Integrated Gradients on a stratified sample of validation rows: modality shares, ablation,
    # faithfulness (ecgnet.explain). Off (None) until its cost is bounded: on 2 cores it made the
    # model tests several times slower
    explain: ExplainConfig | None = None
    # how the candidate is chosen on validation: "parsimony" (the smallest variant whose validation metric
    # is not below the best one's beyond noise, patient-paired; promotion.choose_parsimonious) or "best"
    # (the highest validation metric). On MIT-BIH DS1 the top four variants lay within 0.01 of each other
    # with paired intervals across zero, and "best" moved between them from run to run
    selection: str = "parsimony"

    def __post_init__(self) -> None:
        if self.seeds < 1 or (self.seeds > 1 and self.folds < 2):
            raise ValueError(
                f"seeds={self.seeds} with folds={self.folds}; fix: seeds >= 1, and above 1 only with folds > 1"
            )
        unknown = sorted(set(self.one_seed) - set(VARIANTS))
        if unknown:
            raise ValueError(f"one_seed names unknown variants {unknown}; fix: some of {', '.join(VARIANTS)}")
        if self.intermediate_encoders not in ENCODER_CHOICES:
            raise ValueError(
                f"intermediate_encoders={self.intermediate_encoders!r}; fix: one of {', '.join(ENCODER_CHOICES)}"
            )
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection={self.selection!r}; fix: one of {', '.join(SELECTIONS)}")
