"""Output Length Controller: re-times a sequence of T states to K = ceil(α·T) positions."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from legonn.interface import lengths_to_padding_mask
from legonn.length_stats import controlled_lengths
from legonn.nn import Dropout, DecoderLayer, sinusoidal_positions


class OutputLengthController(nn.Module):
    """K position queries (learned + sinusoidal) that cross-attend to the T input states.

    The group-2 blocks live here: self-attention among the K queries (non-causal),
    cross-attention to group 1's outputs, feed-forward.
    """

    def __init__(self, dim: int, heads: int, ff_dim: int, layers: int, ratio: float,
                 max_positions: int = 1024, dropout: float = 0.1):
        super().__init__()
        if ratio <= 0:
            raise ValueError(f"length ratio must be positive, got {ratio}")
        self.ratio, self.max_positions = ratio, max_positions
        self.position = nn.Embedding(max_positions, dim)
        nn.init.normal_(self.position.weight, std=dim**-0.5)
        self.blocks = nn.ModuleList(DecoderLayer(dim, heads, ff_dim, dropout, causal=False) for _ in range(layers))
        self.drop = Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """x: B × T × D states with B lengths → (B × K × D, B output lengths)."""
        out_lengths = controlled_lengths(lengths, self.ratio)
        k = int(out_lengths.max())
        if k > self.max_positions:
            raise ValueError(f"output length {k} exceeds the OLC's max_positions {self.max_positions}")
        positions = torch.arange(k, device=x.device)
        queries = self.position(positions) + sinusoidal_positions(k, x.size(-1), x.device)
        y = self.drop(queries.unsqueeze(0).expand(x.size(0), -1, -1))
        in_mask = lengths_to_padding_mask(lengths, x.size(1))
        out_mask = lengths_to_padding_mask(out_lengths, k)
        for block in self.blocks:
            y = block(y, x, in_mask, self_padding_mask=out_mask)
        return y, out_lengths
