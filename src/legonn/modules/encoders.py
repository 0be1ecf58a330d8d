"""Encoders: map their input to `Marginals` over an interface vocabulary, grounded by CTC."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from legonn.interface import Marginals, VocabId, lengths_to_padding_mask
from legonn.modules.length import OutputLengthController
from legonn.nn import Dropout, EncoderLayer, sinusoidal_positions


class InterfaceHead(nn.Module):
    """Linear(D → V) + log-softmax: the only thing a downstream module will see."""

    def __init__(self, dim: int, vocab: VocabId):
        super().__init__()
        self.vocab = vocab
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, vocab.size)

    def forward(self, x: Tensor, lengths: Tensor) -> Marginals:
        """x: B × K × D → Marginals (B × K × V, fp32 log-probs)."""
        log_probs = self.proj(self.norm(x)).log_softmax(-1, dtype=torch.float32)  # fp32 for CTC
        return Marginals(log_probs, lengths, self.vocab)


@dataclass(frozen=True)
class TextEncoderConfig:
    """Sizes of a `TextEncoder`.

    src_vocab_size: source sentencepiece size; group1/group2: layers before/after the OLC;
    length_ratio: OLC α (K = ceil(α·T)); max_positions: longest K the OLC can emit.
    """

    src_vocab_size: int
    dim: int = 256
    heads: int = 4
    ff_dim: int = 1024
    group1_layers: int = 3
    group2_layers: int = 1
    length_ratio: float = 2.0
    max_positions: int = 1024
    dropout: float = 0.1


class TextEncoder(nn.Module):
    """Tokens → embeddings → group 1 → OLC (group 2) → interface head → Marginals."""

    def __init__(self, cfg: TextEncoderConfig, out_vocab: VocabId):
        super().__init__()
        self.cfg, self.out_vocab = cfg, out_vocab
        self.embed = nn.Embedding(cfg.src_vocab_size, cfg.dim, padding_idx=0)
        nn.init.normal_(self.embed.weight, std=cfg.dim**-0.5)
        self.group1 = nn.ModuleList(
            EncoderLayer(cfg.dim, cfg.heads, cfg.ff_dim, cfg.dropout) for _ in range(cfg.group1_layers)
        )
        self.olc = OutputLengthController(
            cfg.dim, cfg.heads, cfg.ff_dim, cfg.group2_layers, cfg.length_ratio, cfg.max_positions, cfg.dropout
        )
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.head = InterfaceHead(cfg.dim, out_vocab)
        self.drop = Dropout(cfg.dropout)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Marginals:
        """tokens: B × T source ids (0-padded), lengths: B → Marginals B × ceil(α·T) × V."""
        t = tokens.size(1)
        x = self.embed(tokens) * math.sqrt(self.cfg.dim) + sinusoidal_positions(t, self.cfg.dim, tokens.device)
        x = self.drop(x)
        mask = lengths_to_padding_mask(lengths, t)
        for layer in self.group1:
            x = layer(x, mask)
        y, out_lengths = self.olc(self.norm1(x), lengths)
        return self.head(y, out_lengths)


