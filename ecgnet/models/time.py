"""Time model: a residual 1-D CNN over the waveform (leads as channels) plus an MLP over descriptors, and
where the view has one, a smaller CNN over the rhythm strip around the beat."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .blocks import Normalizer, ResBlock1d, mlp
from .readings import ReferenceReadings
from .rhythm import MonotoneRhythm


class TimeNet(nn.Module):
    inputs = ("waveform", "strip", "scalars")  # the strip where the view has one
    cpu_bf16 = True  # TrainConfig.cpu_bf16: a training step 1.2-1.8x faster in bfloat16 where the CPU has it natively

    def __init__(self, shapes: dict[str, tuple], stats: dict[str, tuple], n_classes: int, cfg: ModelConfig):
        super().__init__()
        leads, c = shapes["waveform"][0], cfg.channels
        self.norm_wave, self.norm_scalars = Normalizer(*stats["waveform"]), Normalizer(*stats["scalars"])
        self.stem = nn.Sequential(nn.Conv1d(leads, c, 7, padding=3, bias=False), nn.BatchNorm1d(c), nn.ReLU())
        self.blocks = nn.Sequential(ResBlock1d(c, c, 2), ResBlock1d(c, 2 * c, 2), ResBlock1d(2 * c, 2 * c, 2))
        if cfg.time_segments < 1:
            raise ValueError(f"ModelConfig.time_segments={cfg.time_segments}; fix: 1 or more")
        self.pool = nn.AdaptiveAvgPool1d(cfg.time_segments)
        self.strip = StripEncoder(leads, c, cfg.strip_segments, stats["strip"]) if "strip" in shapes else None
        strip_width = 0 if self.strip is None else self.strip.width
        self.scalars = mlp(shapes["scalars"][0], cfg.scalar_dim, cfg.scalar_dim, cfg.dropout)
        self.proj = nn.Linear(2 * c * cfg.time_segments + strip_width + cfg.scalar_dim, cfg.embed_dim)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.embed_dim, n_classes))
        self.readings: ReferenceReadings | None = None  # beat tasks may set it (ecgnet.fusion.time_readings)
        self.rhythm: MonotoneRhythm | None = None  # beat tasks may set it: the beat's intervals read apart

    def encode(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        h = self.blocks(self.stem(self.norm_wave(x["waveform"])))  # (B, 2c, T/8)
        h = self.pool(h).flatten(1)  # (B, 2c * segments)
        if self.strip is not None:
            h = torch.cat([h, self.strip(x["strip"])], dim=1)
        scalars = x["scalars"]
        if self.readings is None:
            return self._join(h, scalars)
        if self.training:
            return self._join(h, self.readings.draw(scalars))
        # the head is linear: the mean embedding gives the mean of the readings' logits
        return torch.stack([self._join(h, s) for s in self.readings.all(scalars)]).mean(dim=0)

    def _join(self, h: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        scalars = self.norm_scalars(scalars)
        s = self.scalars(scalars if self.rhythm is None else self.rhythm.masked(scalars))  # (B, scalar_dim)
        return torch.relu(self.proj(torch.cat([h, s], dim=1)))  # (B, embed)

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        h = self.encode(x)
        return self.head(h) if self.rhythm is None else self.head(h) + self.rhythm(x["scalars"], h)


class StripEncoder(nn.Module):
    """The rhythm strip (the context window at a low rate): stem and two strided residual blocks, pooled
    over ordered spans, so the neighbours' shapes and where they sit both reach the embedding."""

    def __init__(self, leads: int, c: int, segments: int, stats: tuple):
        super().__init__()
        if segments < 1:
            raise ValueError(f"ModelConfig.strip_segments={segments}; fix: 1 or more")
        self.norm = Normalizer(*stats)
        self.stem = nn.Sequential(nn.Conv1d(leads, c, 7, padding=3, bias=False), nn.BatchNorm1d(c), nn.ReLU())
        self.blocks = nn.Sequential(ResBlock1d(c, c, 2), ResBlock1d(c, 2 * c, 2))
        self.pool = nn.AdaptiveAvgPool1d(segments)
        self.width = 2 * c * segments

    def forward(self, strip: torch.Tensor) -> torch.Tensor:
        return self.pool(self.blocks(self.stem(self.norm(strip)))).flatten(1)  # (B, width)
