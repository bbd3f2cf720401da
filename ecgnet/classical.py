"""The classical references: hand-made features and a model fitted with scikit-learn.

Per de Chazal et al. 2004: RR intervals (raw and relative to the record's own rhythm, from the time
view) and the beat's morphology sampled at fixed points, scored by a linear discriminant with equal
class priors (their class-weighted LDA). Multi-label tasks get one class-balanced logistic regression
per class. The fitted model is kept as one linear layer over the same features, so it is exported,
logged, registered and served like every other variant.

The boosted reference reads the same features (by default the scalars alone) with gradient-boosted
trees (`HistGradientBoostingClassifier`, class-balanced), kept as a tree module (ecgnet.trees) for
the same reasons. On MIT-BIH DS1 cross-validation it scored 0.687 +- 0.033 against the LDA's
0.576 +- 0.073 (benchmarks/ABLATIONS.md): the strongest classic is the fairer yardstick. With
`BoostingConfig.monotone_rhythm` it fits one binary ensemble a class instead, constrained so that coming
earlier never argues against S or V, nor for N (measured, within noise on DS1: off).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_sample_weight
from torch import nn

from feature_store.config import IngestConfig
from feature_store.transforms.rhythm import BEAT_RR_NAMES

from .config import ModelConfig
from .data import Split, TaskData, rhythm_columns
from .models.blocks import Normalizer
from .models.rhythm import EARLIER, NORMAL, PREMATURE
from .trees import Forest, TreeEnsemble, boosted_forest

log = logging.getLogger(__name__)

MORPHOLOGY_POINTS = 20  # "uniform": samples per lead, evenly over the time view's waveform
# "waves": seconds from the R peak, as de Chazal's fixed-rate samples of the P wave, the QRS complex
# (10, ~17 ms apart) and the T wave (9); no delineator is needed since beats are centred on their R peak
WAVE_TIMES_S = (
    *np.linspace(-0.20, -0.08, 4),
    *np.linspace(-0.05, 0.10, 10),
    *np.linspace(0.15, 0.43, 9),
)
ABSENT_LOGIT = -30.0  # a class with no train rows is never predicted

Inputs = dict[str, dict[str, torch.Tensor]]


class HandMadeFeatures(nn.Module):
    """The time view's waveform sampled at fixed points and its chosen scalars, as one row a beat."""

    # buffers, declared for the type checker
    index: torch.Tensor | None
    scalars: torch.Tensor

    def __init__(self, data: TaskData, morphology: str, classical_scalars: str):
        super().__init__()
        shapes = data.shapes("time")
        leads, samples = shapes["waveform"]
        before_s = data.spec.view_params["time"].beat_before_s  # the time view's own window, where it has one
        index = morphology_index(samples, morphology, beats=data.spec.unit == "beat", before_s=before_s)
        # no samples: no buffer (torch.export.save fails on an empty tensor: "numel: integer multiplication overflow")
        self.register_buffer("index", torch.from_numpy(index) if len(index) else None)
        scalars = scalar_index(int(np.prod(shapes["scalars"])), classical_scalars)
        self.register_buffer("scalars", torch.from_numpy(scalars))
        self.width = leads * len(index) + len(scalars)

    def features(self, x: Inputs) -> torch.Tensor:
        scalars = x["time"]["scalars"].flatten(1)[:, self.scalars]
        if self.index is None:
            return scalars
        morphology = x["time"]["waveform"][:, :, self.index].flatten(1)  # (B, leads * points)
        return torch.cat([morphology, scalars], dim=1)  # (B, width)


class LinearReference(HandMadeFeatures):
    """Standardised hand-made features -> one linear layer (LDA or logistic coefficients)."""

    def __init__(self, data: TaskData, cfg: ModelConfig | None = None):
        cfg = cfg or ModelConfig()
        super().__init__(data, cfg.morphology, cfg.classical_scalars)
        self.norm = Normalizer(torch.zeros(self.width), torch.ones(self.width))  # set from the train split by `fit`
        self.linear = nn.Linear(self.width, len(data.classes))

    def forward(self, x: Inputs) -> torch.Tensor:
        return self.linear(self.norm(self.features(x)))


class BoostedReference(HandMadeFeatures):
    """Hand-made features -> gradient-boosted trees (no scaling: trees split on raw values)."""

    def __init__(self, data: TaskData, cfg: ModelConfig | None = None):
        cfg = cfg or ModelConfig()
        super().__init__(data, cfg.boosting.morphology, cfg.classical_scalars)
        self.boosting = cfg.boosting
        self.trees = TreeEnsemble(len(data.classes))

    def forward(self, x: Inputs) -> torch.Tensor:
        return self.trees(self.features(x))


