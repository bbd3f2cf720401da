"""Training choices decided on DS1 alone: patient-grouped k-fold cross-validation of one variant
under each change, scored on its out-of-fold probabilities. DS2 records are never opened.

Each row trains k members (one per fold of DS1 patients) and reports the held-out-fold macro F1
(mean +- sd over folds), then the pooled out-of-fold figures, without and with decision offsets
(cross-fitted by patient, as the comparison does).

    python -m benchmarks.ablations [--mitdb FOLDER] [--variant time] [--folds 5] [--epochs 6] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.beat_arrays import beat_views, read_beats
from benchmarks.common import MITDB
from ecgnet.augment import AugmentConfig
from ecgnet.comparison import ComparisonConfig, fit_variant
from ecgnet.crossval import folds
from ecgnet.data import Split, TaskData, labelled_split
from ecgnet.decisions import cross_fit_offsets
from ecgnet.evaluate import aami, headline
from ecgnet.fusion import VARIANTS
from ecgnet.models import ModelConfig
from ecgnet.train import TrainConfig, predict_probs
from feature_store.backend import numpy_backend
from feature_store.sources.splits import mitdb_table
from feature_store.tasks import BEATS


def per_record_amplitude(split: Split) -> Split:
    """The time waveform divided, per record and lead, by the median RMS of that record's beats:
    every record's typical beat gets unit amplitude whatever its gain and lead placement."""
    wave = np.array(split.x["time"]["waveform"], dtype=np.float32)
    records = np.array([i.split(":")[0] for i in split.ids.tolist()])
    rms = np.sqrt((wave**2).mean(axis=2))  # (beats, leads)
    for r in np.unique(records):
        rows = records == r
        wave[rows] /= np.maximum(np.median(rms[rows], axis=0), 1e-3)[None, :, None]
    x = {**split.x, "time": {**split.x["time"], "waveform": wave}}
    return Split(x, split.y, split.ids, split.groups)


def _by_lead(split: Split, pick) -> Split:
    """Every per-lead array of every view (lead on axis 1, two leads) indexed on that axis by `pick(rows)`."""
    records = np.array([i.split(":")[0] for i in split.ids.tolist()])
    x = {}
    for view, cols in split.x.items():
        x[view] = {}
        for name, a in cols.items():
            a = np.asarray(a)
            x[view][name] = pick(a, records) if a.ndim >= 2 and a.shape[1] == 2 and name != "rhythm" else a
    return Split(x, split.y, split.ids, split.groups)


def mlii_first(split: Split) -> Split:
    """Record 114 stores V5 before MLII (its header says so): its leads put in the others' order."""
    return _by_lead(split, lambda a, rec: np.where((rec == "114").reshape(-1, *[1] * (a.ndim - 1)), a[:, ::-1], a))


def mlii_only(split: Split) -> Split:
    """MLII alone: the second lead is V1 in most records but V2, V4 or V5 in others."""
    return _by_lead(mlii_first(split), lambda a, rec: a[:, :1])


ABLATIONS = {  # training changes (TrainConfig fields), model changes ("model"), input transforms ("inputs")
    "baseline (inverse-frequency class weights, 6 epochs)": {},
    "no class weights": {"class_weighting": False},
    "augmentation (gain, wander, noise, shift)": {"augment": AugmentConfig()},
    "12 epochs": {"epochs": 12},
    "12 epochs, each class capped at 8,000 rows per epoch": {"epochs": 12, "class_cap": 8000},
    "20 epochs, each class capped at 8,000 rows per epoch": {"epochs": 20, "class_cap": 8000},
    "20 epochs, each class capped at 4,000 rows per epoch": {"epochs": 20, "class_cap": 4000},
    "per-record amplitude normalisation": {"inputs": per_record_amplitude},
    "12 epochs, record 114's leads in MLII-first order": {"epochs": 12, "inputs": mlii_first},
    "12 epochs, MLII only": {"epochs": 12, "inputs": mlii_only},
    "classical: morphology at the P, QRS and T waves": {"model": {"morphology": "waves"}},
}


