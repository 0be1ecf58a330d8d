"""Decoders: an autoregressive transformer stack, and the LegoNN Decoder that reads `Marginals`:
`ingestor → layers → autoregressive decoder`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch.nn.functional as F
from torch import Tensor, nn

from legonn.interface import Marginals, VocabId
from legonn.modules.frontends import MarginalIngest
from legonn.modules.ingestors import INGESTORS, WEmbConfig
from legonn.modules.sizes import Sizes
from legonn.nn import Dropout, DecoderLayer, EncoderLayer, sinusoidal_positions

Cache = list[dict]


class AutoregressiveDecoder(nn.Module):
    """Causal transformer decoder over a memory; output projection tied to the token embedding."""

    def __init__(self, vocab_size: int, dim: int, heads: int, ff_dim: int, layers: int, dropout: float):
        super().__init__()
        self.dim = dim
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        nn.init.normal_(self.embed.weight, std=dim**-0.5)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ff_dim, dropout, causal=True) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.drop = Dropout(dropout)

    def _embed(self, tokens: Tensor, offset: int) -> Tensor:
        x = self.embed(tokens) * math.sqrt(self.dim)
        return self.drop(x + sinusoidal_positions(tokens.size(1), self.dim, tokens.device, offset))

    def _project(self, x: Tensor) -> Tensor:
        # F.linear hands autocast the weight itself, whose bf16 copy it caches; `@ weight.t()` recast it every step
        return F.linear(self.norm(x), self.embed.weight)

    def forward(self, prev_tokens: Tensor, memory: Tensor, memory_padding_mask: Tensor) -> Tensor:
        """prev_tokens: B × L (bos-first), memory: B × S × D → logits B × L × V (teacher forcing)."""
        x = self._embed(prev_tokens, 0)
        for layer in self.layers:
            x = layer(x, memory, memory_padding_mask)
        return self._project(x)

    def new_cache(self) -> Cache:
        return [{"self": {}, "cross": {}} for _ in self.layers]

    def step(self, last_tokens: Tensor, position: int, memory: Tensor, memory_padding_mask: Tensor,
             cache: Cache) -> Tensor:
        """One incremental step: last_tokens N × 1 at `position` → logits N × V; `cache` is updated.
        memory is N × S × D, or B × S × D with N = B·k: hypotheses n·k … n·k+k−1 read source row n
        (beam search), and cross-attention folds them onto it instead of copying the memory k times."""
        x = self._embed(last_tokens, position)
        for layer, layer_cache in zip(self.layers, cache):
            x = layer(x, memory, memory_padding_mask, cache=layer_cache)
        return self._project(x)[:, -1]

    @staticmethod
    def reorder_cache(cache: Cache, index: Tensor, parts: tuple[str, ...] = ("self", "cross")) -> Cache:
        """Select rows of the cached keys/values of `parts` (beam search re-ranking). Beam search
        reorders "self" only: its cross-attention cache has one row per source, shared by its beams."""
        for layer_cache in cache:
            for part_name in parts:
                part = layer_cache[part_name]
                for name in list(part):
                    part[name] = part[name].index_select(0, index)
        return cache


@dataclass(frozen=True)
class DecoderConfig(Sizes):
    """A LegoNN `Decoder`: ingestor → `layers` encoder layers over the ingested marginals → an
    autoregressive decoder of `ar_layers`. ingestor: one of `INGESTORS` by kind ('wemb' differentiable,
    'beamconv' gradient-isolating). This section is what a decoder brick's card stores as `config`."""

    ingestor: object = field(default_factory=WEmbConfig, metadata={"kinds": INGESTORS})
    layers: int = 1
    ar_layers: int = 3


@dataclass
class Encoded:
    """What the autoregressive part attends to: memory B × S × D with its B × S padding mask."""

    memory: Tensor
    padding_mask: Tensor
    interfaces: list[Marginals]

    def select(self, index: Tensor) -> "Encoded":
        return Encoded(self.memory.index_select(0, index), self.padding_mask.index_select(0, index), self.interfaces)


class Decoder(nn.Module):
    """Marginals → front end (ingestor) → encoder layers → autoregressive decoder. Never sees hidden states.

    The parts are registered in this order (frontend, ingest, ingest_norm, ar); checkpoints and bricks
    written when the ingestor sat at the top level load through `legonn.compat`."""

    def __init__(self, cfg: DecoderConfig, frontend: MarginalIngest, ingest: nn.ModuleList,
                 ar: AutoregressiveDecoder):
        super().__init__()
        self.cfg, self.in_vocab = cfg, frontend.in_vocab
        self.frontend = frontend
        self.ingest = ingest
        self.ingest_norm = nn.LayerNorm(cfg.dim)
        self.ar = ar

    def encode(self, marginals: Marginals) -> Encoded:
        """Marginals B × K × V (checked against this decoder's vocabulary) → memory B × K × D."""
        x, lengths = self.frontend(marginals)
        mask = marginals.padding_mask
        for layer in self.ingest:
            x = layer(x, mask)
        return Encoded(self.ingest_norm(x), mask, [marginals])

    def forward(self, marginals: Marginals, prev_tokens: Tensor) -> Tensor:
        """→ logits B × L × V_out."""
        enc = self.encode(marginals)
        return self.ar(prev_tokens, enc.memory, enc.padding_mask)


def build_decoder(cfg: DecoderConfig, *, reads: VocabId, emits: VocabId) -> Decoder:
    """The decoder `cfg` describes, reading marginals over `reads` and writing tokens of `emits`."""
    frontend = MarginalIngest(MarginalIngest.Config(ingestor=cfg.ingestor), dim=cfg.dim, dropout=cfg.dropout,
                              in_vocab=reads, where="decoder input")
    ingest = nn.ModuleList(EncoderLayer(cfg.dim, cfg.heads, cfg.ff_dim, cfg.dropout) for _ in range(cfg.layers))
    ar = AutoregressiveDecoder(emits.size, cfg.dim, cfg.heads, cfg.ff_dim, cfg.ar_layers, cfg.dropout)
    return Decoder(cfg, frontend, ingest, ar)
