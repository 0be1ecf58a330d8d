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

    CTC only ever reads the log-probabilities of blank and the target labels, so the loss runs on
    those U classes alone (B × K × U, U ≤ 1 + B·L, about a fifth of V in a Multi30k batch), which
    makes torch's backward, a pass over every class at every position, ~V/U times cheaper. Its
    gradient there is exp(lp) − γ (γ: the label occupancies), which is right only after the
    log-softmax of a *full* vocabulary (Σ_v exp(lp) = 1 cancels the exp term); `_without_exp_term`
    removes exp(lp) so what reaches the log-probs is −γ, the exact gradient of the same value.
    """
    blank = marginals.vocab.blank
    classes, compact_targets, compact_blank = _compact_labels(targets, target_lengths, blank)
    log_probs = marginals.log_probs.float()
    log_probs = log_probs.gather(-1, classes.expand(*log_probs.shape[:2], -1)).transpose(0, 1)  # K × B × U
    per_row = F.ctc_loss(log_probs, compact_targets, marginals.lengths, target_lengths, blank=compact_blank,
                         reduction="none", zero_infinity=True)
    per_row = _without_exp_term(per_row, log_probs, marginals.lengths)
    return per_row.sum() / target_lengths.sum().clamp(min=1)


def _compact_labels(targets: Tensor, target_lengths: Tensor, blank: int) -> tuple[Tensor, Tensor, int]:
    """→ (U sorted classes: blank and every target label, targets B × L as indices into them, blank's index)."""
    valid = ~lengths_to_padding_mask(target_lengths, targets.size(1))
    used = torch.cat([targets.new_tensor([blank]), targets[valid]])
    classes, index = torch.unique(used, return_inverse=True)
    compact_blank = int(index[0])
    compact = torch.full_like(targets, compact_blank)
    compact[valid] = index[1:]
    return classes, compact, compact_blank


def _without_exp_term(per_row: Tensor, log_probs: Tensor, lengths: Tensor) -> Tensor:
    """per_row − (Σ_t,u exp(lp)·lp − its value): the same value, with exp(lp) taken off torch's gradient
    at the positions it wrote one (t < length, rows it did not zero as impossible)."""
    live = ~lengths_to_padding_mask(lengths, log_probs.size(0)).t() & (per_row.detach() != 0)  # K × B
    term = (log_probs.detach().exp() * log_probs * live.unsqueeze(-1)).sum((0, 2))  # B
    return per_row - (term - term.detach())
