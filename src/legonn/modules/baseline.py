"""A plain transformer encoder-decoder of matching size: no interface, hidden states cross over.

With `encoder_ctc` it is the joint CTC/attention model usual in speech recognition: an auxiliary CTC head
over the target vocabulary on the encoder's output helps attention find the alignment on small data.
The decoder still reads the encoder's hidden states, never that head's distributions, so the model stays
monolithic (nothing can be swapped); the head's greedy readout is reported beside the decoder's output."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from legonn.interface import Marginals, VocabId, lengths_to_padding_mask
from legonn.modules.decoder import AutoregressiveDecoder, Encoded
from legonn.modules.frontends import FRONTENDS, ReadsThroughFrontEnd, TokenEmbedding
from legonn.modules.sizes import Sizes
from legonn.nn import EncoderLayer


@dataclass(frozen=True)
class BaselineConfig(Sizes, ReadsThroughFrontEnd):
    """The monolithic `Baseline` (the `model.baseline` section). frontend: 'tokens' or 'speech' (the same
    front ends a LegoNN encoder uses); encoder_ctc: an auxiliary CTC head on the encoder."""

    frontend: object = field(default_factory=TokenEmbedding.Config, metadata={"kinds": FRONTENDS})
    encoder_layers: int = 3
    decoder_layers: int = 3
    encoder_ctc: bool = False


class Baseline(nn.Module):
    """Input → front end → transformer encoder → autoregressive decoder (the ordinary, non-modular model)."""

    def __init__(self, cfg: BaselineConfig, *, src_vocab: VocabId | None, tgt_vocab: VocabId):
        """src_vocab: the source vocabulary (None for speech); tgt_vocab: the target's, which the decoder
        writes and the encoder's CTC head (encoder_ctc) speaks."""
        super().__init__()
        if cfg.frontend.reads == "marginals":
            raise ValueError("model.baseline.frontend: a baseline reads tokens or speech, not marginals")
        self.cfg = cfg
        self.ctc_vocab = tgt_vocab if cfg.encoder_ctc else None
        self.frontend = cfg.frontend.build(dim=cfg.dim, dropout=cfg.dropout, vocab=src_vocab)
        self.layers = nn.ModuleList(
            EncoderLayer(cfg.dim, cfg.heads, cfg.ff_dim, cfg.dropout) for _ in range(cfg.encoder_layers)
        )
        self.norm = nn.LayerNorm(cfg.dim)
        if cfg.encoder_ctc:  # own projection (blank included): tying it to the decoder's embedding would couple the two
            self.ctc_head = nn.Linear(cfg.dim, tgt_vocab.size)
        self.ar = AutoregressiveDecoder(tgt_vocab.size, cfg.dim, cfg.heads, cfg.ff_dim, cfg.decoder_layers,
                                        cfg.dropout)

    @property
    def interface_vocabs(self) -> list[VocabId]:
        """No interface for a plain baseline; with encoder_ctc, its CTC head's vocabulary (read out like one)."""
        return [self.ctc_vocab] if self.ctc_vocab is not None else []

    @property
    def source_stride(self) -> int:
        return self.frontend.stride

    def encode(self, inputs: Tensor, lengths: Tensor) -> Encoded:
        """tokens B × T, or features B × T × F (→ T' ≈ T/4) → memory B × T' × D; interfaces: [] or, with
        encoder_ctc, the CTC head's Marginals B × T' × V (a readout, not a hand-over)."""
        x, lengths = self.frontend(inputs, lengths)
        mask = lengths_to_padding_mask(lengths, x.size(1))
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
