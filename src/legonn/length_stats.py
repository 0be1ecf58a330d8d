"""The length contract between modules: how long an encoder's output is relative to the target.

A decoder trained on marginals of length K for targets of length L has only ever seen K/L in some
range; an encoder composed with it should produce ratios inside that range (SPEC §4).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

QUANTILES = (0.01, 0.05, 0.5, 0.95, 0.99)


def controlled_lengths(lengths: Tensor | Sequence[int], ratio: float) -> Tensor:
    """K_i = ceil(α · T_i), at least 1: the one place this rule lives (the OLC, token marginals, statistics).

    The small epsilon keeps e.g. 1.5 · 4 = 6.000000001 from becoming 7."""
    lengths = torch.as_tensor(lengths)
    return torch.ceil(lengths.double() * ratio - 1e-9).long().clamp(min=1)


def output_length(source_length: int, ratio: float) -> int:
    """K = ceil(α · T) for one length."""
    return int(controlled_lengths([source_length], ratio)[0])


def ratio_stats(source_lengths: Sequence[int], target_lengths: Sequence[int], ratio: float) -> dict:
    """Summary of K/L over a corpus, where K = ceil(α·T) and L is the target length in tokens."""
    k = controlled_lengths(list(source_lengths), ratio).numpy().astype(np.float64)
    l = np.maximum(np.asarray(target_lengths, dtype=np.float64), 1.0)
    r = k / l
    stats = {"alpha": ratio, "count": int(len(r)), "mean": round(float(r.mean()), 4),
             "min": round(float(r.min()), 4), "max": round(float(r.max()), 4),
             "source_per_target": round(float(np.sum(source_lengths) / np.sum(l)), 4)}
    stats.update({f"p{int(q * 100)}": round(float(np.quantile(r, q)), 4) for q in QUANTILES})
    return stats


def ctc_unalignable(source_lengths: Sequence[int], targets: Sequence[Sequence[int]], ratio: float) -> int:
    """How many pairs CTC cannot align: K = ceil(α·T) below L plus one blank per repeated neighbour.

    Their CTC loss is infinite; training zeroes it (zero_infinity), so they only teach the decoder.
    """
    def needed(target) -> int:
        return len(target) + sum(a == b for a, b in zip(target, target[1:]))

    ks = controlled_lengths(list(source_lengths), ratio).tolist()
    return sum(k < needed(y) for k, y in zip(ks, targets))


def auto_ratio(decoder_stats: dict, source_lengths: Sequence[int], target_lengths: Sequence[int]) -> float:
    """α for a new encoder so that its mean K/L on its own data matches the decoder's mean K/L.

    The mean of ceil(α·T)/L grows with α, so bisection finds it (to 1e-4).
    """
    low, high = 1e-3, 64.0
    for _ in range(40):
        mid = (low + high) / 2
        if ratio_stats(source_lengths, target_lengths, mid)["mean"] < decoder_stats["mean"]:
            low = mid
        else:
            high = mid
    return math.ceil(high * 1e4) / 1e4  # round up: rounding down could fall below the step


def outside_range(encoder_mean: float, decoder_stats: dict) -> bool:
    """True when the encoder's mean K/L lies outside the central 90 % the decoder saw in training."""
    return not decoder_stats["p5"] <= encoder_mean <= decoder_stats["p95"]