def morphology_index(samples: int, how: str, *, beats: bool, before_s: float | None = None) -> np.ndarray:
    """Sample indices into a waveform of `samples`. "waves" needs beats cut as ingest cuts them, the R
    peak `before_s` into the window (None: IngestConfig's `beat_before_s`; the time view may start its
    window elsewhere, TimeParams.beat_before_s) and the window's end ingest's; other rows are sampled
    evenly; "none": no samples, the view's scalars alone (rhythm and the record-relative descriptors)."""
    if how not in ("waves", "uniform", "none"):
        raise ValueError(f"morphology must be 'waves', 'uniform' or 'none', got {how!r}")
    if how == "none":
        return np.zeros(0, dtype=np.int64)
    if how == "uniform" or not beats:
        return np.unique(np.linspace(0, samples - 1, MORPHOLOGY_POINTS).round().astype(np.int64))
    window = IngestConfig()
    before_s = window.beat_before_s if before_s is None else before_s
    fs = samples / (before_s + window.beat_after_s)
    index = np.round((np.asarray(WAVE_TIMES_S) + before_s) * fs).astype(np.int64)
    return np.unique(np.clip(index, 0, samples - 1))


RAW_INTERVALS = ("rr_prev_s", "rr_next_s", "rr_local_s", "rr_record_s")


def scalar_index(width: int, which: str) -> np.ndarray:
    """Columns of the time view's scalars (`width` of them; the RR columns first, in BEAT_RR_NAMES
    order, ecgnet.data.INPUTS) the classical reference reads: "all" or "intervals" (RAW_INTERVALS)."""
    if which == "all":
        return np.arange(width, dtype=np.int64)
    if which == "intervals":
        return np.array([BEAT_RR_NAMES.index(n) for n in RAW_INTERVALS], dtype=np.int64)
    raise ValueError(f"classical_scalars must be 'all' or 'intervals', got {which!r}")


def _features(model: HandMadeFeatures, split: Split) -> np.ndarray:
    x = {"time": {k: torch.from_numpy(np.array(v, np.float32)) for k, v in split.x["time"].items()}}
    with torch.no_grad():
        return model.features(x).numpy().astype(np.float64)


def fit_reference(model: LinearReference | BoostedReference, data: TaskData) -> dict:
    """Fit on the train split only (validation and test are scored by the caller); returns what was fitted."""
    if isinstance(model, BoostedReference):
        return _fit_boosted(model, data)
    x = _features(model, data.train)
    mean, std = standardisation(x)
    z = (x - mean) / std
    coef, intercept, fitted = (_logistic if data.multilabel else _lda)(z, data.train.y, tuple(data.classes))
    with torch.no_grad():
        model.norm.mean.copy_(torch.from_numpy(mean))
        model.norm.std.copy_(torch.from_numpy(std))
        model.linear.weight.copy_(torch.from_numpy(coef))
        model.linear.bias.copy_(torch.from_numpy(intercept))
    return {"features": int(x.shape[1]), **fitted}


def standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of `x` (rows, features); a constant feature keeps scale 1."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    return mean, np.where(std > 1e-8, std, 1.0)


def equal_prior_lda(z: np.ndarray, y: np.ndarray, classes: tuple[str, ...] | None = None) -> LinearDiscriminantAnalysis:
    """The linear reference's discriminant: shrinkage LDA with equal priors over the classes present
    (`classes`: the names of y's indices, for the log)."""
    present, counts = np.unique(y, return_counts=True)
    priors = np.full(len(present), 1 / len(present))
    lone = [classes[c] if classes else c for c in present[counts == 1].tolist()]
    with warnings.catch_warnings():
        if lone:
            # a one-row class has no spread of its own: the pooled covariance is the other classes', which
            # is what LDA means there; scikit-learn's "Only one sample available" says less than this line
            log.warning("linear reference: class %s has one training row (its mean is that row)", lone)
            warnings.filterwarnings("ignore", message="Only one sample available", category=UserWarning)
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", priors=priors).fit(z, y)


def _lda(z: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, dict]:
    """`equal_prior_lda`; softmax of its decision function is its posterior, so the coefficients become
    logits."""
    present, n_classes = np.unique(y), len(classes)
    lda = equal_prior_lda(z, y, classes)
    coef, intercept = np.zeros((n_classes, z.shape[1])), np.full(n_classes, ABSENT_LOGIT)
    if len(present) == 2:  # scikit-learn keeps one row, the log-odds of the second class
        coef[present[1]], intercept[present[1]] = lda.coef_[0], lda.intercept_[0]
        intercept[present[0]] = 0.0
    else:
        coef[present], intercept[present] = lda.coef_, lda.intercept_
    return coef, intercept, {"model": "lda", "classes_fitted": len(present)}


