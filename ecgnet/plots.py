"""Pictures logged with every variant (ROC curves, confusion matrix, training curves) and with every
comparison (metrics with intervals against size)."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter, NullFormatter
from sklearn.metrics import confusion_matrix, roc_curve

from feature_store.plots import plt, to_png


def roc_png(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...], multilabel: bool, title: str) -> bytes:
    onehot = y if multilabel else np.eye(len(classes))[y]
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for c, name in enumerate(classes):
        if 0 < onehot[:, c].sum() < len(onehot):
            fpr, tpr, _ = roc_curve(onehot[:, c], probs[:, c])
            ax.plot(fpr, tpr, lw=1.2, label=name)
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return to_png(fig)


def confusion_png(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...], title: str) -> bytes:
    cm = confusion_matrix(y, probs.argmax(axis=1), labels=range(len(classes)))
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8, color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("annotated")
    ax.set_title(title, fontsize=9)
    return to_png(fig)


def training_png(history: list[dict], title: str) -> bytes:
    """Train loss and validation metric per epoch; one pair of curves per fold member when cross-validated."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax2 = ax.twinx()
    for i, fold in enumerate(sorted({h.get("fold", 0) for h in history})):
        rows = [h for h in history if h.get("fold", 0) == fold]
        epochs = [h["epoch"] for h in rows]
        ax.plot(
            epochs,
            [h["train_loss"] for h in rows],
            color="tab:blue",
            alpha=0.7,
            label="train loss" if not i else None,
        )
        ax2.plot(
            epochs,
            [h["val_metric"] for h in rows],
            color="tab:orange",
            alpha=0.7,
            label="validation metric" if not i else None,
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss")
    ax2.set_ylabel("validation metric")
    ax.set_title(title, fontsize=9)
    fig.legend(fontsize=7, loc="upper right")
    return to_png(fig)


KIND_COLOURS = {
    "single": "tab:blue",
    "early": "tab:green",
    "intermediate": "tab:purple",
    "late": "tab:orange",
    "classical": "tab:brown",
}


def comparison_png(rows: list[dict], metric: str, candidate: str, title: str) -> bytes:
    """The comparison at a glance: each variant's test metric with its 95 % interval (left), and the
    same against model size (right). `rows`: variant, kind, params, value, lo, hi."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.5, 0.45 * len(rows) + 1.6), gridspec_kw={"width_ratios": (1.3, 1)})
    for i, r in enumerate(rows):
        colour = KIND_COLOURS.get(r["kind"], "grey")
        ax.errorbar(
            r["value"],
            i,
            xerr=[[r["value"] - r["lo"]], [r["hi"] - r["value"]]],
            fmt="o",
            color=colour,
            capsize=3,
            mfc="white" if r["variant"] != candidate else colour,
        )
        ax2.scatter(r["params"], r["value"], color=colour, s=28)
        ax2.annotate(r["variant"], (r["params"], r["value"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_yticks(
        range(len(rows)), [r["variant"] + (" (chosen)" if r["variant"] == candidate else "") for r in rows], fontsize=8
    )
    ax.invert_yaxis()
    ax.set_xlabel(f"test {metric}, 95 % patient-bootstrap interval", fontsize=8)
    ax2.set_xscale("log")
    ax2.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
    ax2.xaxis.set_minor_formatter(NullFormatter())  # minor labels on a short log axis collide
    ax2.set_xlabel("parameters", fontsize=8)
    ax2.set_ylabel(f"test {metric}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return to_png(fig)