def development(folder: Path) -> TaskData:
    """DS1 alone as the development rows (train and validation of every fold); test is empty."""
    ds1 = {r for r, (_, split) in mitdb_table().items() if split in BEATS.splits.train}
    beats = read_beats(folder, records=ds1)
    views, _ = beat_views(beats, numpy_backend())
    order = np.argsort(beats.ids, kind="stable")
    features = {v: {c: a[order] for c, a in cols.items()} for v, cols in views.items()}
    labels = [[label] for label in beats.label[order].tolist()]
    dev = labelled_split(features, labels, beats.ids[order], beats.patient_id[order], BEATS)
    return TaskData(BEATS, dev, dev, dev.take(np.arange(0)), {})


def cross_validate(variant: str, dev: TaskData, cfg: ComparisonConfig, k: int) -> tuple[np.ndarray, list[float]]:
    oof, per_fold = np.zeros((len(dev.val), len(dev.classes)), np.float32), []
    for fold in folds(dev, k, cfg.train.seed):
        model, _, _ = fit_variant(VARIANTS[variant], fold.data, cfg, None, None, None)
        oof[fold.rows] = predict_probs(model, fold.data.val, False)
        per_fold.append(headline(dev.spec)(oof[fold.rows], fold.data.val.y))
    return oof, per_fold


def figures(probs: np.ndarray, dev: TaskData) -> dict[str, float]:
    y = dev.val.y
    return {"headline": headline(dev.spec)(probs, y), **aami(probs, y, dev.classes, dev.spec.focus_classes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, default=MITDB)
    parser.add_argument("--variant", default="time")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--only", nargs="*", default=None, help="ablation names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="append each row here as a JSON line")
    args = parser.parse_args()
    start = time.perf_counter()
    base = development(args.mitdb)
    print(
        f"DS1 only: {len(base.val):,} beats of {len(set(base.val.groups.tolist()))} patients, "
        f"{args.folds} folds by patient; variant {args.variant} ({time.perf_counter() - start:.0f} s to read)",
        flush=True,
    )
    head = [f"CV {base.spec.metric_key}", "OOF", "acc", "S Se", "S +P", "V Se", "V +P"]
    for name, change in ABLATIONS.items():
        if args.only and not any(o in name for o in args.only):
            continue
        change = dict(change)
        inputs, model = change.pop("inputs", None), change.pop("model", {})
        dev = base
        if inputs:
            moved = inputs(base.val)
            dev = TaskData(base.spec, moved, moved, base.test, {})  # folds() takes train and val as one
        train_cfg = replace(TrainConfig(epochs=args.epochs, device="cpu"), **change)
        cfg = ComparisonConfig(train=train_cfg, model=replace(ModelConfig(), **model))
        t0 = time.perf_counter()
        oof, per_fold = cross_validate(args.variant, dev, cfg, args.folds)
        raw = figures(oof, dev)
        crossed = cross_fit_offsets(oof, dev.val.y, dev.val.groups, dev.spec.metric_labels, seed=train_cfg.seed)
        decided = figures(crossed, dev)
        row = {
            "ablation": name,
            "cv": [float(np.mean(per_fold)), float(np.std(per_fold))],
            "raw": raw,
            "offsets": decided,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"\n{name} ({row['seconds']:.0f} s)")
        print(f"  {'':10s}" + "".join(f"{h:>14s}" for h in head))
        for label, f in (("argmax", raw), ("offsets", decided)):
            cells = [f"{np.mean(per_fold):.3f} ± {np.std(per_fold):.3f}" if label == "argmax" else ""]
            cells += [f"{f[k]:.3f}" for k in ("headline", "accuracy", "se_S", "pp_S", "se_V", "pp_V")]
            print(f"  {label:10s}" + "".join(f"{c:>14s}" for c in cells), flush=True)
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
