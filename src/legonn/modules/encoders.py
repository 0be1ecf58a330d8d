"""Encoders: map their input (tokens, speech features, upstream marginals) to `Marginals` over an
interface vocabulary, grounded by CTC.

An encoder is a composition, `InterfaceEncoder(frontend, group1, olc, head)`: only the front end
(legonn.modules.frontends) depends on the input; the rest is the same for every input.
`TokenMarginals` is the parameter-free stand-in for a perfect upstream encoder, used to train a
marginals-reading encoder from text."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from legonn.interface import Marginals, VocabId, lengths_to_padding_mask
from legonn.length_stats import controlled_lengths
from legonn.modules.frontends import FRONTENDS, ReadsThroughFrontEnd, TokenEmbedding
from legonn.modules.length import OutputLengthController
from legonn.modules.sizes import Sizes
from legonn.nn import EncoderLayer


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
class OLCConfig:
    """Output Length Controller: ratio α (K = ⌈α·T⌉; 'auto': fitted to a decoder brick before building),
    layers: group-2 blocks, max_positions: the longest K it can emit."""

    ratio: float | str = 2.0
    layers: int = 1
    max_positions: int = 1024


@dataclass(frozen=True)
class EncoderConfig(Sizes, ReadsThroughFrontEnd):
    """A LegoNN encoder: frontend → `layers` transformer layers (group 1) → OLC (group 2) → interface head.

    frontend: one of `FRONTENDS` by kind (tokens, speech, marginals). This section is what a brick card
    stores as `config`.
    """

    frontend: object = field(default_factory=TokenEmbedding.Config, metadata={"kinds": FRONTENDS})
    layers: int = 3
    olc: OLCConfig = field(default_factory=OLCConfig)


class InterfaceEncoder(nn.Module):
    """frontend → group 1 → OLC (group 2) → interface head → Marginals over `out_vocab`.

    The parts are registered in this order (frontend, group1, olc, norm1, head), which fixes parameter
    initialisation and optimizer order; checkpoints and bricks written when each input had its own
    encoder class load through `legonn.compat` (their front-end weights sat at the top level).
    """

    def __init__(self, cfg: EncoderConfig, frontend: nn.Module, group1: nn.ModuleList,
                 olc: OutputLengthController, head: InterfaceHead):
        super().__init__()
        self.cfg, self.out_vocab = cfg, head.vocab
        self.frontend = frontend
        self.group1 = group1
        self.olc = olc
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.head = head

    @property
    def in_vocab(self) -> VocabId | None:
        """The vocabulary of the marginals this encoder reads (None when it reads tokens or features)."""
        return self.frontend.in_vocab

    @property
    def stride(self) -> int:
        return self.frontend.stride

    def forward(self, inputs, lengths: Tensor | None = None) -> Marginals:
        """inputs: what the front end reads (tokens B × T, features B × T × F, or Marginals), lengths: B
        → Marginals B × ⌈α·T'⌉ × V, T' the front end's output length."""
        x, lengths = self.frontend(inputs, lengths)
        mask = lengths_to_padding_mask(lengths, x.size(1))
        for layer in self.group1:
            x = layer(x, mask)
        y, out_lengths = self.olc(self.norm1(x), lengths)
        return self.head(y, out_lengths)


def build_encoder(cfg: EncoderConfig, *, reads: VocabId | None, emits: VocabId) -> InterfaceEncoder:
    """The encoder `cfg` describes. reads: the source vocabulary (tokens) or upstream interface's
    (marginals); None for features. emits: the interface vocabulary."""
    if not isinstance(cfg.olc.ratio, (int, float)):
        raise ValueError(f"encoder OLC ratio {cfg.olc.ratio!r} must be resolved to a number before building")
    frontend = cfg.frontend.build(dim=cfg.dim, dropout=cfg.dropout, vocab=reads)
    group1 = nn.ModuleList(EncoderLayer(cfg.dim, cfg.heads, cfg.ff_dim, cfg.dropout) for _ in range(cfg.layers))
    olc = OutputLengthController(cfg.dim, cfg.heads, cfg.ff_dim, cfg.olc.layers, cfg.olc.ratio,
                                 cfg.olc.max_positions, cfg.dropout)
    return InterfaceEncoder(cfg, frontend, group1, olc, InterfaceHead(cfg.dim, emits))


@dataclass(frozen=True)
class TokenMarginalsConfig:
    """stretch: K = ceil(stretch · T) positions, like a CTC encoder's output; smoothing: mass spread
    over the whole vocabulary at every position (a real encoder is never certain)."""

    stretch: float = 2.0
    smoothing: float = 0.05


class TokenMarginals(nn.Module):
    """Tokens → the marginals a perfect CTC encoder would emit for them (no parameters).

    Used to train an encoder that reads marginals from text (e.g. phoneme transcripts) so that it can later read a
    real upstream encoder: each token gets one position, the remaining K − T positions are blanks —
    spread at random in training (as CTC spikes fall), evenly at inference.
    """

    stride = 1
    in_vocab = None

    def __init__(self, cfg: TokenMarginalsConfig, vocab: VocabId):
        super().__init__()
        if cfg.stretch < 1 or not 0 <= cfg.smoothing < 1:
            raise ValueError(f"token marginals need stretch ≥ 1 and 0 ≤ smoothing < 1, got {cfg}")
        self.cfg, self.out_vocab = cfg, vocab

    def placements(self, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """→ (B × T positions of each token among the K, −1 for padding; B output lengths K)."""
        out_lengths = controlled_lengths(lengths, self.cfg.stretch)
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
