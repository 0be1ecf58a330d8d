"""interface_statistics on hand-made marginals, and `legonn interface-stats` on a tiny trained model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from legonn.interface import Marginals, VocabId
from legonn.interface_stats import interface_statistics

VOCAB = VocabId("f" * 64, 3, blank=0)


class FixedInterfaces(nn.Module):
    """Stands in for a LegoModel: its one interface is `probs` (B × K × V), whatever the input."""

    def __init__(self, probs: list, lengths: list[int]):
        super().__init__()
        self.log_probs, self.lengths = torch.tensor(probs).log(), torch.tensor(lengths)

    def interfaces(self, src, lengths):
        return [Marginals(self.log_probs[: len(lengths)], self.lengths[: len(lengths)], VOCAB)]


def test_figures_count_blanks_repeats_and_length_over_valid_positions_only():
    # best classes 1 1 0 2 (one blank, one repeat of a non-blank); the 5th position is padding
    peaked = [[0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]]
    model = FixedInterfaces([peaked], [4])
    (stats,) = interface_statistics(model, [np.array([5, 6, 7])], [2])
    assert stats.sentences == 1 and stats.positions_per_target_token == 2.0
    assert stats.blank_share == 0.25 and stats.repeat_share == 0.25
    assert stats.top1_probability == pytest.approx((0.8 + 0.7 + 0.6 + 0.8) / 4)
    entropy = [-sum(p * math.log(p) for p in row) for row in peaked[:4]]
    assert stats.entropy_nats == pytest.approx(sum(entropy) / 4, rel=1e-5)


def test_repeated_blanks_are_not_counted_as_repeats():
    blanks = [[0.9, 0.05, 0.05]] * 3
    (stats,) = interface_statistics(FixedInterfaces([blanks], [3]), [np.array([1])], [1])
    assert stats.blank_share == 1.0 and stats.repeat_share == 0.0


def test_a_model_without_interfaces_or_mismatched_lengths_is_refused():
    with pytest.raises(ValueError, match="no interface"):
        interface_statistics(nn.Linear(1, 1), [np.array([1])], [1])
    with pytest.raises(ValueError, match="one target length per source"):
        interface_statistics(FixedInterfaces([[[0.5, 0.25, 0.25]]], [1]), [np.array([1])], [1, 2])


def test_a_lone_encoder_is_described_by_what_it_emits():
    class Encoder(nn.Module):
        out_vocab = VOCAB

        def forward(self, src, lengths):
            return Marginals(torch.full((len(lengths), 2, 3), 1 / 3).log(), torch.full((len(lengths),), 2), VOCAB)

    (stats,) = interface_statistics(Encoder(), [np.array([1]), np.array([2, 3])], [1, 4])
    assert stats.sentences == 2 and stats.positions_per_target_token == pytest.approx((2 / 1 + 2 / 4) / 2)
    assert stats.entropy_nats == pytest.approx(math.log(3), rel=1e-5)
