"""Training and comparing variants: used by the Dagster assets and by the MIT-BIH benchmark.

Every choice (early stopping, late-fusion weights, the stacker, the best single model, the
champion) uses the validation split; the test split is only scored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from . import seeds
from .calibration import one_class
from .classical import BoostedReference, LinearReference, fit_reference
from .config import CPU_SCORE_ROWS, ComparisonConfig
from .crossval import FoldEnsemble, development, folds, member_index, scored_on_development
from .data import Split, TaskData, training_rows
from .decisions import Decision, DecisionOffsets, apply_offsets, decide, kept_offsets
from .evaluate import evaluate, headline, latency_ms, metric_interval, n_parameters, paired_bootstrap
from .explain import Explained, explain_variant
from .fusion import (
    EMBEDDING,
    MODALITIES,
    IntermediateFusion,
    LateFusion,
    MeanEnsemble,
    build,
    combine_probs,
    cross_fit_late,
    fit_late,
    mean_probs,
)
from .interval import Interval
from .plots import attribution_pngs
from .promotion import choose_candidate, choose_parsimonious
from .train import predict_probs, resolve_device, rows, seed_everything, tensors, train
from .variants import VARIANTS, Variant

if TYPE_CHECKING:
    from feature_store.tasks import TaskSpec

log = logging.getLogger(__name__)


@dataclass
class VariantResult:
    variant: Variant
    model: nn.Module  # unpacked, CPU, eval mode
    val_probs: np.ndarray
    test_probs: np.ndarray
    val: Interval  # the task's headline metric on validation (out-of-fold for late variants)
    test: dict[str, Interval]  # every test metric
    n_params: int
    latency_ms: float
    history: list[dict] = field(default_factory=list)
    fitted: dict = field(default_factory=dict)  # late fusion: weights or stacker size
    seconds: float = 0.0
    raw_val_probs: np.ndarray | None = None  # validation probabilities before decision offsets
    offsets: np.ndarray | None = None  # per-class decision offsets, when the task has them
    explained: Explained | None = None  # explainability numbers (validation rows)
    pictures: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG: attribution maps per view
    raw_test_probs: np.ndarray | None = None  # test probabilities before decision offsets
    # test figures of each seed's fold ensemble alone ({metric: [one a seed]}; ecgnet.seeds): scored, and
    # kept apart from `fitted`, which nothing of the test split may reach
    test_per_seed: dict[str, list[float]] = field(default_factory=dict)

    @property
    def deployed(self) -> nn.Module:
        """The model as it decides: with its decision offsets, when it has them."""
        return self.model if self.offsets is None else DecisionOffsets(self.model, self.offsets).eval()

    @property
    def combinable_val_probs(self) -> np.ndarray:
        """Validation probabilities a late combiner is fitted on: the model's own, before offsets."""
        return self.val_probs if self.raw_val_probs is None else self.raw_val_probs

    @property
    def combinable_test_probs(self) -> np.ndarray:
        """Test probabilities of the model as a late combiner or an ensemble runs it: before offsets."""
        return self.test_probs if self.raw_test_probs is None else self.raw_test_probs


