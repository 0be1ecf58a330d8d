"""Encoders: map their input (tokens, speech features, upstream marginals) to `Marginals` over an
interface vocabulary, grounded by CTC."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from legonn.interface import Marginals, VocabId, lengths_to_padding_mask
from legonn.modules.ingestors import add_positions, build_ingestor
from legonn.modules.length import OutputLengthController
from legonn.nn import MIN_FRAMES, Conv2dSubsampling, Dropout, EncoderLayer, sinusoidal_positions


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


class _InterfaceEncoder(nn.Module):
    """What every encoder shares after its own input layers: group 1 → OLC (group 2) → interface head.

    The sub-modules are attributes of the encoder itself (group1, olc, norm1, head, drop), created in
    this order after the input layers, so parameter names, initialisation and optimizer order are
    those of checkpoints and bricks written before this class existed.
    """

    def _build_tail(self, cfg, out_vocab: VocabId) -> None:
        """cfg: any encoder config with dim, heads, ff_dim, group1/group2_layers, length_ratio, max_positions, dropout."""
        self.group1 = nn.ModuleList(
            EncoderLayer(cfg.dim, cfg.heads, cfg.ff_dim, cfg.dropout) for _ in range(cfg.group1_layers)
        )
        self.olc = OutputLengthController(
            cfg.dim, cfg.heads, cfg.ff_dim, cfg.group2_layers, cfg.length_ratio, cfg.max_positions, cfg.dropout
        )
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.head = InterfaceHead(cfg.dim, out_vocab)
        self.drop = Dropout(cfg.dropout)

    def _to_interface(self, x: Tensor, mask: Tensor, lengths: Tensor) -> Marginals:
        """x: B × T × D (input layers done, dropout applied), mask: B × T padding, lengths: B → Marginals."""
        for layer in self.group1:
            x = layer(x, mask)
        y, out_lengths = self.olc(self.norm1(x), lengths)
        return self.head(y, out_lengths)


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


class TextEncoder(_InterfaceEncoder):
    """Tokens → embeddings → group 1 → OLC (group 2) → interface head → Marginals."""

    def __init__(self, cfg: TextEncoderConfig, out_vocab: VocabId):
        super().__init__()
        self.cfg, self.out_vocab = cfg, out_vocab
        self.embed = nn.Embedding(cfg.src_vocab_size, cfg.dim, padding_idx=0)
        nn.init.normal_(self.embed.weight, std=cfg.dim**-0.5)
        self._build_tail(cfg, out_vocab)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Marginals:
        """tokens: B × T source ids (0-padded), lengths: B → Marginals B × ceil(α·T) × V."""
        t = tokens.size(1)
        x = self.embed(tokens) * math.sqrt(self.cfg.dim) + sinusoidal_positions(t, self.cfg.dim, tokens.device)
        x = self.drop(x)
        mask = lengths_to_padding_mask(lengths, t)
        return self._to_interface(x, mask, lengths)


@dataclass(frozen=True)
class SpeechEncoderConfig:
    """Sizes of a `SpeechEncoder`.

    feature_dim: filterbank bins; channels: width of the two subsampling convolutions;
    length_ratio: OLC α applied to the 4×-subsampled frames (0.5 ≈ 12.5 outputs per second).
    """

    feature_dim: int = 80
    channels: int = 256
    dim: int = 256
    heads: int = 4
    ff_dim: int = 1024
    group1_layers: int = 6
    group2_layers: int = 1
    length_ratio: float = 0.5
    max_positions: int = 1024
    dropout: float = 0.1


class SpeechEncoder(_InterfaceEncoder):
    """Features → 4× conv subsampling → group 1 → OLC (group 2) → interface head → Marginals."""

    def __init__(self, cfg: SpeechEncoderConfig, out_vocab: VocabId):
        super().__init__()
        self.cfg, self.out_vocab = cfg, out_vocab
        self.subsample = Conv2dSubsampling(cfg.feature_dim, cfg.dim, cfg.channels)
        self._build_tail(cfg, out_vocab)

    def forward(self, features: Tensor, lengths: Tensor) -> Marginals:
        """features: B × T × F (normalised, 0-padded), lengths: B → Marginals B × ceil(α·T') × V, T' ≈ T/4."""
        if int(lengths.min()) < MIN_FRAMES:
            raise ValueError(f"an utterance of {int(lengths.min())} frames is too short for 4× subsampling "
                             f"(≥ {MIN_FRAMES})")
        x, sub_lengths = self.subsample(features, lengths)
        t = x.size(1)
        x = self.drop(x * math.sqrt(self.cfg.dim) + sinusoidal_positions(t, self.cfg.dim, x.device))
        mask = lengths_to_padding_mask(sub_lengths, t)
        return self._to_interface(x, mask, sub_lengths)


@dataclass(frozen=True)
class MarginalEncoderConfig:
    """Sizes of a `MarginalEncoder` (reads upstream marginals, e.g. over phonemes).

    ingestor/receptive_field/beam/kernel: as in `DecoderConfig`; length_ratio: OLC α over the
    upstream positions (e.g. phonemes → sub-words is < 1).
    """

    dim: int = 256
    heads: int = 4
    ff_dim: int = 1024
    ingestor: str = "wemb"
    receptive_field: int = 1
    beam: int = 4
    kernel: int = 3
    group1_layers: int = 3
    group2_layers: int = 1
    length_ratio: float = 1.0
    max_positions: int = 1024
    dropout: float = 0.1


class MarginalEncoder(_InterfaceEncoder):
    """Upstream Marginals → ingestor → group 1 → OLC (group 2) → interface head → Marginals.

    Modality-agnostic: it only ever sees marginals, so it can sit between any encoder that emits
    `in_vocab` and any module that reads `out_vocab`, making chains of three or more modules.
    """

    def __init__(self, cfg: MarginalEncoderConfig, in_vocab: VocabId, out_vocab: VocabId):
        super().__init__()
        self.cfg, self.in_vocab, self.out_vocab = cfg, in_vocab, out_vocab
        self.ingestor = build_ingestor(cfg.ingestor, in_vocab.size, cfg.dim, cfg.receptive_field, cfg.beam, cfg.kernel)
        self._build_tail(cfg, out_vocab)

    def forward(self, marginals: Marginals) -> Marginals:
        """Marginals B × T × V_in (checked against in_vocab) → Marginals B × ceil(α·T) × V_out."""
        marginals.checked(self.in_vocab, "marginal encoder input")
        x = self.drop(add_positions(self.ingestor(marginals)))
        mask = marginals.padding_mask
        return self._to_interface(x, mask, marginals.lengths)


@dataclass(frozen=True)
class TokenMarginalsConfig:
    """stretch: K = ceil(stretch · T) positions, like a CTC encoder's output; smoothing: mass spread
    over the whole vocabulary at every position (a real encoder is never certain)."""

    stretch: float = 2.0
    smoothing: float = 0.05


class TokenMarginals(nn.Module):
    """Tokens → the marginals a perfect CTC encoder would emit for them (no parameters).

    Used to train a `MarginalEncoder` from text (e.g. phoneme transcripts) so that it can later read a
    real upstream encoder: each token gets one position, the remaining K − T positions are blanks —
    spread at random in training (as CTC spikes fall), evenly at inference.
    """

    def __init__(self, cfg: TokenMarginalsConfig, vocab: VocabId):
        super().__init__()
        if cfg.stretch < 1 or not 0 <= cfg.smoothing < 1:
            raise ValueError(f"token marginals need stretch ≥ 1 and 0 ≤ smoothing < 1, got {cfg}")
        self.cfg, self.out_vocab = cfg, vocab

    def placements(self, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """→ (B × T positions of each token among the K, −1 for padding; B output lengths K)."""
        out_lengths = torch.ceil(lengths.double() * self.cfg.stretch - 1e-9).long().clamp(min=1)
        t = int(lengths.max())
        rows = []
        for n, k in zip(lengths.tolist(), out_lengths.tolist()):
            if self.training:  # n distinct slots out of k, in order
                slots = torch.randperm(k)[:n].sort().values
            else:
                slots = torch.floor(torch.arange(n, dtype=torch.float64) * k / max(n, 1)).long()
            rows.append(torch.cat([slots, torch.full((t - n,), -1, dtype=torch.long)]))  # -1: padding
        return torch.stack(rows), out_lengths

    def forward(self, tokens: Tensor, lengths: Tensor) -> Marginals:
        """tokens B × T (0-padded) → Marginals B × ceil(stretch·T) × V over the tokens' own vocabulary."""
        b, v = tokens.size(0), self.out_vocab.size
        positions, out_lengths = self.placements(lengths.cpu())
        k = int(out_lengths.max())
        ids = torch.full((b, k + 1), self.out_vocab.blank, dtype=torch.long)  # column k collects padding
        ids.scatter_(1, positions.masked_fill(positions < 0, k), tokens.cpu())
        ids = ids[:, :k]
        eps = self.cfg.smoothing
        probs = torch.full((b, k, v), eps / v).scatter_(2, ids.unsqueeze(-1), 1 - eps + eps / v)
        return Marginals(probs.log().to(tokens.device), out_lengths.to(tokens.device), self.out_vocab)
