"""Pictures of records for people: a few seconds of each lead, beat labels where there are any."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:  # polars-free at import: ecgnet's plots run on the lent GPU machines, which lack it
    import polars as pl
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def records_png(
    records: pl.DataFrame, *, seconds: float = 5.0, max_leads: int = 3, beats: pl.DataFrame | None = None
) -> bytes:
    """PNG of the first `seconds` of up to `max_leads` leads of each row of `records`.

    `records` has record_id, fs, lead_names, signal (and optionally labels, and dropouts: shaded, as the
    straight line that stands in for their invalid samples is no signal); `beats` (optional) has record_id,
    r_peak, label: beats too close to an edge for a context window are not marked.
    """
    import polars as pl

    fig, axes = plt.subplots(len(records), 1, figsize=(10, 2.2 * len(records)), squeeze=False)
    for ax, row in zip(axes[:, 0], records.iter_rows(named=True)):
        fs, n = row["fs"], int(seconds * row["fs"])
        t = np.arange(n) / fs
        for lead, values in list(zip(row["lead_names"], row["signal"]))[:max_leads]:
            ax.plot(t[: len(values[:n])], values[:n], lw=0.7, label=lead)
        if beats is not None:
            _mark_beats(ax, beats.filter(pl.col("record_id") == row["record_id"]), fs, seconds)
        shown = [d for d in row.get("dropouts") or [] if d["start"] < n]
        for i, d in enumerate(shown):
            label = f"dropout ({', '.join(sorted({d['lead'] for d in shown}))})" if i == 0 else None
            ax.axvspan(d["start"] / fs, min(d["stop"], n) / fs, color="grey", alpha=0.3, lw=0, label=label)
        labels = ", ".join(row.get("labels") or [])
        ax.set_title(f"record {row['record_id']} ({fs:g} Hz){'  ' + labels if labels else ''}", fontsize=9, loc="left")
        ax.set_ylabel("mV")
        ax.legend(loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel("s")
    return to_png(fig)


def _mark_beats(ax: Axes, beats: pl.DataFrame, fs: float, seconds: float) -> None:
    import polars as pl

    shown = beats.filter(pl.col("r_peak") < seconds * fs)
    for r_peak, label in shown.select("r_peak", "label").iter_rows():
        ax.axvline(r_peak / fs, color="grey", lw=0.5, ls=":")
        ax.annotate(label, (r_peak / fs, 1.0), xycoords=("data", "axes fraction"), fontsize=7, ha="center", va="bottom")


def spectrogram_png(
    spec: np.ndarray, *, freqs: list[float], times: list[float], lead_names: list[str], title: str, max_leads: int = 3
) -> bytes:
    """PNG of a (leads, freq, frames) log-magnitude spectrogram, one panel per lead."""
    n = min(len(spec), max_leads)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3), squeeze=False)
    for ax, lead, s in zip(axes[0], lead_names, spec):
        mesh = ax.pcolormesh(times, freqs, s, shading="nearest", cmap="magma")
        ax.set_title(lead, fontsize=9)
        ax.set_xlabel("s")
        fig.colorbar(mesh, ax=ax, label="ln |STFT|")
    axes[0, 0].set_ylabel("Hz")
    fig.suptitle(title, fontsize=10)
    return to_png(fig)


def class_means_png(
    values: np.ndarray, labels: list[str], *, x: np.ndarray, xlabel: str, ylabel: str, title: str
) -> bytes:
    """PNG of the mean curve per class of (rows, points) `values` (e.g. a lead's PSD or beat)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels_arr = np.asarray(labels)
    for label in sorted(set(labels)):
        rows = labels_arr == label
        ax.plot(x, values[rows].mean(axis=0), label=f"{label} (n={rows.sum()})", lw=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return to_png(fig)


def to_png(fig: Figure) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()
