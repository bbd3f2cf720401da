"""Pictures logged with every variant: ROC curves, confusion matrix, training curves."""

from __future__ import annotations

import numpy as np
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
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("annotated")
    ax.set_title(title, fontsize=9)
    return to_png(fig)


def training_png(history: list[dict], title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 3))
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], label="train loss")
    ax2 = ax.twinx()
    ax2.plot(epochs, [h["val_metric"] for h in history], color="tab:orange", label="validation metric")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss")
    ax2.set_ylabel("validation metric")
    ax.set_title(title, fontsize=9)
    fig.legend(fontsize=7, loc="upper right")
    return to_png(fig)
