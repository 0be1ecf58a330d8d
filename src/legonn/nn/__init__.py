"""Layers shared by all modules: attention blocks, positions, speech subsampling."""

from legonn.nn.layers import (  # noqa: F401
    DecoderLayer,
    Dropout,
    EncoderLayer,
    MultiHeadAttention,
    sinusoidal_positions,
)
from legonn.nn.subsampling import MIN_FRAMES, Conv2dSubsampling, subsampled_lengths  # noqa: F401
