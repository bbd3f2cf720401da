"""Modality encoders: each has `encode(x) -> (B, embed_dim)` and a classification head."""

from ..variants import MODALITY_NAMES
from .frequency import FrequencyNet
from .spectrogram import SpectrogramNet
from .time import TimeNet

# the nets of the views ecgnet.variants names (without torch), in its order
MODALITIES = dict(zip(MODALITY_NAMES, (TimeNet, FrequencyNet, SpectrogramNet), strict=True))

__all__ = ["MODALITIES", "FrequencyNet", "SpectrogramNet", "TimeNet"]
