"""LegoModel — a chain of modules whose neighbours agree on their interface vocabulary — the model
section of a config, and `build_model`.

`Seq2Seq` is what training and inference call on any model (LegoModel or Baseline)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from legonn.interface import Marginals, VocabId
from legonn.length_stats import controlled_lengths
from legonn.modules import (MODULE_KINDS, Baseline, BaselineConfig, Decoder, DecoderConfig, EncoderConfig,
                            TokenMarginals, TokenMarginalsConfig)
from legonn.modules.decoder import AutoregressiveDecoder, Encoded
from legonn.task import Task


class Seq2Seq(Protocol):
    """What the trainer and inference use of a model: encoding, the autoregressive decoder, interfaces."""

    ar: AutoregressiveDecoder
    source_stride: int
    interface_vocabs: list[VocabId]

    def encode(self, inputs: Tensor, lengths: Tensor) -> Encoded: ...

    def __call__(self, inputs: Tensor, lengths: Tensor, prev_tokens: Tensor) -> tuple[Tensor, list[Marginals]]: ...


@runtime_checkable
class HasInterfaces(Protocol):
    """A model whose hand-overs can be read, upstream first (a LegoModel; not a monolithic baseline)."""

    def interfaces(self, inputs: Tensor, lengths: Tensor) -> list[Marginals]: ...


@runtime_checkable
class EmitsMarginals(Protocol):
    """A lone encoder (e.g. an encoder brick): what it returns is the interface, over `out_vocab`."""

    out_vocab: VocabId


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
    def source_stride(self) -> int:
        """The first encoder's nominal time reduction (4 for filterbanks): decoding bounds hypotheses by it."""
        return self.encoders[0].stride

    @property
    def interface_vocabs(self) -> list[VocabId]:
        """The vocabulary each interface speaks, upstream first."""
        return [e.out_vocab for e in self.encoders]

    def interfaces(self, inputs: Tensor, lengths: Tensor) -> list[Marginals]:
        """The marginals emitted at every interface, upstream first."""
        out = [self.encoders[0](inputs, lengths)]
        for encoder in self.encoders[1:]:
            out.append(encoder(out[-1], out[-1].lengths))
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
    """The model section of an experiment config: what it builds, module by module.

    arch: 'lego' (encoder → Decoder through Marginals; sections `encoder`, `decoder`) or 'baseline'
    (a plain transformer; section `baseline`). token_marginals: train a marginals-reading encoder from
    text — the source tokens become the marginals a perfect CTC encoder would emit (TokenMarginals);
    the encoder's front end must then read marginals. E.g.

        model:
          encoder: {frontend: {kind: speech, channels: 128}, layers: 5, olc: {ratio: 0.5}}
          decoder: {ingestor: {kind: beamconv, beam: 4}, layers: 1, ar_layers: 3}
    """

    arch: str = "lego"
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    token_marginals: TokenMarginalsConfig | None = field(default=None, metadata={"optional": TokenMarginalsConfig})
    baseline: BaselineConfig = field(default_factory=BaselineConfig)

    @property
    def reads(self) -> str:
        """What the model's input is: 'tokens', 'features' or, with token_marginals, 'tokens' too."""
        if self.arch == "baseline":
            return self.baseline.reads
        return "tokens" if self.token_marginals is not None else self.encoder.reads

    @property
    def frontend(self):
        """The config of the front end that reads the model's input."""
        return self.baseline.frontend if self.arch == "baseline" else self.encoder.frontend

    def task(self, name: str) -> Task:
        """The task this model section implies: its input kind (and so its metric)."""
        return Task.of(name, self.reads, marginals=self.arch == "lego" and self.token_marginals is not None)

    def source_positions(self, lengths) -> list[int]:
        """Per source length, the positions the (first trained) encoder reads: what K = ⌈α·T⌉ is taken of."""
        lengths = torch.as_tensor(lengths)
        if self.arch == "baseline":
            return self.baseline.positions(lengths).tolist()
        if self.token_marginals is not None:
            lengths = controlled_lengths(lengths, self.token_marginals.stretch)
        return self.encoder.positions(lengths).tolist()


ARCHS = ("lego", "baseline")


def build_model(cfg: ModelConfig, src_vocab: VocabId | None, tgt_vocab: VocabId) -> nn.Module:
    """Build a Baseline or a LegoModel whose last interface speaks the target vocabulary.

    src_vocab: the source vocabulary (None for speech)."""
    if cfg.arch == "baseline":
        return Baseline(cfg.baseline, src_vocab=src_vocab, tgt_vocab=tgt_vocab)
    if cfg.arch != "lego":
        raise ValueError(f"model.arch: unknown architecture {cfg.arch!r} (expected {' or '.join(map(repr, ARCHS))})")
    encoders: list[nn.Module] = []
    if cfg.token_marginals is not None:
        if cfg.encoder.reads != "marginals":
            raise ValueError("model.token_marginals: the encoder's front end must read marginals "
                             "(model.encoder.frontend.kind: marginals)")
        encoders.append(TokenMarginals(cfg.token_marginals, src_vocab))
    elif cfg.encoder.reads == "marginals":
        raise ValueError("model.encoder.frontend: an encoder that reads marginals needs model.token_marginals "
                         "(or an upstream brick in a composition)")
    (_, make_encoder), (_, make_decoder) = MODULE_KINDS["encoder"], MODULE_KINDS["decoder"]
    encoders.append(make_encoder(cfg.encoder, reads=src_vocab, emits=tgt_vocab))  # token marginals speak src's
    return LegoModel(encoders, make_decoder(cfg.decoder, reads=tgt_vocab, emits=tgt_vocab))
