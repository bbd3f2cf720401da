"""Spectrogram model: a 2-D CNN over (leads as channels) x freq x frames."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .blocks import ConvBlock2d, Normalizer


class SpectrogramNet(nn.Module):
    inputs = ("image",)
    cpu_bf16 = True  # TrainConfig.cpu_bf16: a training step 1.2-1.8x faster in bfloat16 where the CPU has it natively

    def __init__(self, shapes: dict[str, tuple], stats: dict[str, tuple], n_classes: int, cfg: ModelConfig):
        super().__init__()
        leads, c = shapes["image"][0], cfg.channels
        self.norm = Normalizer(*stats["image"])
        self.convs = nn.Sequential(
            ConvBlock2d(leads, c), ConvBlock2d(c, 2 * c, stride=2), ConvBlock2d(2 * c, 4 * c, stride=2)
        )
        self.proj = nn.Linear(4 * c, cfg.embed_dim)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.embed_dim, n_classes))

    def encode(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        h = self.convs(self.norm(x["image"]))  # (B, 4c, F/4, frames/4)
        return torch.relu(self.proj(h.mean(dim=(2, 3))))  # (B, embed)

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.encode(x))
