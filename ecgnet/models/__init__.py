"""Modality encoders: each has `encode(x) -> (B, embed_dim)` and a classification head."""

from .config import ModelConfig
from .frequency import FrequencyNet
from .spectrogram import SpectrogramNet
from .time import TimeNet

MODALITIES = {"time": TimeNet, "frequency": FrequencyNet, "spectrogram": SpectrogramNet}

__all__ = ["MODALITIES", "FrequencyNet", "ModelConfig", "SpectrogramNet", "TimeNet"]
