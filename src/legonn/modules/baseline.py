"""A plain transformer encoder-decoder of matching size: no interface, hidden states cross over.

With `encoder_ctc` it is the joint CTC/attention model usual in speech recognition: an auxiliary CTC head
over the target vocabulary on the encoder's output helps attention find the alignment on small data.
The decoder still reads the encoder's hidden states, never that head's distributions, so the model stays
monolithic (nothing can be swapped); the head's greedy readout is reported beside the decoder's output."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from legonn.interface import Marginals, VocabId, lengths_to_padding_mask
from legonn.modules.decoder import AutoregressiveDecoder, Encoded
from legonn.nn import MIN_FRAMES, Conv2dSubsampling, Dropout, EncoderLayer, sinusoidal_positions


@dataclass(frozen=True)
class BaselineConfig:
    """Sizes of the monolithic `Baseline`. input: 'tokens' (src_vocab_size ids) or 'speech' (feature_dim
    filterbanks through the same 4× conv subsampling as the SpeechEncoder)."""

    src_vocab_size: int
    out_vocab_size: int
    dim: int = 256
    heads: int = 4
    ff_dim: int = 1024
    encoder_layers: int = 4
    decoder_layers: int = 3
    dropout: float = 0.1
    input: str = "tokens"
    feature_dim: int = 80
    channels: int = 256
    encoder_ctc: bool = False


class Baseline(nn.Module):
    """Tokens → transformer encoder → autoregressive decoder (the ordinary, non-modular model)."""

    def __init__(self, cfg: BaselineConfig, ctc_vocab: VocabId | None = None):
        """ctc_vocab: the target vocabulary's id, which the encoder's CTC head speaks (needed with encoder_ctc)."""
        super().__init__()
        if cfg.encoder_ctc and (ctc_vocab is None or ctc_vocab.size != cfg.out_vocab_size):
            raise ValueError("model.encoder_ctc: the encoder's CTC head needs the target vocabulary")
        self.cfg = cfg
        self.ctc_vocab = ctc_vocab if cfg.encoder_ctc else None
        if cfg.input == "speech":
            self.subsample = Conv2dSubsampling(cfg.feature_dim, cfg.dim, cfg.channels)
        elif cfg.input == "tokens":
            self.embed = nn.Embedding(cfg.src_vocab_size, cfg.dim, padding_idx=0)
            nn.init.normal_(self.embed.weight, std=cfg.dim**-0.5)
        else:
            raise ValueError(f"model.input: unknown input {cfg.input!r} (expected 'tokens' or 'speech')")
        self.layers = nn.ModuleList(
            EncoderLayer(cfg.dim, cfg.heads, cfg.ff_dim, cfg.dropout) for _ in range(cfg.encoder_layers)
        )
        self.norm = nn.LayerNorm(cfg.dim)
        self.drop = Dropout(cfg.dropout)
        if cfg.encoder_ctc:  # own projection (blank included): tying it to the decoder's embedding would couple the two
            self.ctc_head = nn.Linear(cfg.dim, cfg.out_vocab_size)
        self.ar = AutoregressiveDecoder(cfg.out_vocab_size, cfg.dim, cfg.heads, cfg.ff_dim, cfg.decoder_layers,
                                        cfg.dropout)

    @property
    def interface_vocabs(self) -> list[VocabId]:
        """No interface for a plain baseline; with encoder_ctc, its CTC head's vocabulary (read out like one)."""
        return [self.ctc_vocab] if self.ctc_vocab is not None else []

    def encode(self, inputs: Tensor, lengths: Tensor) -> Encoded:
        """tokens B × T, or features B × T × F (→ T' ≈ T/4) → memory B × T' × D; interfaces: [] or, with
        encoder_ctc, the CTC head's Marginals B × T' × V (a readout, not a hand-over)."""
        if self.cfg.input == "speech":
            if int(lengths.min()) < MIN_FRAMES:
                raise ValueError(f"an utterance of {int(lengths.min())} frames is too short for 4× subsampling")
            x, lengths = self.subsample(inputs, lengths)
        else:
            x = self.embed(inputs)
        t = x.size(1)
        x = self.drop(x * math.sqrt(self.cfg.dim) + sinusoidal_positions(t, self.cfg.dim, x.device))
        mask = lengths_to_padding_mask(lengths, t)
        for layer in self.layers:
            x = layer(x, mask)
        memory = self.norm(x)
        if self.ctc_vocab is None:
            return Encoded(memory, mask, [])
        log_probs = self.ctc_head(memory).log_softmax(-1, dtype=torch.float32)
        return Encoded(memory, mask, [Marginals(log_probs, lengths, self.ctc_vocab)])

    def forward(self, inputs: Tensor, lengths: Tensor, prev_tokens: Tensor) -> tuple[Tensor, list[Marginals]]:
        """→ (logits B × L × V, [] or the encoder CTC head's Marginals)."""
        enc = self.encode(inputs, lengths)
        return self.ar(prev_tokens, enc.memory, enc.padding_mask), enc.interfaces
