"""Training objective: label-smoothed cross-entropy + λ · Σ CTC over the interfaces."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from legonn.interface import Marginals, ctc_loss


@dataclass
class LossParts:
    """All terms are per target token (CE) or per interface target token (CTC)."""

    total: Tensor
    ce: Tensor
    nll: Tensor
    ctc: list[Tensor]


def label_smoothed_ce(logits: Tensor, targets: Tensor, smoothing: float, pad: int = 0) -> tuple[Tensor, Tensor]:
    """logits B × L × V, targets B × L (pad ignored) → (smoothed CE, NLL), both mean over tokens."""
    lprobs = logits.log_softmax(-1, dtype=torch.float32)
    mask = targets != pad
    nll = -lprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    uniform = -lprobs.mean(-1)
    loss = (1.0 - smoothing) * nll + smoothing * uniform
    n = mask.sum().clamp(min=1)
    return (loss * mask).sum() / n, (nll * mask).sum() / n


def lego_loss(
    logits: Tensor,
    targets: Tensor,
    interfaces: list[Marginals],
    ctc_targets: list[tuple[Tensor, Tensor] | None],
    label_smoothing: float = 0.1,
    ctc_weight: float = 1.0,
) -> LossParts:
    """CE on the decoder + ctc_weight · Σ_i CTC(interface_i, ctc_targets_i). Baselines pass no interfaces;
    an interface whose target is None gets no CTC term (and no entry in LossParts.ctc)."""
    ce, nll = label_smoothed_ce(logits, targets, label_smoothing)
    ctc = [ctc_loss(m, *t) for m, t in zip(interfaces, ctc_targets) if t is not None]
    total = ce + ctc_weight * torch.stack(ctc).sum() if ctc and ctc_weight > 0 else ce
    return LossParts(total, ce.detach(), nll.detach(), [c.detach() for c in ctc])

