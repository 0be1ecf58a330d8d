"""Ingestors: the first part of any module that reads upstream `Marginals`.

WeightedEmbedding is differentiable (expected embedding under the marginals); BeamConv reads only
the top-p indices, so no gradient crosses the module boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from legonn.interface import Marginals
from legonn.nn import sinusoidal_positions


class WeightedEmbedding(nn.Module):
    """h_t = Σ_v P_t(v)·E[v]; with receptive_field > 1, a width-RF convolution over time instead."""

    def __init__(self, vocab_size: int, dim: int, receptive_field: int = 1):
        super().__init__()
        if receptive_field < 1 or receptive_field % 2 == 0:
            raise ValueError(f"receptive_field must be an odd number ≥ 1, got {receptive_field}")
        self.dim, self.receptive_field = dim, receptive_field
        if receptive_field == 1:
            self.embed = nn.Parameter(torch.randn(vocab_size, dim) * dim**-0.5)
        else:  # the convolution's centre tap plays the role of the embedding matrix
            self.conv = nn.Conv1d(vocab_size, dim, receptive_field, padding=receptive_field // 2, bias=False)

    def forward(self, marginals: Marginals) -> Tensor:
        """Marginals B × K × V → B × K × D.

        Padded positions are only zeroed for the convolution (which would smear them into valid
        ones); with RF = 1 they stay position-local and are masked out downstream.
        """
        # bf16 is plenty for an expected embedding and halves the traffic over the B × K × V tensor.
        dtype = torch.bfloat16 if torch.is_autocast_enabled("cpu") else marginals.log_probs.dtype
        probs = marginals.log_probs.to(dtype).exp()
        if self.receptive_field == 1:
            h = probs @ self.embed.to(dtype)
        else:
            probs = probs.masked_fill(marginals.padding_mask.unsqueeze(-1), 0.0)
            h = self.conv(probs.transpose(1, 2)).transpose(1, 2)
        return h * math.sqrt(self.dim)


class BeamConv(nn.Module):
    """Embed the top-p classes of each position (rank order) and mix the p ranks with a Conv1d.

    Only indices are read, so the upstream encoder gets no gradient from this module's loss.
    """

    def __init__(self, vocab_size: int, dim: int, beam: int = 4, kernel: int = 3):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"BeamConv kernel must be an odd number ≥ 1, got {kernel}")
        self.dim, self.beam = dim, beam
        self.embed = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.embed.weight, std=dim**-0.5)
        self.conv = nn.Conv1d(beam * dim, dim, kernel, padding=kernel // 2)

    def forward(self, marginals: Marginals) -> Tensor:
        """Marginals B × K × V → B × K × D."""
        with torch.no_grad():
            top = marginals.log_probs.detach().topk(self.beam, dim=-1).indices  # B × K × p
        b, k, p = top.shape
        h = self.embed(top) * math.sqrt(self.dim)  # B × K × p × D
        h = h.masked_fill(marginals.padding_mask[:, :, None, None], 0.0).reshape(b, k, p * self.dim)
        return self.conv(h.transpose(1, 2)).transpose(1, 2)


@dataclass(frozen=True)
class WEmbConfig:
    """Weighted Embedding; receptive_field: conv width over time (1 = plain expected embedding)."""

    kind: str = "wemb"
    receptive_field: int = 1

    def build(self, *, vocab_size: int, dim: int) -> WeightedEmbedding:
        return WeightedEmbedding(vocab_size, dim, self.receptive_field)


@dataclass(frozen=True)
class BeamConvConfig:
    """Beam Convolution; beam: top-p classes read per position; kernel: convolution width over time."""

    kind: str = "beamconv"
    beam: int = 4
    kernel: int = 3

    def build(self, *, vocab_size: int, dim: int) -> BeamConv:
        return BeamConv(vocab_size, dim, self.beam, self.kernel)


# kind → config class (the config builds its module): a YAML `ingestor: {kind: …}` section picks one
INGESTORS = {"wemb": WEmbConfig, "beamconv": BeamConvConfig}


def add_positions(h: Tensor) -> Tensor:
    """B × K × D + sinusoidal positions."""
    return h + sinusoidal_positions(h.size(1), h.size(2), h.device).to(h.dtype)
