"""What an encoder's marginals look like on a data set: how a decoder will see them.

A decoder reused behind a new encoder (zero-shot) reads marginals of that encoder's style, not of the one
it was trained with. These figures put two encoders side by side on the same target sentences: positions
per target token (the OLC's length contract), how often the best class is blank or repeats the position
before (how the encoder spends its surplus positions), the mean entropy and the mean probability of the
best class (how peaked the distributions are).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from legonn.data.batching import encode_sources, pad_sources
from legonn.data.text import read_parallel
from legonn.interface import Marginals
from legonn.model import EmitsMarginals, HasInterfaces
from legonn.vocab import Vocabulary


@dataclass(frozen=True)
class InterfaceStats:
    """Figures of one interface over a data set (means over sentences or over valid positions)."""

    sentences: int
    positions_per_target_token: float  # mean over sentences of K / |y|
    positions_per_target_token_p5: float
    positions_per_target_token_p95: float
    blank_share: float  # of positions whose best class is blank
    repeat_share: float  # of positions whose best class is that of the position before (blank excluded)
    entropy_nats: float  # mean per-position entropy
    top1_probability: float  # mean probability of the best class

    def as_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


class _Accumulator:
    def __init__(self) -> None:
        self.ratios: list[float] = []
        self.positions = self.blanks = self.repeats = 0
        self.entropy = self.top1 = 0.0

    def add(self, marginals: Marginals, target_lengths: list[int]) -> None:
        log_probs = marginals.log_probs.float()
        valid = ~marginals.padding_mask
        probs = log_probs.exp()
        best = log_probs.argmax(-1)
        repeat = torch.zeros_like(valid)
        repeat[:, 1:] = (best[:, 1:] == best[:, :-1]) & valid[:, 1:] & (best[:, 1:] != marginals.vocab.blank)
        self.positions += int(valid.sum())
        self.blanks += int(((best == marginals.vocab.blank) & valid).sum())
        self.repeats += int(repeat.sum())
        self.entropy += float(-(probs * log_probs).sum(-1)[valid].sum())
        self.top1 += float(probs.max(-1).values[valid].sum())
        self.ratios += [k / max(n, 1) for k, n in zip(marginals.lengths.tolist(), target_lengths)]

    def result(self) -> InterfaceStats:
        ratios, n = np.asarray(self.ratios), max(self.positions, 1)
        return InterfaceStats(len(ratios), float(ratios.mean()), float(np.percentile(ratios, 5)),
                              float(np.percentile(ratios, 95)), self.blanks / n, self.repeats / n,
                              self.entropy / n, self.top1 / n)


@torch.no_grad()
def interface_statistics(model: nn.Module, sources: list[np.ndarray], target_lengths: list[int],
                         batch_size: int = 64) -> list[InterfaceStats]:
    """Figures of every interface of a LegoModel (upstream first), or of a lone encoder's one interface
    (e.g. an encoder brick), over `sources` (token ids or speech features); target_lengths: |y| of each
    source's reference, in target-vocabulary tokens."""
    if isinstance(model, HasInterfaces):
        interfaces_of = model.interfaces
    elif isinstance(model, EmitsMarginals):  # what it emits is the interface
        interfaces_of = lambda src, lengths: [model(src, lengths)]  # noqa: E731
    else:
        raise ValueError("a monolithic baseline has no interface to describe")
    if len(sources) != len(target_lengths) or not sources:
        raise ValueError(f"need one target length per source, got {len(sources)} sources, {len(target_lengths)} lengths")
    model.eval()
    accumulators: list[_Accumulator] = []
    for start in range(0, len(sources), batch_size):
        src, lengths = pad_sources(sources[start : start + batch_size])
        interfaces = interfaces_of(src, lengths)
        if not accumulators:
            accumulators = [_Accumulator() for _ in interfaces]
        for acc, marginals in zip(accumulators, interfaces):
            acc.add(marginals, target_lengths[start : start + batch_size])
    return [acc.result() for acc in accumulators]


def interface_statistics_on(model: nn.Module, src_vocab: Vocabulary, tgt_vocab: Vocabulary, src: Path, ref: Path,
                            max_len: int, limit: int | None = None) -> list[InterfaceStats]:
    """interface_statistics over the first `limit` pairs of a text source file and its references
    (|y| counted in tgt_vocab); bad lines are reported by file and line."""
    data = read_parallel(src, ref)
    sources, refs = data.src[:limit], data.tgt[:limit]
    return interface_statistics(model, encode_sources(sources, src_vocab, max_len, str(src)),
                                [len(tgt_vocab.encode(r)) for r in refs])
