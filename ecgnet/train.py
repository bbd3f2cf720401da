"""One training function for every trainable variant: AdamW, cosine schedule, early stopping on the
task's headline metric, class weighting (single-label) or BCE (multi-label), AMP on CUDA, a checkpoint
each epoch and resume."""

from __future__ import annotations

import copy
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .augment import BatchPlan, RhythmPlan, mix_rows, rhythm_exponents
from .config import CPU_SCORE_ROWS, TrainConfig
from .data import Split, TaskData, rhythm_columns
from .evaluate import headline
from .fusion import activation
from .losses import FocalLoss

log = logging.getLogger(__name__)
CPU = torch.device("cpu")


@dataclass
class TrainResult:
    model: nn.Module  # best validation weights, on the CPU, in eval mode
    history: list[dict] = field(default_factory=list)  # per epoch: losses, val metric, lr, seconds
    best_epoch: int = -1
    best_val: float = float("-inf")


class _TrainState(TypedDict):
    """Where a run stands after an epoch: what its checkpoint keeps besides the model's, optimiser's and
    scheduler's states, and what a resumed run starts from."""

    epoch: int  # the next epoch to train
    best_val: float
    best_epoch: int
    bad: int  # epochs since the best validation metric
    history: list[dict]
    best_state: dict[str, Any]  # the model's state_dict at the best epoch


# what loss_function builds; _row_weighted only ever gets the single-label two
Loss = nn.CrossEntropyLoss | nn.BCEWithLogitsLoss | FocalLoss


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but torch sees no CUDA GPU; fix: use 'auto' or 'cpu'")
    return torch.device(device)


def tensors(split: Split) -> dict[str, dict[str, torch.Tensor]]:
    # copies: arrays read from Parquet are read-only views, which torch must not write through
    return {m: {k: torch.from_numpy(np.array(v)) for k, v in inp.items()} for m, inp in split.x.items()}


def rows(x: dict, idx: torch.Tensor, device: torch.device) -> dict:
    return {m: {k: v[idx.to(v.device)].to(device, non_blocking=True) for k, v in inp.items()} for m, inp in x.items()}


def staged(x: dict, y: torch.Tensor, device: torch.device, share: float = 0.25) -> tuple[dict, torch.Tensor]:
    """The training set moved to the GPU once when it fits in `share` of the free memory, so batches
    are gathered there instead of copied from the host at every step; else left on the host."""
    if device.type != "cuda":
        return x, y
    size = y.nbytes + sum(v.nbytes for inp in x.values() for v in inp.values())
    free, _ = torch.cuda.mem_get_info(device)
    if size > share * free:
        log.info(
            "training set (%.1f GB) stays on the host: more than %d %% of free GPU memory", size / 1e9, 100 * share
        )
        return x, y
    return {m: {k: v.to(device) for k, v in inp.items()} for m, inp in x.items()}, y.to(device)


def predict_probs(
    model: nn.Module, split: Split, multilabel: bool, *, batch_size: int | None = None, device: torch.device = CPU
) -> np.ndarray:
    """Probabilities of every row of `split`, computed on `device`; the model goes back where it was.
    An empty split still goes through the model once, so its (0, classes) has the model's width."""
    home = next(model.parameters(), torch.empty(0)).device
    model.to(device).eval()
    batch_size = batch_size or (8192 if device.type == "cuda" else CPU_SCORE_ROWS)
    x, out = tensors(split), []
    try:
        with torch.no_grad():
            for start in range(0, max(len(split), 1), batch_size):
                idx = torch.arange(start, min(start + batch_size, len(split)))
                out.append(activation(model(rows(x, idx, device)).float(), multilabel).cpu().numpy())
    finally:
        model.to(home)
    return np.concatenate(out)


def loss_function(data: TaskData, cfg: TrainConfig, device: torch.device) -> Loss:
    if data.multilabel:
        return nn.BCEWithLogitsLoss()
    counts = np.bincount(data.train.y, minlength=len(data.classes)).astype(np.float64)
    if cfg.class_cap is not None:
        counts = np.minimum(counts, cfg.class_cap)  # what one epoch's loss sees
    weights = np.where(counts > 0, counts.sum() / (len(counts) * np.maximum(counts, 1)), 0.0) ** cfg.class_weight_power
    weights = np.where(counts < cfg.min_class_rows, 0.0, weights)
    weight = torch.tensor(weights, dtype=torch.float32, device=device) if cfg.class_weighting else None
    if cfg.focal_gamma:
        return FocalLoss(weight, cfg.focal_gamma)
    return nn.CrossEntropyLoss(weight=weight)