def train_variant(
    name: str,
    data: TaskData,
    cfg: ComparisonConfig,
    *,
    upstream: dict[str, VariantResult] | None = None,
    checkpoint_dir: Path | None = None,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> VariantResult:
    """Train (or, for late fusion, fit on validation; for an ensemble, average) one variant and score it.
    `upstream`: trained variants, of which it takes those the variant builds on (`Variant.inputs`). With
    `cfg.folds` > 1 every choice is made by patient-grouped cross-validation over train + val instead
    (ecgnet.crossval)."""
    variant, start = VARIANTS[name], time.perf_counter()
    scored = scored_on_development(data) if cfg.folds > 1 else data
    inputs = _inputs(variant, upstream or {})
    val_probs, test_probs = None, None
    history: list[dict] = []
    if variant.kind == "late":  # singles' validation probabilities are out of fold under cross-validation
        model, fitted, val_probs, test_probs = _fit_late(variant, scored, inputs, seed=cfg.train.seed)
    elif variant.kind == "ensemble":
        model, fitted, val_probs, test_probs = _ensemble(variant, scored, inputs)
    elif cfg.folds > 1:
        model, history, fitted, val_probs = _cross_validate(variant, scored, cfg, inputs, checkpoint_dir, on_epoch)
    else:
        ckpt = checkpoint_dir / f"{name}.pt" if checkpoint_dir else None
        warm = {m: r.model for m, r in inputs.items()} if inputs else None
        model, history, fitted = fit_variant(variant, data, cfg, warm, ckpt, on_epoch)
    if variant.gated:
        fitted.update(mean_gates(model, scored))
    if val_probs is None:
        val_probs = predict_probs(model, scored.val, scored.multilabel, device=resolve_device(cfg.train.device))
    raw_val_probs, decision = val_probs, _decision(val_probs, scored, cfg)
    offsets, val_probs = decision.offsets, decision.val_probs
    fitted.update(decision.fitted)
    result = score(
        variant,
        model,
        scored,
        cfg,
        val_probs=val_probs,
        raw_test_probs=test_probs,
        offsets=offsets,
        raw_val_probs=raw_val_probs,
        history=history,
        fitted=fitted,
        seconds=time.perf_counter() - start,
    )
    per = members_per_fold(variant, cfg)
    if per > 1 and isinstance(model, FoldEnsemble):  # scored, never chosen on
        members = [[_member(result, fold, seed, cfg) for fold in range(cfg.folds)] for seed in range(per)]
        device, metrics = resolve_device(cfg.train.device), reported_metrics(scored)
        each = [kept_offsets(kept, scored.classes) for kept in fitted[seeds.OFFSETS_KEY]]
        result.test_per_seed = seeds.test_per_seed(members, scored, each, device, metrics)
    if cfg.explain is not None:  # on validation rows only: DS2 stays for the final score
        metric, explain_cfg = headline(scored.spec), cfg.explain
        if variant.kind == "ensemble":  # IG runs every member: the rows of one variant shared among them
            shared = max(1, explain_cfg.rows_per_class // len(variant.members))
            explain_cfg = replace(explain_cfg, rows_per_class=shared)
        result.explained, expl = explain_variant(result.deployed, scored, scored.val, metric, explain_cfg)
        title = f"{name}: mean attribution per class"
        result.pictures = attribution_pngs(expl.class_maps(scored.classes), title, scored.names)
        log.info("%s: %s (%.1f s)", name, result.explained.summary(), result.explained.seconds)
    return result


def decides(spec: TaskSpec) -> bool:
    """Whether a task's variants get decision offsets: single-label, scored by a thresholded metric."""
    return not spec.multilabel and spec.metric == "macro_f1"


def _decision(val_probs: np.ndarray, scored: TaskData, cfg: ComparisonConfig) -> Decision:
    """How a variant (or one seed's fold ensemble) decides: offsets where the task has them and they
    pay (`decide`), else the argmax."""
    if not (cfg.decision_offsets and decides(scored.spec)):
        return Decision(None, val_probs)
    spec, n_boot, seed = scored.spec, cfg.n_boot, cfg.train.seed
    return decide(val_probs, scored.val, spec, min_gain=cfg.offsets_min_gain, n_boot=n_boot, seed=seed)


def fit_variant(
    variant: Variant,
    data: TaskData,
    cfg: ComparisonConfig,
    warm: dict[str, nn.Module] | None,
    ckpt: Path | None,
    on_epoch: Callable[[int, dict], None] | None,
) -> tuple[nn.Module, list[dict], dict]:
    """One model of a trainable or classical variant on data.train (and the extra rows of its
    patients), early-stopped on data.val."""
    seed_everything(cfg.train.seed)
    data = training_rows(data)
    model = build(variant, data, cfg.model)
    if variant.kind == "classical":  # closed form on train; validation is only scored
        reference = cast(LinearReference | BoostedReference, model)  # what build makes for a classical variant
        return model.eval(), [], fit_reference(reference, data)
    if variant.kind == "intermediate" and cfg.intermediate_encoders != "scratch":
        if not warm:
            raise ValueError(
                f"{variant.name} starts from the trained single models' encoders; fix: train "
                f"{list(MODALITIES)} first, or set intermediate_encoders='scratch'"
            )
        fusion = cast(IntermediateFusion, model)  # what build makes for an intermediate variant
        fusion.warm_start(warm)
        if cfg.intermediate_encoders == "frozen":
            return _fit_fusion_head(fusion, data, cfg, ckpt, on_epoch)
    result = train(model, data, cfg.train, checkpoint=ckpt, on_epoch=on_epoch)
    return result.model, result.history, {"best_epoch": result.best_epoch}


def _fit_fusion_head(
    model: IntermediateFusion,
    data: TaskData,
    cfg: ComparisonConfig,
    ckpt: Path | None,
    on_epoch: Callable[[int, dict], None] | None,
) -> tuple[nn.Module, list, dict]:
    """Train only the gate and head of an intermediate variant, on its (fixed) encoders' embeddings of
    the train and validation rows; the test split is passed through untouched, as `train` wants it."""
    device = resolve_device(cfg.train.device)
    embedded = TaskData(
        data.spec, embeddings(model, data.train, device), embeddings(model, data.val, device), data.test, data.versions
    )
    result = train(model.fusion_head(), embedded, cfg.train, checkpoint=ckpt, on_epoch=on_epoch)
    # the head's best weights are the model's own modules: the whole model is now the fitted variant
    return model.cpu().eval(), result.history, {"best_epoch": result.best_epoch, "encoders": "frozen"}


def embeddings(
    model: IntermediateFusion, split: Split, device: torch.device, batch_size: int = CPU_SCORE_ROWS
) -> Split:
    """`split` with its views replaced by the model's modality embeddings (rows, modalities, width)."""
    model.to(device).eval()
    x, out = tensors(split), []
    with torch.no_grad():
        for start in range(0, len(split), batch_size):
            idx = torch.arange(start, min(start + batch_size, len(split)))
            out.append(model.embed(rows(x, idx, device)).float().cpu().numpy())
    return Split({EMBEDDING: {EMBEDDING: np.concatenate(out)}}, split.y, split.ids, split.groups)


def _member_epoch(on_epoch: Callable[[int, dict], None], fold: int, seed: int, epoch: int, record: dict) -> None:
    on_epoch(epoch, {**record, "fold": fold, "seed": seed})


def _cross_validate(
    variant: Variant,
    scored: TaskData,
    cfg: ComparisonConfig,
    singles: dict[str, VariantResult],
    checkpoint_dir: Path | None,
    on_epoch: Callable[[int, dict], None] | None,
) -> tuple[nn.Module, list[dict], dict, np.ndarray]:
    """k members (k x `cfg.seeds`: `members_per_fold`), each fitted without one fold of patients and
    scored on it: the fold ensemble, the members' histories (tagged by fold and seed), the per-fold
    metrics and the out-of-fold probabilities over `scored.val` (every development row; a fold's seeds
    averaged)."""
    metric, histories, per_fold, members = headline(scored.spec), [], [], []
    oof = np.zeros((len(scored.val), len(scored.classes)), np.float32)
    per = members_per_fold(variant, cfg)
    oof_by_seed = np.zeros((per, *oof.shape), np.float32)
    for fold in folds(scored, cfg.folds, cfg.train.seed, stratify=cfg.stratify_folds):
        probs = np.zeros((len(fold.rows), len(scored.classes)), np.float32)
        for s in range(per):
            member_cfg = replace(cfg, train=replace(cfg.train, seed=cfg.train.seed + SEED_STEP * s)) if s else cfg
            name = f"{variant.name}.fold{fold.index}" + (f".seed{s}" if s else "")
            ckpt = checkpoint_dir / f"{name}.pt" if checkpoint_dir else None
            # each member warm-starts from the single models' member of the same fold and seed: same
            # patients held out
            warm = {m: _member(r, fold.index, s, cfg) for m, r in singles.items()} if singles else None
            # the member's epochs carry its fold and seed, as its history does below: a curve per member
            member_epoch = partial(_member_epoch, on_epoch, fold.index, s) if on_epoch is not None else None
            model, history, fitted = fit_variant(variant, fold.data, member_cfg, warm, ckpt, member_epoch)
            device = resolve_device(cfg.train.device)
            member_probs = predict_probs(model, fold.data.val, scored.multilabel, device=device)
            oof_by_seed[s][fold.rows] = member_probs
            probs += member_probs / per
            histories += [{**h, "fold": fold.index, "seed": s} for h in history]
            members.append(model)
        oof[fold.rows] = probs
        per_fold.append(round(metric(probs, fold.data.val.y), 4))
        log.info(
            "%s fold %d/%d: held-out %s %.3f %s",
            variant.name,
            fold.index + 1,
            cfg.folds,
            scored.spec.metric_key,
            per_fold[-1],
            fitted,
        )
    fitted = {
        "folds": cfg.folds,
        "members_per_fold": per,
        "cv_metric_mean": round(float(np.nanmean(per_fold)), 4),
        "cv_metric_sd": round(float(np.nanstd(per_fold)), 4),
        "cv_metric_per_fold": per_fold,
    }
    if per > 1:  # each seed's fold ensemble decided as a run with that one seed would decide
        decisions = [_decision(p, scored, cfg) for p in oof_by_seed]
        fitted[seeds.CV_KEY] = seeds.cv_per_seed([d.val_probs for d in decisions], scored.val, metric)
        fitted[seeds.OFFSETS_KEY] = [d.fitted.get("offsets") for d in decisions]
    return FoldEnsemble(members, scored.multilabel).eval(), histories, fitted, oof


SEED_STEP = 1_000  # member seeds of one fold: the train seed, + SEED_STEP, + 2 SEED_STEP, ...


def members_per_fold(variant: Variant, cfg: ComparisonConfig) -> int:
    """How many members one fold of a cross-validated variant has: `cfg.seeds`; one for closed-form fits
    (a second seed would fit the same model) and for the variants `cfg.one_seed` names."""
    return 1 if variant.kind == "classical" or variant.name in cfg.one_seed else cfg.seeds


def _member(result: VariantResult, fold: int, seed: int, cfg: ComparisonConfig) -> nn.Module:
    """The member of a trained cross-validated variant for `fold` and `seed` (members are stored fold by fold, a
    fold's seeds together; its last seed where it has fewer); raises where it was trained with other
    folds or seeds than `cfg` asks."""
    per = members_per_fold(result.variant, cfg)
    if not isinstance(result.model, FoldEnsemble):
        raise ValueError(
            f"{result.variant.name} was trained without cross-validation, not {cfg.folds} folds x {per} seeds; "
            "fix: train it again with this comparison's folds and seeds"
        )
    members = result.model.members
    if len(members) != cfg.folds * per:
        raise ValueError(
            f"{result.variant.name} has {len(members)} members, not {cfg.folds} folds x {per} seeds; fix: "
            "train it again with this comparison's folds and seeds"
        )
    return members[member_index(fold, seed, per)]


def mean_gates(model: nn.Module, data: TaskData) -> dict[str, float]:
    """The gated variant's explanation: its mean weight on each modality over the validation rows
    (averaged over the members of a fold ensemble)."""
    members = model.members if isinstance(model, FoldEnsemble) else [model]
    x = tensors(data.val.take(np.arange(min(4096, len(data.val)))))
    with torch.no_grad():
        # a gated variant's models (its fold members) are IntermediateFusion, whose gates are never None
        gated = [cast(IntermediateFusion, m).gates_and_embedding(x)[0] for m in members]
        gates = torch.stack([cast(torch.Tensor, g).mean(dim=0) for g in gated]).mean(dim=0)
    return {f"gate_{m}": round(float(g), 4) for m, g in zip(MODALITIES, gates)}


def _inputs(variant: Variant, upstream: dict[str, VariantResult]) -> dict[str, VariantResult]:
    """The trained variants `variant` builds on, taken from `upstream`; intermediate variants with
    encoders from scratch may go without."""
    missing = [n for n in variant.inputs if n not in upstream]
    if missing and variant.kind in ("late", "ensemble"):
        raise ValueError(
            f"{variant.name} is made of the trained variants {list(variant.inputs)}; fix: train {missing} first"
        )
    return {n: upstream[n] for n in variant.inputs if n in upstream}


def _ensemble(
    variant: Variant, data: TaskData, members: dict[str, VariantResult]
) -> tuple[nn.Module, dict, np.ndarray, np.ndarray]:
    """The members' mean probability (MeanEnsemble's rule, `mean_probs`): as a model (each member as
    trained, before its decision offsets), over validation (their validation probabilities, out of fold
    or cross-fitted, so the mean's are too) and over test (what the model predicts there, from what
    each member predicted: running the members again would give the same probabilities at the cost of
    every network they hold)."""
    parts = [members[n] for n in variant.members]
    model = MeanEnsemble([p.model for p in parts], data.multilabel).eval()
    # the model's rule on both splits: validated as it is tested
    val_probs = mean_probs(np.stack([p.combinable_val_probs for p in parts]), data.multilabel)
    test_probs = mean_probs(np.stack([p.combinable_test_probs for p in parts]), data.multilabel)
    return model, {"members": list(variant.members)}, val_probs, test_probs


def _fit_late(
    variant: Variant, data: TaskData, singles: dict[str, VariantResult], seed: int
) -> tuple[nn.Module, dict, np.ndarray, np.ndarray]:
    """The late model fitted on all of validation, its out-of-fold validation probabilities, and its
    test probabilities: the combiner over what the single models predicted there (what the model
    computes, without running the single models again)."""
    val_probs = np.stack([singles[m].combinable_val_probs for m in MODALITIES], axis=1)  # (rows, M, C)
    metric = headline(data.spec)
    combine, fitted = fit_late(variant, val_probs, data.val.y, data.multilabel, metric)
    oof = cross_fit_late(variant, val_probs, data.val.y, data.val.groups, data.multilabel, metric, seed=seed)
    in_sample = metric(combine_probs(combine, val_probs, data.multilabel), data.val.y)
    model = LateFusion({m: singles[m].model for m in MODALITIES}, combine, data.multilabel).eval()
    test_probs = combine_probs(
        combine, np.stack([singles[m].combinable_test_probs for m in MODALITIES], axis=1), data.multilabel
    )
    return model, {**fitted, "val_metric_in_sample": round(in_sample, 4)}, oof, test_probs


def score(
    variant: Variant,
    model: nn.Module,
    data: TaskData,
    cfg: ComparisonConfig,
    *,
    val_probs: np.ndarray,
    raw_test_probs: np.ndarray | None = None,
    offsets: np.ndarray | None = None,
    **extra: Any,  # VariantResult's other fields, passed on as they are
) -> VariantResult:
    """Validation and test scores. `val_probs`: the validation probabilities the variant is judged by
    (out of fold, or cross-fitted, where the model or its offsets saw those rows); `raw_test_probs`: the
    model's test probabilities where they are known without running it (late and ensemble variants);
    `offsets`: decision offsets applied to the test probabilities."""
    device = resolve_device(cfg.train.device)  # inference where training ran: fold ensembles score k times
    if raw_test_probs is None:
        raw_test_probs = predict_probs(model, data.test, data.multilabel, device=device)
    test_probs = raw_test_probs if offsets is None else apply_offsets(raw_test_probs, offsets)
    metric = headline(data.spec)
    val = metric_interval(metric, val_probs, data.val.y, data.val.groups, n_boot=cfg.n_boot, seed=cfg.train.seed)
    test = evaluate(test_probs, data.test.y, data.test.groups, data.spec, n_boot=cfg.n_boot, seed=cfg.train.seed)
    sample = tensors(data.test.take(np.arange(min(256, len(data.test)))))  # latency on 256 rows
    log.info(
        "%s: val %.3f, test macro-AUC %.3f, %s %.3f",
        variant.name,
        val.value,
        test["macro_auc"].value,
        data.spec.metric_key,
        test[data.spec.metric_key].value,
    )
    result = VariantResult(
        variant,
        model,
        val_probs,
        test_probs,
        val,
        test,
        n_parameters(model),
        0.0,
        offsets=offsets,
        raw_test_probs=raw_test_probs,
        **extra,
    )
    result.latency_ms = latency_ms(result.deployed, sample)
    return result


def best_single(results: dict[str, VariantResult]) -> str:
    """The single-modality variant with the best validation metric (never the test metric)."""
    singles = [r for r in results.values() if r.variant.kind == "single"]
    return max(singles, key=lambda r: r.val.value).variant.name


@dataclass(frozen=True)
class Selection:
    """What the comparison proposes, decided on validation alone: the best variant there, each variant's
    paired difference to it (validation patients resampled), and the one chosen by the config's rule."""

    best: str
    chosen: str
    gap_to_best: dict[str, Interval]  # every other variant scored on the same validation rows


def scored_validation(data: TaskData, cfg: ComparisonConfig) -> Split:
    """The validation rows the variants of `cfg` are judged on, labels and patients only: every
    development row under cross-validation (their out-of-fold probabilities), else the validation split."""
    return development(data, inputs=False) if cfg.folds > 1 else data.val.labels()


def select(results: dict[str, VariantResult], data: TaskData, cfg: ComparisonConfig) -> Selection:
    """The candidate, from validation (out-of-fold DS1 when cross-validated) only: test never enters."""
    values = {n: r.val.value for n, r in results.items()}
    best = choose_candidate(values)
    rows, metric, gaps = scored_validation(data, cfg), headline(data.spec), {}
    if len(results[best].val_probs) == len(rows):
        for name, r in results.items():
            if name != best and len(r.val_probs) == len(rows):
                gaps[name] = paired_difference(r.val_probs, results[best].val_probs, rows, metric, cfg)
    chosen = best
    if cfg.selection == "parsimony":
        chosen = choose_parsimonious(values, {n: r.n_params for n, r in results.items()}, gaps)
    return Selection(best, chosen, gaps)


def paired_difference(
    probs: np.ndarray,
    ref_probs: np.ndarray,
    split: Split,
    metric: Callable[[np.ndarray, np.ndarray], float],
    cfg: ComparisonConfig,
) -> Interval:
    """The metric of `probs` minus that of `ref_probs` on `split`, with its patient-paired 95 % interval."""
    return paired_bootstrap(probs, ref_probs, split.y, split.groups, metric, n_boot=cfg.n_boot, seed=cfg.train.seed)


def reported_metrics(data: TaskData) -> list[str]:
    """Test metrics in the comparison table: macro AUC and F1 (and the headline, when it is a macro-F1
    over some classes), for single-label tasks accuracy and the sensitivity and positive predictivity
    of the task's focus classes, and calibration (Brier score, ECE; for single-label tasks also each focus
    class's ECE one-vs-rest, since the overall one is mostly the majority class's)."""
    macro = list(dict.fromkeys(["macro_auc", "macro_f1", data.spec.metric_key]))
    if data.multilabel:
        return [*macro, "brier", "ece"]
    focus = [one_class("ece", c) for c in data.spec.focus_classes]
    return [*macro, "accuracy", *data.spec.focus_figures, "brier", "ece", *focus]
