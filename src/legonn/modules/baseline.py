"""A plain transformer encoder-decoder of matching size: no interface, hidden states cross over."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn

from legonn.interface import lengths_to_padding_mask
from legonn.modules.decoder import AutoregressiveDecoder, Encoded
from legonn.nn import Dropout, EncoderLayer, sinusoidal_positions


@dataclass(frozen=True)
class BaselineConfig:
    """Sizes of the monolithic `Baseline`."""

    src_vocab_size: int
    out_vocab_size: int
    dim: int = 256
    heads: int = 4
    ff_dim: int = 1024
    encoder_layers: int = 4
    decoder_layers: int = 3
    dropout: float = 0.1


class Baseline(nn.Module):
    """Tokens → transformer encoder → autoregressive decoder (the ordinary, non-modular model)."""

    def __init__(self, cfg: BaselineConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.src_vocab_size, cfg.dim, padding_idx=0)
        nn.init.normal_(self.embed.weight, std=cfg.dim**-0.5)
        self.layers = nn.ModuleList(
            EncoderLayer(cfg.dim, cfg.heads, cfg.ff_dim, cfg.dropout) for _ in range(cfg.encoder_layers)
        )
        self.norm = nn.LayerNorm(cfg.dim)
        self.drop = Dropout(cfg.dropout)
        self.ar = AutoregressiveDecoder(cfg.out_vocab_size, cfg.dim, cfg.heads, cfg.ff_dim, cfg.decoder_layers,
                                        cfg.dropout)

    def encode(self, tokens: Tensor, lengths: Tensor) -> Encoded:
        """tokens: B × T → memory B × T × D (no interfaces)."""
        t = tokens.size(1)
        x = self.embed(tokens) * math.sqrt(self.cfg.dim) + sinusoidal_positions(t, self.cfg.dim, tokens.device)
        x = self.drop(x)
        mask = lengths_to_padding_mask(lengths, t)
        for layer in self.layers:
            x = layer(x, mask)
        return Encoded(self.norm(x), mask, [])

    def forward(self, tokens: Tensor, lengths: Tensor, prev_tokens: Tensor) -> tuple[Tensor, list]:
        """→ (logits B × L × V, no interfaces)."""
        enc = self.encode(tokens, lengths)
        return self.ar(prev_tokens, enc.memory, enc.padding_mask), []
