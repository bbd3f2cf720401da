"""Training in bfloat16 on the CPU (`TrainConfig.cpu_bf16`) against float32, the default: seconds per epoch.

Baseline: the same epoch in float32, as every CPU comparison in the README was trained. Rows: the real
beats of the bundled MIT-BIH records (data/sample/mitdb), the three views computed as ingest computes
them (benchmarks.beat_arrays), one split; each model trains one warm-up epoch on 2,048 rows, then REPEATS
timed epochs (validation pass included) with each setting from the same seed, the two settings taking turns so
a machine's drift falls on both; the medians are compared, and the ratios' range shows how far one pair of
epochs moves (one pair read 0.98x, 1.37x and 1.41x for the time model on one AMD EPYC within minutes).
`cpu_bf16` reaches only the models that declare it pays (time, spectrogram); here every model is timed in
bfloat16, the frequency Transformer to show why it is left out. Where the CPU has no native bfloat16 (AMX or
AVX512-BF16) the ratio says what it costs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ecgnet.config import ModelConfig, TrainConfig
from ecgnet.data import TaskData
from ecgnet.fusion import build
from ecgnet.models import MODALITIES
from ecgnet.train import autocast_args, bf16_unit, native_bf16, seed_everything, train
from ecgnet.variants import VARIANTS
from feature_store.backend import numpy_backend
from feature_store.workspace import PROJECT_ROOT

from .beat_arrays import beat_task_data, beat_views, read_beats

SAMPLE = PROJECT_ROOT / "data" / "sample" / "mitdb"
REPEATS = 5


def epoch_seconds(name: str, data: TaskData, bf16: bool) -> float:
    """One epoch of `name`; with `bf16`, in bfloat16 whether or not the model declares that it pays."""
    seed_everything(0)
    model = build(VARIANTS[name], data, ModelConfig())
    # torch types Module.__setattr__'s value as Tensor | Module, but it stores any other value as a plain attribute
    model.cpu_bf16 = bf16  # type: ignore[assignment]
    return train(model, data, TrainConfig(epochs=1, device="cpu", cpu_bf16=bf16)).history[0]["seconds"]


def main(folder: Path = SAMPLE) -> None:
    beats = read_beats(folder)
    views, _ = beat_views(beats, numpy_backend())
    data = beat_task_data(beats, views)
    warm = replace(data, train=data.train.take(np.arange(min(2048, len(data.train)))))
    print(
        f"bfloat16 training on the CPU: {len(data.train):,} training beats of {folder}; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; native bfloat16: {bf16_unit()} "
        f"(ECGNET_CPU_BF16=auto turns it on: {native_bf16()})"
    )
    print(f"median of {REPEATS} epochs each, the settings taking turns")
    print(
        f"{'model':12s} {'float32 s':>10s} {'bfloat16 s':>10s} {'float32 / bfloat16':>19s} {'pair range':>13s}"
        "  cpu_bf16 reaches it"
    )
    for name in MODALITIES:
        for cpu_bf16 in (False, True):
            epoch_seconds(name, warm, cpu_bf16)
        pairs = np.array([[epoch_seconds(name, data, bf16) for bf16 in (False, True)] for _ in range(REPEATS)])
        plain, half = np.median(pairs, axis=0)
        ratios = pairs[:, 0] / pairs[:, 1]
        model = build(VARIANTS[name], data, ModelConfig())
        reaches = autocast_args(TrainConfig(cpu_bf16=True), model, torch.device("cpu"))["enabled"]
        spread = f"{ratios.min():.2f}-{ratios.max():.2f}x"
        print(f"{name:12s} {plain:10.2f} {half:10.2f} {plain / half:18.2f}x {spread:>13s}  {reaches}")


if __name__ == "__main__":
    main()
