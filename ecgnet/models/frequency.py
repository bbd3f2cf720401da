"""Frequency model: a convolutional stem over the PSD, positional encoding, a Transformer encoder."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .blocks import Normalizer, SinusoidalPositions, mlp


class FrequencyNet(nn.Module):
    inputs = ("psd", "scalars")

    def __init__(self, shapes: dict[str, tuple], stats: dict[str, tuple], n_classes: int, cfg: ModelConfig):
        super().__init__()
        leads, d = shapes["psd"][0], cfg.embed_dim
        self.norm_psd, self.norm_scalars = Normalizer(*stats["psd"]), Normalizer(*stats["scalars"])
        self.stem = nn.Sequential(nn.Conv1d(leads, d, 3, padding=1), nn.GELU(), nn.Conv1d(d, d, 3, padding=1))
        self.positions = SinusoidalPositions(d, max_tokens=shapes["psd"][1])
        layer = nn.TransformerEncoderLayer(
            d, cfg.heads, dim_feedforward=2 * d, dropout=cfg.attention_dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.scalars = mlp(shapes["scalars"][0], cfg.scalar_dim, cfg.scalar_dim, cfg.dropout)
        self.proj = nn.Linear(d + cfg.scalar_dim, cfg.embed_dim)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.embed_dim, n_classes))

    def encode(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = self.stem(self.norm_psd(x["psd"])).transpose(1, 2)  # (B, F, d): one token per bin
        h = self.encoder(self.positions(tokens)).mean(dim=1)  # (B, d)
        s = self.scalars(self.norm_scalars(x["scalars"]))
        return torch.relu(self.proj(torch.cat([h, s], dim=1)))  # (B, embed)

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.encode(x))
