"""Training objective: label-smoothed CE, CE + λ·ΣCTC, and a tiny end-to-end overfit of a LegoModel."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from legonn.interface import Marginals, VocabId, ctc_loss
from legonn.losses import label_smoothed_ce, lego_loss
from legonn.model import ModelConfig, build_model
from legonn.modules import DecoderConfig, EncoderConfig, OLCConfig
from legonn.search import greedy
from legonn.vocab import BOS, EOS

V = 20
VOCAB = VocabId("c" * 64, V, 0)


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 5, V, generator=g)
    targets = torch.randint(1, V, (3, 5), generator=g)
    targets[1, 3:] = 0
    targets[2, 1:] = 0
    return logits, targets


def marginals(lengths: list[int], seed: int) -> Marginals:
    g = torch.Generator().manual_seed(seed)
    return Marginals(torch.randn(len(lengths), max(lengths), V, generator=g).log_softmax(-1),
                     torch.tensor(lengths), VOCAB)


# --- label-smoothed cross-entropy ---------------------------------------------------------------


def test_ce_without_smoothing_equals_cross_entropy_ignoring_pad():
    logits, targets = batch()
    ce, nll = label_smoothed_ce(logits, targets, 0.0)
    ref = F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=0)
    assert ce.item() == pytest.approx(ref.item(), rel=1e-6)
    assert nll.item() == pytest.approx(ref.item(), rel=1e-6)


def test_ce_ignores_padded_positions():
    logits, targets = batch()
    ce, _ = label_smoothed_ce(logits, targets, 0.1)
    noisy = logits.clone()
    noisy[targets == 0] = 50 * torch.randn(int((targets == 0).sum()), V)
    assert label_smoothed_ce(noisy, targets, 0.1)[0].item() == pytest.approx(ce.item(), rel=1e-6)


def test_ce_smoothed_formula():
    logits, targets = batch(1)
    eps = 0.2
    ce, nll = label_smoothed_ce(logits, targets, eps)
    lp = logits.log_softmax(-1)
    mask = targets != 0
    tok_nll = -lp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    expected = ((1 - eps) * tok_nll - eps * lp.mean(-1))[mask].mean()
    assert ce.item() == pytest.approx(expected.item(), rel=1e-5)
    assert nll.item() == pytest.approx(tok_nll[mask].mean().item(), rel=1e-5)


def test_smoothing_increases_loss_for_confident_correct_predictions():
    targets = torch.tensor([[5, 6, 7, 0]])
    logits = torch.full((1, 4, V), -5.0)
    logits[0, torch.arange(4), targets[0]] = 10.0
    plain, nll_plain = label_smoothed_ce(logits, targets, 0.0)
    smooth, nll_smooth = label_smoothed_ce(logits, targets, 0.1)
    assert plain.item() < 1e-3
    assert smooth.item() > plain.item() + 0.5
    assert nll_smooth.item() == pytest.approx(nll_plain.item())  # the NLL part is reported unsmoothed


def test_ce_all_pad_is_zero_not_nan():
    logits = torch.randn(2, 3, V)
    ce, nll = label_smoothed_ce(logits, torch.zeros(2, 3, dtype=torch.long), 0.1)
    assert ce.item() == 0.0 and nll.item() == 0.0


def test_ce_is_fp32_for_bf16_logits():
    logits, targets = batch()
    ce, _ = label_smoothed_ce(logits.to(torch.bfloat16), targets, 0.0)
    assert ce.dtype == torch.float32
    assert ce.item() == pytest.approx(label_smoothed_ce(logits, targets, 0.0)[0].item(), rel=2e-2)


# --- CE + λ·ΣCTC ----------------------------------------------------------------------------------


def ctc_setup():
    ifs = [marginals([8, 6, 4], 10), marginals([6, 6, 5], 11)]
    t = torch.tensor([[4, 5, 6], [7, 8, 0], [9, 0, 0]])
    n = torch.tensor([3, 2, 1])
    return ifs, [(t, n), (t, n)]


@pytest.mark.parametrize("weight", [0.5, 1.0])
def test_lego_loss_total_is_ce_plus_weighted_ctc(weight):
    logits, targets = batch()
    ifs, ctc_t = ctc_setup()
    parts = lego_loss(logits, targets, ifs, ctc_t, label_smoothing=0.1, ctc_weight=weight)
    ce, nll = label_smoothed_ce(logits, targets, 0.1)
    ctc = [ctc_loss(m, t, n) for m, (t, n) in zip(ifs, ctc_t)]
    assert parts.ce.item() == pytest.approx(ce.item())
    assert parts.nll.item() == pytest.approx(nll.item())
    assert [c.item() for c in parts.ctc] == pytest.approx([c.item() for c in ctc])
    assert all(c.item() > 0 for c in parts.ctc)
    assert parts.total.item() == pytest.approx(ce.item() + weight * sum(c.item() for c in ctc), rel=1e-6)


def test_lego_loss_zero_weight_total_is_ce_and_ctc_gets_no_gradient():
    logits, targets = batch()
    raw = torch.randn(3, 8, V, requires_grad=True)
    ifs = [Marginals(raw.log_softmax(-1), torch.tensor([8, 6, 4]), VOCAB)]
    _, ctc_t = ctc_setup()
    logits.requires_grad_()
    parts = lego_loss(logits, targets, ifs, ctc_t[:1], label_smoothing=0.1, ctc_weight=0.0)
    assert parts.total.item() == pytest.approx(parts.ce.item())
    assert parts.ctc[0].item() > 0  # still reported
    parts.total.backward()
    assert raw.grad is None
    assert logits.grad is not None


def test_lego_loss_parts_are_detached_and_total_differentiable():
    logits, targets = batch()
    logits.requires_grad_()
    raw = torch.randn(3, 8, V, requires_grad=True)
    ifs = [Marginals(raw.log_softmax(-1), torch.tensor([8, 6, 4]), VOCAB)]
    _, ctc_t = ctc_setup()
    parts = lego_loss(logits, targets, ifs, ctc_t[:1])
    assert parts.total.requires_grad
    assert not parts.ce.requires_grad and not parts.nll.requires_grad and not parts.ctc[0].requires_grad
    parts.total.backward()
    assert raw.grad.abs().sum() > 0 and logits.grad.abs().sum() > 0


def test_lego_loss_baseline_without_interfaces():
    logits, targets = batch()
    parts = lego_loss(logits, targets, [], [], label_smoothing=0.1, ctc_weight=1.0)
    assert parts.ctc == []
    assert parts.total.item() == pytest.approx(label_smoothed_ce(logits, targets, 0.1)[0].item())


# --- end to end: a tiny LegoModel memorises four pairs ------------------------------------------


def test_tiny_lego_model_overfits_and_interface_reads_out_target():
    """Copy / reverse toy pairs: after ~150 Adam steps CE is low and the interface's CTC greedy readout
    is exactly the target sentence — the interface really carries the target text."""
    torch.manual_seed(0)
    vocab = VocabId("b" * 64, 12, 0)
    sizes = dict(dim=32, heads=2, ff_dim=64, dropout=0.0)
    cfg = ModelConfig(encoder=EncoderConfig(**sizes, layers=1, olc=OLCConfig(ratio=2.0, layers=1, max_positions=32)),
                      decoder=DecoderConfig(**sizes, layers=1, ar_layers=1))
    model = build_model(cfg, VocabId("s" * 64, 12, 0), vocab)
    srcs = [[4, 5, 6, 7], [8, 9, 10], [11, 4, 9, 6, 5], [7, 7, 8]]
    tgts = [s[::-1] if i % 2 else list(s) for i, s in enumerate(srcs)]  # copy, reverse, copy, reverse

    def pad(rows, prefix=(), suffix=()):
        rows = [list(prefix) + r + list(suffix) for r in rows]
        out = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r)
        return out

    src, src_len = pad(srcs), torch.tensor([len(s) for s in srcs])
    prev, target = pad(tgts, prefix=[BOS]), pad(tgts, suffix=[EOS])
    ctc_t, ctc_n = pad(tgts), torch.tensor([len(t) for t in tgts])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        logits, ifs = model(src, src_len, prev)
        parts = lego_loss(logits, target, ifs, [(ctc_t, ctc_n)], label_smoothing=0.0, ctc_weight=1.0)
        first = parts.total.item() if first is None else first
        opt.zero_grad()
        parts.total.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits, ifs = model(src, src_len, prev)
        parts = lego_loss(logits, target, ifs, [(ctc_t, ctc_n)], label_smoothing=0.0)
        hyps = greedy(model.ar, model.encode(src, src_len), 10)
    assert parts.ce.item() < 0.05, parts.ce.item()
    assert parts.ctc[0].item() < 0.1, parts.ctc[0].item()
    assert parts.total.item() < first / 20
    assert ifs[0].greedy() == tgts
    assert hyps == tgts
