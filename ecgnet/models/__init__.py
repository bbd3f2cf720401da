"""Modality encoders: each has `encode(x) -> (B, embed_dim)` and a classification head."""

from .frequency import FrequencyNet
from .spectrogram import SpectrogramNet
from .time import TimeNet

# keyed and ordered as ecgnet.variants.MODALITY_NAMES, which names them without importing torch
MODALITIES = {"time": TimeNet, "frequency": FrequencyNet, "spectrogram": SpectrogramNet}

__all__ = ["MODALITIES", "FrequencyNet", "SpectrogramNet", "TimeNet"]