def patient_weights(y: np.ndarray, groups: np.ndarray, balance: float) -> np.ndarray:
    """Per-row weights (`TrainConfig.patient_balance`): within each class, a patient's rows weigh its
    row count of that class to the power -`balance`, scaled so the class's weights sum to its rows."""
    weights = np.ones(len(y))
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        _, patient, counts = np.unique(np.asarray(groups)[rows], return_inverse=True, return_counts=True)
        raw = counts[patient].astype(np.float64) ** -balance
        weights[rows] = raw * len(rows) / raw.sum()
    return weights


def train(
    model: nn.Module,
    data: TaskData,
    cfg: TrainConfig,
    *,
    checkpoint: Path | None = None,
    on_epoch: Callable[[int, dict], None] | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Train on data.train, stop early on data.val; data.test is never touched here.

    `stop_after`: a fixed budget chosen elsewhere instead (a refit on every development row at the epoch its
    cross-validation chose): epochs 0..stop_after on cfg.epochs' learning-rate schedule, the last one's weights
    kept, no early stopping and data.val not read (its metric in the history is NaN; it may be empty)."""
    if stop_after is not None and not 0 <= stop_after < cfg.epochs:
        raise ValueError(f"stop_after={stop_after} is outside the schedule's epochs 0..{cfg.epochs - 1}")
    device = resolve_device(cfg.device)
    model.to(device)
    loss_fn, metric = loss_function(data, cfg, device), headline(data.spec)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    state: _TrainState = {
        "epoch": 0,
        "best_val": float("-inf"),
        "best_epoch": -1,
        "bad": 0,
        "history": [],
        "best_state": copy.deepcopy(model.state_dict()),
    }
    averaged = None
    if cfg.weight_average is not None:
        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.weight_average), use_buffers=True)
    if checkpoint is not None and checkpoint.is_file():
        state = _resume(checkpoint, model, opt, sched, averaged)
        log.info("resumed from %s at epoch %d", checkpoint, state["epoch"])
    x_train, y_train = staged(tensors(data.train), torch.from_numpy(np.array(data.train.y)), device)
    row_weights = None
    if cfg.patient_balance and not data.multilabel:
        balance = patient_weights(np.asarray(data.train.y), data.train.groups, cfg.patient_balance)
        row_weights = torch.as_tensor(balance, dtype=torch.float32).to(y_train.device)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp and device.type == "cuda")
    step = _Step(model, loss_fn, opt, scaler, averaged, device, cfg)
    plan = batch_plan(data, cfg)
    scored = model if averaged is None else averaged.module
    last = cfg.epochs if stop_after is None else stop_after + 1
    while state["epoch"] < last and (stop_after is not None or state["bad"] < cfg.patience):
        epoch, start = state["epoch"], time.perf_counter()
        train_loss = _epoch(step, x_train, y_train, epoch, plan, row_weights)
        sched.step()
        val_metric = float("nan")
        if stop_after is None:
            val_metric = metric(predict_probs(scored, data.val, data.multilabel, device=device), data.val.y)
        record = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_metric": val_metric,
            "lr": opt.param_groups[0]["lr"],
            "seconds": time.perf_counter() - start,
        }
        _advance(state, record, scored, keep=stop_after is not None)
        if checkpoint is not None:
            _save(checkpoint, state, model, opt, sched, averaged)
        log.info(
            "epoch %d: train loss %.4f, val %.4f (%.1f s)", epoch, train_loss, record["val_metric"], record["seconds"]
        )
        if on_epoch is not None:
            on_epoch(epoch, record)
    model.load_state_dict(state["best_state"])
    return TrainResult(model.cpu().eval(), state["history"], state["best_epoch"], state["best_val"])


@dataclass
class _Step:
    """What every optimisation step of a run shares besides its batch."""

    model: nn.Module
    loss_fn: Loss
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    averaged: AveragedModel | None  # the weight average, updated every step
    device: torch.device
    cfg: TrainConfig


def batch_plan(data: TaskData, cfg: TrainConfig) -> BatchPlan:
    """What `cfg` asks every training batch of `data` to go through, less what the task cannot take (the
    rhythm jitter needs per-beat RR columns, the swap and shape dropout a single-label beat task with a time
    view). Raises for a conduction swap between classes the task does not have."""
    width = _rhythm_width(data)
    rr = _rr_exponents(data) if cfg.rhythm_jitter is not None else None
    rhythm = RhythmPlan(cfg.rhythm_jitter, rr) if cfg.rhythm_jitter is not None and rr is not None else None
    swap = cfg.conduction_swap if width is not None else None
    classes = (0, 0)
    if swap is not None:
        missing = [c for c in (swap.label, swap.donor) if c not in data.classes]
        if missing:
            raise ValueError(
                f"conduction swap: task {data.spec.name} has no class {missing}; its classes: {data.classes}"
            )
        classes = (data.classes.index(swap.label), data.classes.index(swap.donor))
    return BatchPlan(
        waveform=cfg.augment,
        rhythm=rhythm,
        swap=swap,
        swap_classes=classes,
        shape=cfg.shape_dropout if width is not None else None,
        rhythm_width=width or 0,
    )


def _rr_exponents(data: TaskData) -> torch.Tensor | None:
    """The rhythm jitter's exponents for a beat task's time scalars (their first columns are the RR
    ones: ecgnet.data.INPUTS); None where the task has no per-beat RR columns."""
    if data.spec.unit != "beat" or "time" not in data.train.x:
        return None
    from feature_store.transforms.rhythm import BEAT_RR_NAMES  # here: only beat tasks need it

    return rhythm_exponents(BEAT_RR_NAMES)


def _rhythm_width(data: TaskData) -> int | None:
    """How many of a single-label beat task's time scalars are rhythm (the RR columns, then `rr_context`:
    ecgnet.data.INPUTS); None where the task is not one with a time view."""
    if data.spec.unit != "beat" or data.multilabel or "time" not in data.train.x:
        return None
    return sum(len(names) for names in rhythm_columns(data.spec))


def _epoch(
    step: _Step,
    x: dict[str, dict[str, torch.Tensor]],
    y: torch.Tensor,
    epoch: int,
    plan: BatchPlan,
    row_weights: torch.Tensor | None = None,
) -> float:
    model, cfg, device = step.model, step.cfg, step.device
    model.train()
    # the order depends on (seed, epoch) only, so a resumed run sees the same batches; it moves to
    # where the rows are once, and the loss is summed there, so a GPU step waits for no host copy
    order = epoch_order(y, cfg, epoch).to(y.device)
    total, seen = torch.zeros((), device=device), 0
    draws = torch.Generator().manual_seed(cfg.seed * 7_919 + epoch)  # augmentation, as repeatable as the order
    for start in range(0, len(order), cfg.batch_size):
        idx = order[start : start + cfg.batch_size]
        if len(idx) < 2:
            continue  # batch norm needs two rows
        target = y[idx].to(device, non_blocking=True)
        batch = rows(x, idx, device)
        if "time" in batch:
            batch["time"] = plan.apply(batch["time"], target, draws)
        weights = None if row_weights is None else row_weights[idx].to(device, non_blocking=True)
        partner, lam = None, 1.0
        if cfg.mixup:
            batch, partner, lam = mix_rows(batch, cfg.mixup, draws)
        with torch.autocast(device.type, **autocast_args(cfg, model, device)):
            logits = model(batch)
            loss = _loss(step.loss_fn, logits, target, weights)
            if partner is not None:
                partner = partner.to(device)
                other = _loss(step.loss_fn, logits, target[partner], None if weights is None else weights[partner])
                loss = lam * loss + (1.0 - lam) * other
        step.opt.zero_grad(set_to_none=True)
        step.scaler.scale(loss).backward()
        step.scaler.step(step.opt)
        step.scaler.update()
        if step.averaged is not None:
            step.averaged.update_parameters(model)
        total, seen = total + loss.detach().float() * len(idx), seen + len(idx)
    return float(total) / max(seen, 1)


def bf16_unit() -> str:
    """This CPU's native bfloat16 arithmetic: "amx" (Intel's tiles), "avx512_bf16" (AMD Zen 4, Intel
    Cooper Lake) or "none". torch reports both through private helpers, so a missing one reads as none."""
    for unit, probe in (("amx", "_is_amx_tile_supported"), ("avx512_bf16", "_is_avx512_bf16_supported")):
        supported = getattr(torch.cpu, probe, None)
        if supported is not None and supported():
            return unit
    return "none"


def native_bf16() -> bool:
    """Whether `cpu_bf16` pays on this CPU: both native units were measured faster a training step
    (benchmarks/cpu_bf16.py, 2 cores: AMX time 1.2-1.6x, spectrogram 1.3-1.8x; AVX512-BF16 1.27x and
    1.42x), and DS1 could not tell either from float32 (benchmarks/ABLATIONS.md); emulated bfloat16 was
    never measured, so it stays off there."""
    return bf16_unit() != "none"


def autocast_args(cfg: TrainConfig, model: nn.Module, device: torch.device) -> dict:
    """torch.autocast's arguments for a training step: float16 on CUDA under `amp`; bfloat16 on the CPU
    under `cpu_bf16` for a model whose `cpu_bf16` says its convolutions gain from it."""
    if device.type == "cuda":
        return {"enabled": cfg.amp}
    return {"enabled": cfg.cpu_bf16 and getattr(model, "cpu_bf16", False), "dtype": torch.bfloat16}


def _loss(loss_fn: Loss, logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    return loss_fn(logits, target) if weights is None else _row_weighted(loss_fn, logits, target, weights)


def _row_weighted(loss_fn: Loss, logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The class-weighted loss (cross-entropy or focal) with each row weighted too, normalised as the
    class-weighted mean is (by the sum of the weights its rows carry)."""
    if isinstance(loss_fn, FocalLoss):
        per_row = loss_fn.per_row(logits, target)
    else:
        per_row = nn.functional.cross_entropy(logits, target, weight=loss_fn.weight, reduction="none")
    carried = weights if loss_fn.weight is None else weights * loss_fn.weight[target]
    return (per_row * weights).sum() / carried.sum()


