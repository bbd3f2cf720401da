"""The MIT-BIH comparison trained on a GPU, against the same code on that machine's CPU cores.

Runs where the lent GPU machines are (CuPy, torch, SciPy, scikit-learn and wfdb; no polars, MLflow
or Dagster): the beats of the full MIT-BIH with the three views computed on the GPU
(benchmarks.beat_arrays: the store's rows without the store), then
  1. one epoch of every trainable variant on the GPU and on the CPU cores, one split, same seed:
     seconds per epoch and the ratio;
  2. the comparison as `make bench-mitdb` runs it (patient-grouped CV over DS1, fold ensembles
     scored on DS2): seconds per variant and per epoch, the table, Kendall tau, the choice;
  3. with --long-epochs N and time left before --deadline-s: the same with an N-epoch budget
     (an epoch-budget ablation, judged on the DS1 cross-validated metric).

    python3 -m benchmarks.gpu_training --mitdb FOLDER [--epochs 6] [--folds 5] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.beat_arrays import beat_task_data, beat_views, read_beats
from benchmarks.common import MITDB
from ecgnet.comparison import VariantResult, reported_metrics, select, train_variant
from ecgnet.config import ComparisonConfig, TrainConfig
from ecgnet.data import TaskData
from ecgnet.fusion import build
from ecgnet.report import ranking_agreement
from ecgnet.train import seed_everything, train
from ecgnet.variants import VARIANTS
from feature_store.backend import cupy_backend

TRAINABLE = [v for v, spec in VARIANTS.items() if spec.kind not in ("late", "ensemble", "classical")]


def one_epoch(data: TaskData, device: str, seed: int = 0) -> dict[str, float]:
    """Seconds of one training epoch (validation pass included) of each trainable variant on `device`."""
    cfg, out = ComparisonConfig(train=TrainConfig(epochs=1, device=device, seed=seed)), {}
    for name in TRAINABLE:
        seed_everything(seed)
        result = train(build(VARIANTS[name], data, cfg.model), data, cfg.train)
        out[name] = result.history[0]["seconds"]
    return out


def epoch_timing(data: TaskData, rows: int) -> dict:
    print(f"\n1. one epoch of each trainable variant, one split (train rows: {rows})", flush=True)
    # warm-up on 2,048 rows: CUDA, cuBLAS and cuDNN initialise on first use, not in the timed epoch
    one_epoch(replace(data, train=data.train.take(np.arange(min(2048, len(data.train))))), "cuda")
    gpu, cpu = one_epoch(data, "cuda"), one_epoch(data, "cpu")
    print(f"{'variant':20s} {'GPU s':>7s} {'CPU s':>7s} {'CPU / GPU':>9s}")
    for name in TRAINABLE:
        print(f"{name:20s} {gpu[name]:7.2f} {cpu[name]:7.2f} {cpu[name] / gpu[name]:9.1f}")
    print(f"{'all':20s} {sum(gpu.values()):7.2f} {sum(cpu.values()):7.2f} {sum(cpu.values()) / sum(gpu.values()):9.1f}")
    return {"gpu_s": gpu, "cpu_s": cpu}


def comparison(data: TaskData, cfg: ComparisonConfig) -> tuple[dict[str, VariantResult], float]:
    """Every variant in registry order, as the Dagster assets train them; and the seconds in all."""
    results: dict[str, VariantResult] = {}
    start = time.perf_counter()
    for name in VARIANTS:
        results[name] = train_variant(name, data, cfg, upstream=results)
        r = results[name]
        print(f"  {name}: {r.seconds:.1f} s, {len(r.history)} epochs, val {r.val.value:.3f}", flush=True)
    return results, time.perf_counter() - start


def report(
    results: dict[str, VariantResult], data: TaskData, cfg: ComparisonConfig, seconds: float, label: str
) -> dict:
    metrics = reported_metrics(data)
    print(f"\n{label}: {seconds:.0f} s for all {len(results)} variants")
    head = f"{'variant':20s} {'seconds':>8s} {'epochs':>6s} {'s/epoch':>8s} {'val (CV)':>9s} {'cv sd':>6s}"
    print(head + "".join(f" {m:>22s}" for m in metrics))
    rows = {}
    for name, r in results.items():
        epoch_s = [h["seconds"] for h in r.history]
        row = {
            "seconds": round(r.seconds, 1),
            "epochs": len(epoch_s),
            "s_per_epoch": round(float(np.mean(epoch_s)), 2) if epoch_s else None,
            "val": round(r.val.value, 4),
            "cv_sd": r.fitted.get("cv_metric_sd"),
            **{m: str(r.test[m]) for m in metrics},
        }
        rows[name] = row
        per_epoch = f"{row['s_per_epoch']:8.2f}" if epoch_s else f"{'-':>8s}"
        sd = f"{row['cv_sd']:6.3f}" if row["cv_sd"] is not None else f"{'-':>6s}"
        print(
            f"{name:20s} {r.seconds:8.1f} {len(epoch_s):6d} {per_epoch} {r.val.value:9.3f} {sd}"
            + "".join(f" {row[m]:>22s}" for m in metrics)
        )
    chosen = select(results, data, cfg).chosen
    tau = ranking_agreement(results, data)
    print(
        f"chosen on DS1 (cross-validated {data.spec.metric_key}, {cfg.selection}): {chosen}; "
        f"Kendall tau val vs test {tau:+.2f}"
    )
    return {"seconds": round(seconds, 1), "variants": rows, "chosen": chosen, "kendall_tau": round(tau, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, default=MITDB)
    parser.add_argument("--epochs", type=int, default=10, help="as make bench-mitdb (MITDB_EPOCHS)")
    parser.add_argument("--folds", type=int, default=5, help="as make bench-mitdb (MITDB_FOLDS)")
    parser.add_argument("--long-epochs", type=int, default=0, help="then the same with this epoch budget")
    parser.add_argument("--deadline-s", type=float, default=480.0, help="skip step 3 if it would end later")
    parser.add_argument("--out", type=Path, default=None, help="write every figure here as JSON")
    parser.add_argument("--epoch-timing", action=argparse.BooleanOptionalAction, default=True, help="step 1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    import torch

    if not torch.cuda.is_available():
        print("gpu_training: skipped, torch sees no CUDA GPU")
        return
    start = time.perf_counter()
    out: dict[str, object] = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}  # --out's JSON
    out["cpu_threads"] = torch.get_num_threads()
    beats = read_beats(args.mitdb)
    out["read_s"] = round(time.perf_counter() - start, 1)
    views, family_s = beat_views(beats, cupy_backend())
    data = beat_task_data(beats, views)
    out["features_gpu_s"] = {f: round(s, 2) for f, s in family_s.items()}
    sizes = {s: len(data.split(s)) for s in ("train", "val", "test")}
    print(
        f"{out['gpu']}, torch {torch.__version__}, {out['cpu_threads']} CPU threads; {len(beats.ids):,} beats read "
        f"in {out['read_s']} s; views on the GPU in {sum(family_s.values()):.1f} s {out['features_gpu_s']}; "
        f"rows {sizes}",
        flush=True,
    )

    if args.epoch_timing:
        out["one_epoch"] = epoch_timing(data, sizes["train"])

    # training time alone: explanations (captum, not on the lent machines' image) are left out
    cfg = ComparisonConfig(train=TrainConfig(epochs=args.epochs, device="cuda"), folds=args.folds, explain=None)
    label = f"2. the comparison on the GPU: {args.folds} folds, {args.epochs} epochs"
    print(f"\n{label}", flush=True)
    results, seconds = comparison(data, cfg)
    out["comparison"] = report(results, data, cfg, seconds, label)

    if args.long_epochs:
        estimate = seconds * args.long_epochs / args.epochs
        left = args.deadline_s - (time.perf_counter() - start)
        if estimate > left:
            print(f"\n3. skipped: {args.long_epochs} epochs would take about {estimate:.0f} s, {left:.0f} s left")
        else:
            label = f"3. the comparison on the GPU: {args.folds} folds, {args.long_epochs} epochs"
            print(f"\n{label}", flush=True)
            long_cfg = replace(cfg, train=replace(cfg.train, epochs=args.long_epochs))
            results, seconds = comparison(data, long_cfg)
            out["long_comparison"] = report(results, data, long_cfg, seconds, label)
    out["total_s"] = round(time.perf_counter() - start, 1)
    print(f"\ngpu_training: {out['total_s']} s in all")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
