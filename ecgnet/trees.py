"""A fitted tree ensemble as a torch module, so boosted trees are exported, served and saved like
every other variant.

Every tree's nodes sit in flat arrays; a row walks all trees at once, one level a step, each tree
for its own depth (a leaf points to itself). The logits are each
class's baseline plus the leaf values of that class's trees: exactly what scikit-learn's
`HistGradientBoostingClassifier.decision_function` computes (tests/test_trees.py holds it to that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:  # scikit-learn is not imported to run a fitted ensemble
    from sklearn.ensemble import HistGradientBoostingClassifier


class TreeEnsemble(nn.Module):
    """(rows, features) -> (rows, classes) logits of boosted trees.

    Each node's one learnt number (a split's threshold, a leaf's value) is a parameter (frozen: nothing here is
    trained by gradient), so parameter counts see them; features, children and the tree -> class map
    are structure (buffers). Sizes come from the fit, so loading saved weights resizes them first.
    """

    # buffers: registered in __init__, declared here so they read as tensors rather than nn.Module.__getattr__'s union
    feature: torch.Tensor
    left: torch.Tensor
    right: torch.Tensor
    missing_left: torch.Tensor
    roots: torch.Tensor
    tree_class: torch.Tensor
    bias: torch.Tensor

    def __init__(self, n_classes: int):
        super().__init__()
        self.number = nn.Parameter(torch.zeros(0), requires_grad=False)  # threshold, or value at a leaf
        self.register_buffer("feature", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("left", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("right", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("missing_left", torch.zeros(0, dtype=torch.bool))
        self.register_buffer("roots", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("tree_class", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("bias", torch.zeros(n_classes))
        # trees are kept deepest first; walking[level] is how many of them are still walking at that level
        # (saved as extra state: export unrolls the loop), so a shallow tree stops when it is done
        self.walking: list[int] = []
        self.register_load_state_dict_pre_hook(self._resize)

    def _resize(
        self,
        module: nn.Module,
        state_dict: Mapping[str, Any],  # Any: tensors, and whatever a module's extra state holds
        prefix: str,
        *args: object,  # local_metadata, strict, missing_keys, unexpected_keys, error_msgs: not read
    ) -> None:
        # a fitted ensemble's size is the fit's: take the saved shapes before copying into them
        if prefix + "number" in state_dict:
            self.number.data = torch.empty_like(state_dict[prefix + "number"])
        for name in ("feature", "left", "right", "missing_left", "roots", "tree_class"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))

    def set_forest(self, forest: Forest, bias: np.ndarray) -> None:
        """Take `forest`'s trees and each class's baseline logit `bias`."""
        nodes = forest.nodes
        with torch.no_grad():
            self.number.data = torch.as_tensor(nodes["number"], dtype=torch.float32)
        self.feature = torch.as_tensor(nodes["feature"], dtype=torch.int64)
        self.left = torch.as_tensor(nodes["left"], dtype=torch.int64)
        self.right = torch.as_tensor(nodes["right"], dtype=torch.int64)
        self.missing_left = torch.as_tensor(nodes["missing_left"], dtype=torch.bool)
        deepest = np.argsort(-forest.depths, kind="stable")
        self.roots = torch.as_tensor(forest.roots[deepest], dtype=torch.int64)
        self.tree_class = torch.as_tensor(forest.tree_class[deepest], dtype=torch.int64)
        self.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        self.walking = [int((forest.depths > level).sum()) for level in range(forest.depth)]

    def get_extra_state(self) -> dict:
        return {"walking": self.walking}

    def set_extra_state(self, state: dict) -> None:
        self.walking = [int(k) for k in state["walking"]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.shape[0]
        node = self.roots.unsqueeze(0).repeat(rows, 1)  # (rows, trees)
        for k in self.walking:
            walk = node[:, :k]
            value = torch.gather(x, 1, self.feature[walk])
            go_left = torch.where(torch.isnan(value), self.missing_left[walk], value <= self.number[walk])
            node[:, :k] = torch.where(go_left, self.left[walk], self.right[walk])
        logits = self.bias.unsqueeze(0).repeat(rows, 1)
        return logits.index_add(1, self.tree_class, self.number[node].to(logits.dtype))  # every walk ends at a leaf


@dataclass
class Forest:
    """Trees as flat node arrays (global node indices; a leaf's children are itself), each tree's root
    and the class whose logit it adds to."""

    nodes: dict[str, np.ndarray]
    roots: np.ndarray
    tree_class: np.ndarray
    depths: np.ndarray  # each tree's

    @property
    def depth(self) -> int:
        return int(self.depths.max(initial=0))

    def __add__(self, other: Forest) -> Forest:
        shift = len(self.nodes["number"])
        moved = {k: v + shift if k in ("left", "right") else v for k, v in other.nodes.items()}
        return Forest(
            {k: np.concatenate([self.nodes[k], moved[k]]) for k in self.nodes},
            np.concatenate([self.roots, other.roots + shift]),
            np.concatenate([self.tree_class, other.tree_class]),
            np.concatenate([self.depths, other.depths]),
        )


def boosted_forest(
    model: HistGradientBoostingClassifier, outputs: Sequence[int] | np.ndarray
) -> tuple[Forest, np.ndarray]:
    """The trees of a fitted `HistGradientBoostingClassifier` and its baseline logits; `outputs[k]` is
    the class the k-th tree of every round adds to. Reads the estimator's fitted predictors, which
    scikit-learn keeps private: its version is pinned, and the test against its own
    `decision_function` says when that layout moves."""
    parts, roots, tree_class, depths, offset = [], [], [], [], 0
    for round_ in model._predictors:
        for k, predictor in enumerate(round_):
            nodes = predictor.nodes
            if np.any(nodes["is_categorical"]):
                raise ValueError("categorical splits are not carried into the tree module; fix: fit numerical features")
            leaf = nodes["is_leaf"].astype(bool)
            own = np.arange(len(nodes)) + offset
            parts.append(
                {
                    "number": np.where(leaf, nodes["value"], float32_floor(nodes["num_threshold"])),
                    "feature": np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64),
                    "left": np.where(leaf, own, nodes["left"] + offset).astype(np.int64),
                    "right": np.where(leaf, own, nodes["right"] + offset).astype(np.int64),
                    "missing_left": nodes["missing_go_to_left"].astype(bool),
                }
            )
            roots.append(offset)
            tree_class.append(outputs[k])
            depths.append(int(nodes["depth"].max()))
            offset += len(nodes)
    flat = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    forest = Forest(flat, np.asarray(roots, np.int64), np.asarray(tree_class, np.int64), np.asarray(depths, np.int64))
    return forest, np.asarray(model._baseline_prediction, dtype=np.float64).ravel()


def float32_floor(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 at or below each float64 threshold: for float32 inputs (the views' dtype)
    `x <= floor` decides as `x <= threshold` does, where rounding to nearest could flip a row that
    sits exactly on the float32 above it."""
    near = threshold.astype(np.float32)
    return np.where(near.astype(np.float64) > threshold, np.nextafter(near, np.float32(-np.inf)), near)