def epoch_order(y: torch.Tensor, cfg: TrainConfig, epoch: int) -> torch.Tensor:
    """Row indices of one epoch, shuffled: all rows, or under `class_cap` each class's rows capped."""
    gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    if cfg.class_cap is None or y.ndim != 1:
        return torch.randperm(len(y), generator=gen)
    labels = y.cpu()
    kept = []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).flatten()
        if len(members) > cfg.class_cap:
            members = members[torch.randperm(len(members), generator=gen)[: cfg.class_cap]]
        kept.append(members)
    chosen = torch.cat(kept)
    return chosen[torch.randperm(len(chosen), generator=gen)]


def _advance(state: _TrainState, record: dict, model: nn.Module, keep: bool = False) -> None:
    """The run's state after `record`'s epoch: its weights kept where its validation metric is the best yet,
    or, with `keep` (a fixed budget), every epoch's, so the last one's are."""
    state["history"].append(record)
    if keep or record["val_metric"] > state["best_val"]:
        state.update(
            {
                "best_val": record["val_metric"],
                "best_epoch": record["epoch"],
                "bad": 0,
                "best_state": copy.deepcopy(model.state_dict()),
            }
        )
    else:
        state["bad"] += 1
    state["epoch"] += 1


def _save(
    path: Path,
    state: _TrainState,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    averaged: AveragedModel | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(
        {
            **state,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
            **({} if averaged is None else {"averaged": averaged.state_dict()}),
        },
        tmp,
    )
    os.replace(tmp, path)


def _resume(
    path: Path,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    averaged: AveragedModel | None = None,
) -> _TrainState:
    saved = torch.load(path, weights_only=True)
    model.load_state_dict(saved.pop("model"))
    kept = saved.pop("averaged", None)
    # a checkpoint from a run without averaging leaves the average unstarted: its first update copies the weights
    if averaged is not None and kept is not None:
        averaged.load_state_dict(kept)
    opt.load_state_dict(saved.pop("optimizer"))
    sched.load_state_dict(saved.pop("scheduler"))
    torch.set_rng_state(saved.pop("torch_rng"))
    return saved
