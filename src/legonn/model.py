"""LegoModel — a chain of modules whose neighbours agree on their interface vocabulary — and builders."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from legonn.interface import Marginals, VocabId
from legonn.modules import (Baseline, BaselineConfig, Decoder, DecoderConfig, MarginalEncoder, MarginalEncoderConfig,
                            SpeechEncoder, SpeechEncoderConfig, TextEncoder, TextEncoderConfig, TokenMarginals,
                            TokenMarginalsConfig)
from legonn.modules.decoder import Encoded


class LegoModel(nn.Module):
    """encoders[0](input) → Marginals → encoders[1](Marginals) → … → decoder(Marginals, prev tokens).

    Every hand-over is checked: the receiving module's input vocabulary must be the sender's output.
    """

    def __init__(self, encoders: list[nn.Module], decoder: Decoder):
        super().__init__()
        for i, (left, right) in enumerate(zip(encoders, list(encoders[1:]) + [decoder])):
            right.in_vocab.check_same(left.out_vocab, f"link {i} → {i + 1}")
        self.encoders = nn.ModuleList(encoders)
        self.decoder = decoder

    @property
    def ar(self):
        return self.decoder.ar

    @property
    def interface_vocabs(self) -> list[VocabId]:
        """The vocabulary each interface speaks, upstream first."""
        return [e.out_vocab for e in self.encoders]

    def interfaces(self, inputs: Tensor, lengths: Tensor) -> list[Marginals]:
        """The marginals emitted at every interface, upstream first."""
        out = [self.encoders[0](inputs, lengths)]
        for encoder in self.encoders[1:]:
            out.append(encoder(out[-1]))
        return out

    def encode(self, inputs: Tensor, lengths: Tensor) -> Encoded:
        interfaces = self.interfaces(inputs, lengths)
        enc = self.decoder.encode(interfaces[-1])
        enc.interfaces = interfaces  # every interface of the chain, not just the one the decoder read
        return enc

    def forward(self, inputs: Tensor, lengths: Tensor, prev_tokens: Tensor) -> tuple[Tensor, list[Marginals]]:
        """→ (logits B × L × V_out, marginals at each interface)."""
        enc = self.encode(inputs, lengths)
        return self.decoder.ar(prev_tokens, enc.memory, enc.padding_mask), enc.interfaces


@dataclass(frozen=True)
class ModelConfig:
    """The model section of an experiment config.

    arch: 'lego' (encoder → Decoder through Marginals) or 'baseline' (plain transformer).
    input: 'tokens' (TextEncoder), 'speech' (SpeechEncoder over feature_dim filterbanks, with
    `channels`-wide 4× conv subsampling) or 'token-marginals' (the source tokens as the marginals a
    perfect CTC encoder would emit — TokenMarginals, input_stretch / input_smoothing — read by a
    MarginalEncoder whose ingestor is encoder_ingestor: how a module for the middle of a chain is
    trained from text, e.g. phonemes → sub-words).
    encoder_layers: baseline encoder depth, or LegoNN group-1 depth; group2_layers: OLC blocks;
    length_ratio: OLC α, or 'auto' (fit to init.decoder's card, resolved before building); ingestor: 'wemb' | 'beamconv' with receptive_field / beam / kernel;
    ingest_layers: decoder-side encoder layers over the ingested marginals.
    encoder_ctc: baseline only — an auxiliary CTC head on its encoder (joint CTC/attention, no interface).
    """

    arch: str = "lego"
    input: str = "tokens"
    feature_dim: int = 80
    channels: int = 256
    dim: int = 256
    heads: int = 4
    ff_dim: int = 1024
    dropout: float = 0.3
    encoder_layers: int = 3
    group2_layers: int = 1
    length_ratio: float | str = 2.0
    max_positions: int = 1024
    ingestor: str = "wemb"
    receptive_field: int = 1
    beam: int = 4
    kernel: int = 3
    ingest_layers: int = 1
    decoder_layers: int = 3
    encoder_ingestor: str = "wemb"
    input_stretch: float = 2.0
    input_smoothing: float = 0.05
    encoder_ctc: bool = False


INPUTS = ("tokens", "speech", "token-marginals")


def build_model(cfg: ModelConfig, src_vocab: VocabId | None, tgt_vocab: VocabId) -> nn.Module:
    """Build a Baseline or a LegoModel whose last interface speaks the target vocabulary.

    src_vocab: the source vocabulary (None for speech)."""
    if cfg.input not in INPUTS:
        raise ValueError(f"model.input: unknown input {cfg.input!r} (expected one of {', '.join(INPUTS)})")
    src_vocab_size = src_vocab.size if src_vocab is not None else 0
    if cfg.arch == "baseline":
        return Baseline(BaselineConfig(src_vocab_size, tgt_vocab.size, cfg.dim, cfg.heads, cfg.ff_dim,
                                       cfg.encoder_layers, cfg.decoder_layers, cfg.dropout, cfg.input,
                                       cfg.feature_dim, cfg.channels, cfg.encoder_ctc), tgt_vocab)
    if cfg.arch != "lego":
        raise ValueError(f"model.arch: unknown architecture {cfg.arch!r} (expected 'lego' or 'baseline')")
    if cfg.input == "token-marginals":
        encoders = [
            TokenMarginals(TokenMarginalsConfig(cfg.input_stretch, cfg.input_smoothing), src_vocab),
            MarginalEncoder(MarginalEncoderConfig(cfg.dim, cfg.heads, cfg.ff_dim, cfg.encoder_ingestor,
                                                  cfg.receptive_field, cfg.beam, cfg.kernel, cfg.encoder_layers,
                                                  cfg.group2_layers, cfg.length_ratio, cfg.max_positions,
                                                  cfg.dropout), src_vocab, tgt_vocab),
        ]
    elif cfg.input == "speech":
        encoders = [SpeechEncoder(
            SpeechEncoderConfig(cfg.feature_dim, cfg.channels, cfg.dim, cfg.heads, cfg.ff_dim, cfg.encoder_layers,
                                cfg.group2_layers, cfg.length_ratio, cfg.max_positions, cfg.dropout),
            tgt_vocab,
        )]
    else:
        encoders = [TextEncoder(
            TextEncoderConfig(src_vocab_size, cfg.dim, cfg.heads, cfg.ff_dim, cfg.encoder_layers, cfg.group2_layers,
                              cfg.length_ratio, cfg.max_positions, cfg.dropout),
            tgt_vocab,
        )]
    decoder = Decoder(
        DecoderConfig(tgt_vocab.size, cfg.dim, cfg.heads, cfg.ff_dim, cfg.ingestor, cfg.receptive_field, cfg.beam,
                      cfg.kernel, cfg.ingest_layers, cfg.decoder_layers, cfg.dropout),
        tgt_vocab,
    )
    return LegoModel(encoders, decoder)
