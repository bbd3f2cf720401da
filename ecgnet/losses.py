"""The focal loss (Lin et al. 2017) for single-label tasks, class-weighted as the cross-entropy is.

Each row's cross-entropy is scaled by (1 - p_true)^gamma: rows the model already reads right weigh
less, so training spends its gradient on the hard ones. On MIT-BIH those are the S beats whose shape
says N (DS1's 118 and 207, conducted with a bundle-branch block; DS2's 232), which class weights alone
lift only as a class. Measured on DS1 cross-validation with two seeds (gamma 2): within noise, and those
records' S beats found less often, so it is off by default (benchmarks/ABLATIONS.md, "The focal loss").
"""

from __future__ import annotations

import torch
from torch import nn


class FocalLoss(nn.Module):
    """Class-weighted focal loss, normalised as the class-weighted mean cross-entropy is (by the sum of
    the class weights its rows carry): gamma 0 is `nn.CrossEntropyLoss(weight=weight)` exactly."""

    weight: torch.Tensor | None  # a buffer (None: unweighted), declared for the type checker

    def __init__(self, weight: torch.Tensor | None, gamma: float):
        super().__init__()
        if gamma < 0:
            raise ValueError(f"focal gamma {gamma}; fix: 0 (cross-entropy) or more")
        self.register_buffer("weight", weight)
        self.gamma = gamma

    def per_row(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Each row's class-weighted focal term (not yet normalised)."""
        logp = torch.log_softmax(logits.float(), dim=1).gather(1, target[:, None])[:, 0]
        focal = -((1 - logp.exp()).clamp(min=0) ** self.gamma) * logp
        return focal if self.weight is None else focal * self.weight[target]

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        carried = torch.ones_like(target, dtype=torch.float32) if self.weight is None else self.weight[target]
        return self.per_row(logits, target).sum() / carried.sum()