def _logistic(z: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, dict]:
    """One class-balanced logistic regression per class (multi-label): its logits are the linear layer's."""
    n_classes = len(classes)
    coef, intercept = np.zeros((n_classes, z.shape[1])), np.full(n_classes, ABSENT_LOGIT)
    fitted = 0
    for c in range(n_classes):
        if 0 < y[:, c].sum() < len(y):
            clf = LogisticRegression(class_weight="balanced", max_iter=2000).fit(z, y[:, c])
            coef[c], intercept[c] = clf.coef_[0], clf.intercept_[0]
            fitted += 1
    return coef, intercept, {"model": "logistic", "classes_fitted": fitted}


def _fit_boosted(model: BoostedReference, data: TaskData) -> dict:
    """Class-balanced boosted trees (single-label), or one binary ensemble a class (multi-label), as
    the model's `BoostingConfig` says."""
    cfg = model.boosting
    x, y, n_classes = _features(model, data.train), np.asarray(data.train.y), len(data.classes)
    bias = np.full(n_classes, ABSENT_LOGIT)
    forest, fitted = None, 0
    signs = earlier_signs(model, data) if cfg.monotone_rhythm else None
    targets: list[tuple[int | None, np.ndarray]]  # (class, its target), or (None, every class) for one fit
    if data.multilabel:
        targets = [(c, y[:, c]) for c in range(n_classes)]
    elif signs is not None:  # one against the rest: its log-odds are the class's logit
        targets = [(c, (y == c).astype(np.int64)) for c in range(n_classes)]
    else:
        targets = [(None, y)]
    for c, target in targets:
        present = np.unique(target)
        if len(present) < 2:
            continue  # a class constant on train keeps the "never" logit, as the logistic reference does
        trees = HistGradientBoostingClassifier(
            max_iter=cfg.rounds,
            learning_rate=cfg.learning_rate,
            max_leaf_nodes=cfg.leaves,
            l2_regularization=cfg.l2,
            min_samples_leaf=max(1, min(cfg.min_leaf, len(x) // 10)),
            early_stopping=False,  # a fixed budget: no random split of one patient's beats into its own check
            random_state=cfg.seed,
            # signs come with one fit a class (targets above): c is None only where signs is too
            monotonic_cst=None if signs is None or c is None else signs * _direction(data.classes[c]),
        )
        trees.fit(x, target, sample_weight=compute_sample_weight("balanced", target))
        if c is not None:  # multi-label, or one against the rest: class c's log-odds
            part, base = boosted_forest(trees, [c])
            bias[c] = base[0]
        elif len(present) == 2:  # one tree a round: the second class's log-odds, the first at 0
            part, base = boosted_forest(trees, present[1:])
            bias[present[0]], bias[present[1]] = 0.0, base[0]
        else:
            part, base = boosted_forest(trees, present)
            bias[present] = base
        forest = part if forest is None else forest + part
        fitted += 1 if c is not None else len(present)
    if forest is None:
        raise ValueError(f"task {data.spec.name!r}: the train split has one class only; fix: add records of the others")
    model.trees.set_forest(forest, bias)
    return {"features": int(x.shape[1]), "model": "boosted_trees", "classes_fitted": fitted, **_size(forest)}


def earlier_signs(model: HandMadeFeatures, data: TaskData) -> np.ndarray:
    """(features,) the sign with which each feature the model reads moves as a beat comes earlier
    (EARLIER), 0 for the rest (waveform samples, morphology scalars, the RR context beyond the beat's own
    intervals)."""
    if data.spec.unit != "beat":
        raise ValueError(f"task {data.spec.name!r}: monotone_rhythm reads beat RR columns; fix: set it False")
    rr, context = rhythm_columns(data.spec)
    rhythm = (*rr, *context)
    columns = model.scalars.numpy()
    names = [rhythm[i] if i < len(rhythm) else "" for i in columns]
    samples = 0 if model.index is None else model.width - len(columns)  # the waveform samples come first
    return np.array([0] * samples + [EARLIER.get(n, 0) for n in names], dtype=np.int64)


def _direction(label: str) -> int:
    """+1: the class coming earlier argues for (the premature ones); -1: against (normal); 0: neither."""
    return 1 if label in PREMATURE else -1 if label == NORMAL else 0


def _size(forest: Forest) -> dict:
    return {"trees": len(forest.roots), "nodes": len(forest.nodes["number"]), "depth": forest.depth}
