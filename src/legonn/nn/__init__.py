"""Layers shared by all modules: attention blocks and positions."""

from legonn.nn.layers import (  # noqa: F401
    DecoderLayer,
    Dropout,
    EncoderLayer,
    MultiHeadAttention,
    sinusoidal_positions,
)
