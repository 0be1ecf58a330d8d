"""Front ends: the first part of an encoder, the only part that depends on what it reads.

Every front end maps its input to hidden states and says how lengths change:

    forward(x, lengths) -> (hidden B × T' × D, lengths B)

- `TokenEmbedding` (text): token ids B × T → embeddings, T' = T.
- `FilterbankSubsampling` (speech): filterbanks B × T × F → two stride-2 convolutions, T' ≈ T/4.
- `MarginalIngest` (the middle of a chain): upstream `Marginals` → an ingestor (WEmb / BeamConv), T' = K.

Each is registered in `FRONTENDS` by the `kind` its config names (`model.encoder.frontend.kind` in YAML).
A new front end is one class (with a nested frozen `Config` dataclass whose `build` makes it) plus one row
in that table; `reads` on the config says what the data must provide ('tokens', 'features', 'marginals'),
and `output_lengths` how many positions the rest of the encoder sees, before any module exists (the
length statistics and the `auto` ratio are computed from the data alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import torch
from torch import Tensor, nn

from legonn.interface import Marginals, VocabId
from legonn.modules.ingestors import INGESTORS, WEmbConfig, add_positions
from legonn.nn import MIN_FRAMES, Conv2dSubsampling, Dropout, sinusoidal_positions, subsampled_lengths


class FrontEnd(Protocol):
    """What an encoder needs of its front end. `stride`: the nominal time reduction (decoding bounds a
    hypothesis by source length / stride); `in_vocab`: the vocabulary of marginals it reads, else None."""

    stride: int
    in_vocab: VocabId | None

    def __call__(self, x, lengths: Tensor) -> tuple[Tensor, Tensor]: ...


class SameLengths:
    """For a front-end config whose module keeps one position per input position (T' = T)."""

    def output_lengths(self, lengths: Tensor) -> Tensor:
        return lengths


def _needs(vocab: VocabId | None, what: str) -> VocabId:
    if vocab is None:
        raise ValueError(f"a {what} front end needs the vocabulary it reads")
    return vocab


class ReadsThroughFrontEnd:
    """For a module config with a `frontend` field: what the module reads, and the positions it makes."""

    @property
    def reads(self) -> str:
        return self.frontend.reads

    def positions(self, lengths) -> Tensor:
        """The positions the module's layers see for inputs of these lengths."""
        return self.frontend.output_lengths(torch.as_tensor(lengths))


def _scaled_with_positions(x: Tensor, dim: int) -> Tensor:
    """x · √D + sinusoidal positions: the transformer's usual input scaling."""
    return x * math.sqrt(dim) + sinusoidal_positions(x.size(1), dim, x.device)


class TokenEmbedding(nn.Module):
    """Token ids B × T (0-padded) → B × T × D."""

    @dataclass(frozen=True)
    class Config(SameLengths):
        kind: str = "tokens"
        reads: ClassVar[str] = "tokens"

        def build(self, *, dim: int, dropout: float, vocab: VocabId | None) -> "TokenEmbedding":
            """vocab: the source vocabulary (its size sets the embedding table)."""
            return TokenEmbedding(self, dim=dim, dropout=dropout, vocab_size=_needs(vocab, "token").size)

    stride = 1
    in_vocab = None

    def __init__(self, cfg: Config, *, dim: int, dropout: float, vocab_size: int):
        super().__init__()
        self.cfg, self.dim = cfg, dim
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        nn.init.normal_(self.embed.weight, std=dim**-0.5)
        self.drop = Dropout(dropout)

    def forward(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.drop(_scaled_with_positions(self.embed(tokens), self.dim)), lengths


class FilterbankSubsampling(nn.Module):
    """Normalised filterbanks B × T × F (0-padded) → B × T' × D, T' = subsampled_lengths(T) ≈ T/4."""

    @dataclass(frozen=True)
    class Config:
        """feature_dim: filterbank bins (the data is featurised to match); channels: convolution width."""

        kind: str = "speech"
        feature_dim: int = 80
        channels: int = 256
        reads: ClassVar[str] = "features"

        def output_lengths(self, lengths: Tensor) -> Tensor:
            return subsampled_lengths(lengths)

        def build(self, *, dim: int, dropout: float, vocab: VocabId | None = None) -> "FilterbankSubsampling":
            return FilterbankSubsampling(self, dim=dim, dropout=dropout)

    stride = 4
    in_vocab = None

    def __init__(self, cfg: Config, *, dim: int, dropout: float):
        super().__init__()
        self.cfg, self.dim = cfg, dim
        self.subsample = Conv2dSubsampling(cfg.feature_dim, dim, cfg.channels)
        self.drop = Dropout(dropout)

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        if int(lengths.min()) < MIN_FRAMES:
            raise ValueError(f"an utterance of {int(lengths.min())} frames is too short for 4× subsampling "
                             f"(≥ {MIN_FRAMES})")
        x, lengths = self.subsample(features, lengths)
        return self.drop(_scaled_with_positions(x, self.dim)), lengths


class MarginalIngest(nn.Module):
    """Upstream Marginals B × K × V_in (checked against `in_vocab`) → B × K × D, through an ingestor."""

    @dataclass(frozen=True)
    class Config(SameLengths):
        kind: str = "marginals"
        ingestor: object = field(default_factory=WEmbConfig, metadata={"kinds": INGESTORS})
        reads: ClassVar[str] = "marginals"

        def build(self, *, dim: int, dropout: float, vocab: VocabId | None) -> "MarginalIngest":
            """vocab: the vocabulary of the marginals it reads."""
            return MarginalIngest(self, dim=dim, dropout=dropout, in_vocab=_needs(vocab, "marginals"))

    stride = 1

    def __init__(self, cfg: Config, *, dim: int, dropout: float, in_vocab: VocabId,
                 where: str = "marginal encoder input"):
        """where: how a vocabulary mismatch names this module ('decoder input' in a decoder)."""
        super().__init__()
        self.cfg, self.in_vocab, self.where = cfg, in_vocab, where
        self.ingestor = cfg.ingestor.build(vocab_size=in_vocab.size, dim=dim)
        self.drop = Dropout(dropout)

    def forward(self, marginals: Marginals, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """lengths: ignored (the marginals carry theirs); accepted so every front end is called alike."""
        marginals.checked(self.in_vocab, self.where)
        return self.drop(add_positions(self.ingestor(marginals))), marginals.lengths


# kind → front-end config class (whose `build` makes the module): `model.encoder.frontend.kind` picks one
FRONTENDS = {"tokens": TokenEmbedding.Config, "speech": FilterbankSubsampling.Config,
             "marginals": MarginalIngest.Config}
