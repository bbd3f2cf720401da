"""Running a family over a task input in chunks: fit train statistics, then compute features."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..backend import Array, Backend
from ..transforms.preprocess import PreprocessParams, lead_moments, preprocess, standardize

if TYPE_CHECKING:  # polars-free at run time: the GPU checks run where polars is not installed
    from .families import Family, FamilyParams
    from .inputs import TaskInput


def fit_stats(inp: TaskInput, pre: PreprocessParams, backend: Backend) -> dict:
    """Per-lead mean and std of the preprocessed signal over the train split only."""
    stats = stats_of(train_moments(inp, pre, backend))
    if not stats:
        raise ValueError(
            f"task {inp.task!r} has no rows in its train splits "
            f"{inp.train_splits}; fix: ingest records of the train split first"
        )
    return stats


def train_moments(inp: TaskInput, pre: PreprocessParams, backend: Backend) -> dict:
    """Per-lead sums of the preprocessed train rows of `inp` (a part of a task's input): moments of
    parts add up, so statistics over a database are summed part by part."""
    return lead_moment_sums(inp.signal[inp.train_mask], fs=inp.fs, pre=pre, backend=backend)


def lead_moment_sums(train: np.ndarray, *, fs: float, pre: PreprocessParams, backend: Backend) -> dict:
    """{"n", "sum", "sumsq" (per lead, float64 as lists), "rows"} of preprocessed (rows, leads, samples)."""
    xp = backend.xp

    def moments(x: Array) -> dict[str, Array]:
        y, _ = preprocess(x, xp, pre, fs=fs)
        return lead_moments(y, xp)

    total: dict[str, float | np.ndarray] = {"n": 0.0, "sum": 0.0, "sumsq": 0.0}  # per-lead arrays after a chunk
    for _, out in backend.map_chunks(moments, train):
        total = {k: total[k] + out[k] for k in total}
    as_list = lambda v: np.broadcast_to(np.asarray(v, np.float64), (train.shape[1],)).tolist()  # noqa: E731
    return {k: as_list(v) for k, v in total.items()} | {"rows": int(len(train))}


def add_moments(parts: list[dict]) -> dict:
    """The moment sums of several parts (in the order given: the same order gives the same floats)."""
    parts = [p for p in parts if p["rows"]]
    if not parts:
        return {"rows": 0}
    return {k: np.sum([p[k] for p in parts], axis=0).tolist() for k in ("n", "sum", "sumsq")} | {
        "rows": sum(p["rows"] for p in parts)
    }


def stats_of(moments: dict) -> dict:
    """Per-lead mean and std from moment sums; {} when they hold no train row."""
    if not moments.get("rows"):
        return {}
    n, total, sumsq = (np.asarray(moments[k], np.float64) for k in ("n", "sum", "sumsq"))
    mean = total / n
    std = np.sqrt(np.maximum(sumsq / n - mean**2, 0.0))
    std = np.where(std > 1e-6, std, 1.0)  # a flat lead in every train row stays unscaled
    return {"mean": mean.tolist(), "std": std.tolist(), "train_rows": int(moments["rows"])}


def lead_stats(train: np.ndarray, *, fs: float, pre: PreprocessParams, backend: Backend) -> dict:
    """Per-lead mean and std of preprocessed (rows, leads, samples), accumulated over chunks."""
    return stats_of(lead_moment_sums(train, fs=fs, pre=pre, backend=backend))


def output_fs(inp: TaskInput, pre: PreprocessParams) -> float:
    return float(pre.fs or inp.fs)


def scaled_crop(crop: tuple[int, int] | None, *, fs: float, out_fs: float) -> tuple[int, int] | None:
    """The beat window `crop` (samples at `fs`) in samples at `out_fs`, the rate after preprocessing."""
    if crop is None:
        return None
    ratio = out_fs / fs
    return int(round(crop[0] * ratio)), int(round(crop[1] * ratio))


def compute_features(
    family: Family, inp: TaskInput, params: FamilyParams, stats: dict, backend: Backend
) -> dict[str, np.ndarray]:
    """Every feature column of `family` for every row of `inp`, as host arrays (rows first)."""
    columns = array_features(family, inp.signal, fs=inp.fs, params=params, stats=stats, crop=inp.crop, backend=backend)
    picks = None
    if inp.record is not None and family.reads_record_beats:  # a section's beats: the record's median beat too
        signal = inp.record.pick_signal
        picks = array_features(family, signal, fs=inp.fs, params=params, stats=stats, crop=inp.crop, backend=backend)
    columns.update(family.host_columns(inp, params, columns, fs=output_fs(inp, params.preprocess), picks=picks))
    return columns


def array_features(
    family: Family,
    signal: np.ndarray,
    *,
    fs: float,
    params: FamilyParams,
    stats: dict,
    crop: tuple[int, int] | None,
    backend: Backend,
) -> dict[str, np.ndarray]:
    """The array part of a family (preprocess, standardise, transform), chunk by chunk on `backend`.

    `crop` (beats: the beat window in the context window) is in samples at `fs`, the input rate; it is
    rescaled here to the rate after preprocessing. Host-side columns (RR, HRV) are added by the caller.
    """
    xp = backend.xp

    def features(x: Array) -> dict[str, Array]:
        y, fs_y = preprocess(x, xp, params.preprocess, fs=fs)
        y = standardize(y, xp, np.asarray(stats["mean"]), np.asarray(stats["std"]))
        return family.arrays(y, xp, fs=fs_y, params=params, crop=scaled_crop(crop, fs=fs, out_fs=fs_y))

    columns: dict[str, np.ndarray] = {}
    for rows, out in backend.map_chunks(features, signal):
        for name, values in out.items():
            if name not in columns:
                columns[name] = np.empty((len(signal), *values.shape[1:]), np.float32)
            columns[name][rows] = values
    return columns
