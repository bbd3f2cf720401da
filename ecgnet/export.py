"""One flat float32 input per row for serving: a layout packs the modality inputs into a vector.

MLflow signatures and `torch.export` want one tensor; the layout (kept with the logged model)
says which slice of it is which view column, so inference packs online features the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .config import CPU_SCORE_ROWS
from .data import TaskData
from .fusion import activation


@dataclass(frozen=True)
class Layout:
    entries: tuple[tuple[str, str, tuple[int, ...]], ...]  # (modality, input, shape) in order

    @classmethod
    def of(cls, data: TaskData) -> Layout:
        return cls(tuple((m, k, shape) for m in data.train.x for k, shape in data.shapes(m).items()))

    @property
    def width(self) -> int:
        return sum(int(np.prod(shape)) for _, _, shape in self.entries)

    def spans(self) -> list[tuple[str, str, tuple[int, ...], slice]]:
        """(modality, input, shape, columns of the packed row) for every entry, in order."""
        out, offset = [], 0
        for m, k, shape in self.entries:
            size = int(np.prod(shape))
            out.append((m, k, shape, slice(offset, offset + size)))
            offset += size
        return out

    def pack(self, x: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
        """(rows, width) float32 from modality -> input -> (rows, *shape)."""
        n = len(next(iter(next(iter(x.values())).values())))
        for m, k, shape in self.entries:
            have = tuple(np.shape(x[m][k])[1:]) if k in x.get(m, {}) else None
            if have is None or int(np.prod(have)) != int(np.prod(shape)):
                raise ValueError(
                    f"the model reads {m}/{k} of shape {shape}, the features give {'none' if have is None else have}: "
                    f"it was trained on another layout of the views; fix: train it again on these views"
                )
        return np.concatenate([np.asarray(x[m][k], np.float32).reshape(n, -1) for m, k, _ in self.entries], axis=1)

    def to_json(self) -> list:
        return [[m, k, list(shape)] for m, k, shape in self.entries]

    @classmethod
    def from_json(cls, entries: list) -> Layout:
        return cls(tuple((m, k, tuple(shape)) for m, k, shape in entries))


class Packed(nn.Module):
    """Wraps a variant: (rows, width) float32 in, class probabilities out."""

    def __init__(self, model: nn.Module, layout: Layout, multilabel: bool):
        super().__init__()
        self.model, self.layout, self.multilabel = model, layout, multilabel

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        x: dict[str, dict[str, torch.Tensor]] = {}
        for m, k, shape, cols in self.layout.spans():
            x.setdefault(m, {})[k] = flat[:, cols].reshape(-1, *shape)
        return activation(self.model(x), self.multilabel)


def packed_probs(net: nn.Module, flat: np.ndarray, rows: int = CPU_SCORE_ROWS) -> np.ndarray:
    """Probabilities of a packed model (`Packed`, or one MLflow loaded) for every row of `flat`, `rows` at
    a time, so that scoring a day-long record holds one pass's activations, not every row's. `net` is in
    evaluation mode already: a model MLflow loaded from `torch.export` refuses `eval()`."""
    out = []
    with torch.no_grad():
        for start in range(0, max(len(flat), 1), rows):
            out.append(net(torch.from_numpy(np.asarray(flat[start : start + rows], np.float32))).numpy())
    return np.concatenate(out)
