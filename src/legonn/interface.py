"""The LegoNN interface: `Marginals`, the one value that crosses a module boundary.

An encoder ends in a log-softmax over a fixed interface vocabulary (blank included) trained with
CTC; a downstream module only ever sees these per-position distributions, never hidden states.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


class VocabMismatch(ValueError):
    """Raised when marginals over one vocabulary are handed to a module expecting another."""


@dataclass(frozen=True)
class VocabId:
    """Identity of an interface vocabulary: fingerprint of the sentencepiece model + blank id."""

    fingerprint: str
    size: int
    blank: int = 0

    def describe(self) -> str:
        return f"{self.fingerprint[:12]} (size {self.size}, blank {self.blank})"

    def check_same(self, other: "VocabId", where: str = "hand-over") -> None:
        if self != other:
            raise VocabMismatch(
                f"vocabulary mismatch at {where}: got {other.describe()}, expected {self.describe()}"
            )


@dataclass(frozen=True)
class Marginals:
    """Per-position distributions over an interface vocabulary.

    log_probs: B × K × V log-softmax (blank included); lengths: B valid positions per row.
    """

    log_probs: Tensor
    lengths: Tensor
    vocab: VocabId

    def __post_init__(self) -> None:
        if self.log_probs.dim() != 3:
            raise ValueError(f"Marginals.log_probs must be B × K × V, got {tuple(self.log_probs.shape)}")
        if self.lengths.shape != (self.log_probs.size(0),):
            raise ValueError(f"Marginals.lengths must have shape ({self.log_probs.size(0)},), got {tuple(self.lengths.shape)}")
        if self.log_probs.size(-1) != self.vocab.size:
            raise VocabMismatch(
                f"Marginals have {self.log_probs.size(-1)} classes but vocabulary {self.vocab.describe()}"
            )

    @property
    def padding_mask(self) -> Tensor:
        """B × K, True at padded positions."""
        return lengths_to_padding_mask(self.lengths, self.log_probs.size(1))

    def checked(self, expected: VocabId, where: str = "hand-over") -> "Marginals":
        """Return self after checking it is over `expected` (the receiving module's vocabulary)."""
        expected.check_same(self.vocab, where)
        return self

    def greedy(self) -> list[list[int]]:
        """CTC greedy readout: best class per position, repeats merged, blanks dropped."""
        return ctc_greedy(self.log_probs, self.lengths, self.vocab.blank)

    def top_k(self, k: int) -> tuple[Tensor, Tensor]:
        """Top-k (log_probs, indices) per position, each B × K × k, in rank order."""
        return self.log_probs.topk(k, dim=-1)


def lengths_to_padding_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """B lengths → B × T bool mask, True where padded."""
    max_len = int(lengths.max()) if max_len is None else max_len
    positions = torch.arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) >= lengths.unsqueeze(1)


def ctc_greedy(log_probs: Tensor, lengths: Tensor, blank: int) -> list[list[int]]:
    """Best path per row (B × K × V → list of id lists), repeats collapsed and blanks removed."""
    best = log_probs.argmax(-1).tolist()
    out = []
    for row, n in zip(best, lengths.tolist()):
        ids, prev = [], None
        for t in row[:n]:
            if t != prev and t != blank:
                ids.append(t)
            prev = t
        out.append(ids)
    return out


def ctc_loss(marginals: Marginals, targets: Tensor, target_lengths: Tensor) -> Tensor:
    """Mean-over-tokens CTC loss of `marginals` against padded targets (B × L, no bos/eos).

    Computed in fp32 (CTC's alpha recursion underflows in bf16); impossible alignments (K < needed)
    contribute zero instead of inf so one short row cannot poison a batch.
    """
    log_probs = marginals.log_probs.float().transpose(0, 1)  # K × B × V
    loss = F.ctc_loss(
        log_probs,
        targets,
        marginals.lengths,
        target_lengths,
        blank=marginals.vocab.blank,
        reduction="sum",
        zero_infinity=True,
    )
    return loss / target_lengths.sum().clamp(min=1)
