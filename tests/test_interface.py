"""The Marginals interface: validation, vocabulary checks, padding masks, CTC greedy readout and CTC loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from legonn.interface import (
    Marginals,
    VocabId,
    VocabMismatch,
    ctc_greedy,
    ctc_loss,
    lengths_to_padding_mask,
)

FP_A = "a" * 20 + "1111"
FP_B = "b" * 20 + "2222"


def vocab(size: int = 6, fp: str = FP_A) -> VocabId:
    return VocabId(fp, size, 0)


def one_hot_log_probs(paths: list[list[int]], v: int, confidence: float = 0.9) -> torch.Tensor:
    """B × K × V log-probs whose argmax follows `paths` (rows padded with blank)."""
    k = max(len(p) for p in paths)
    probs = torch.full((len(paths), k, v), (1.0 - confidence) / (v - 1))
    for b, path in enumerate(paths):
        for t in range(k):
            c = path[t] if t < len(path) else 0
            probs[b, t, c] = confidence
    return probs.log()


# --- Marginals construction and vocabulary checks -------------------------------------------------


def test_marginals_accepts_matching_shape():
    lp = torch.randn(2, 5, 6).log_softmax(-1)
    m = Marginals(lp, torch.tensor([5, 3]), vocab(6))
    assert m.log_probs.shape == (2, 5, 6)
    assert m.vocab.size == 6 and m.vocab.blank == 0


def test_marginals_wrong_vocab_size_raises_vocab_mismatch():
    lp = torch.randn(2, 5, 7).log_softmax(-1)
    with pytest.raises(VocabMismatch, match="7 classes"):
        Marginals(lp, torch.tensor([5, 3]), vocab(6))
    # VocabMismatch is a ValueError, so generic callers can still catch it
    assert issubclass(VocabMismatch, ValueError)


def test_marginals_wrong_rank_raises():
    with pytest.raises(ValueError, match="B × K × V"):
        Marginals(torch.randn(5, 6), torch.tensor([5]), vocab(6))


def test_checked_passes_for_same_vocab_and_returns_self():
    m = Marginals(torch.randn(1, 3, 6).log_softmax(-1), torch.tensor([3]), vocab(6, FP_A))
    assert m.checked(VocabId(FP_A, 6, 0)) is m


@pytest.mark.parametrize(
    "expected",
    [VocabId(FP_B, 6, 0), VocabId(FP_A, 6, 1)],  # different fingerprint; same fingerprint but different blank
    ids=["fingerprint", "blank"],
)
def test_checked_rejects_other_vocab(expected):
    m = Marginals(torch.randn(1, 3, 6).log_softmax(-1), torch.tensor([3]), vocab(6, FP_A))
    with pytest.raises(VocabMismatch) as info:
        m.checked(expected, "decoder input")
    msg = str(info.value)
    assert "decoder input" in msg
    assert FP_A[:12] in msg and expected.fingerprint[:12] in msg


def test_checked_message_names_both_fingerprints_in_order():
    m = Marginals(torch.randn(1, 3, 6).log_softmax(-1), torch.tensor([3]), vocab(6, FP_A))
    with pytest.raises(VocabMismatch) as info:
        m.checked(VocabId(FP_B, 6, 0))
    msg = str(info.value)
    # "got <sender>, expected <receiver>"
    assert msg.index(FP_A[:12]) < msg.index(FP_B[:12])
    assert "got" in msg and "expected" in msg


# --- padding masks ------------------------------------------------------------------------------


def test_lengths_to_padding_mask():
    mask = lengths_to_padding_mask(torch.tensor([3, 1, 0]), 4)
    expected = torch.tensor(
        [[False, False, False, True], [False, True, True, True], [True, True, True, True]]
    )
    assert mask.dtype == torch.bool
    assert torch.equal(mask, expected)


def test_lengths_to_padding_mask_default_width_is_max_length():
    mask = lengths_to_padding_mask(torch.tensor([2, 5]))
    assert mask.shape == (2, 5)
    assert mask.sum().item() == 3


def test_marginals_padding_mask_uses_k():
    m = Marginals(torch.randn(2, 6, 4).log_softmax(-1), torch.tensor([6, 2]), vocab(4))
    mask = m.padding_mask
    assert mask.shape == (2, 6)
    assert not mask[0].any()
    assert mask[1].tolist() == [False, False, True, True, True, True]


# --- CTC greedy ---------------------------------------------------------------------------------


def test_ctc_greedy_collapses_repeats_and_drops_blanks():
    # blank=0: "a a _ a b b _ _ c" → a a b c (repeat split by blank is kept twice)
    path = [1, 1, 0, 1, 2, 2, 0, 0, 3]
    lp = one_hot_log_probs([path], 5)
    assert ctc_greedy(lp, torch.tensor([len(path)]), 0) == [[1, 1, 2, 3]]


def test_ctc_greedy_respects_lengths():
    paths = [[1, 2, 3, 4], [4, 4, 2, 1]]
    lp = one_hot_log_probs(paths, 5)
    out = ctc_greedy(lp, torch.tensor([4, 2]), 0)
    assert out == [[1, 2, 3, 4], [4]]  # row 1 is cut after two positions


def test_ctc_greedy_all_blank_and_zero_length():
    lp = one_hot_log_probs([[0, 0, 0], [1, 2, 3]], 4)
    assert ctc_greedy(lp, torch.tensor([3, 0]), 0) == [[], []]


def test_ctc_greedy_other_blank_id():
    path = [2, 2, 1, 2, 3]
    lp = one_hot_log_probs([path], 4)
    assert ctc_greedy(lp, torch.tensor([5]), blank=2) == [[1, 3]]


def test_marginals_greedy_and_top_k():
    path = [1, 0, 2, 2]
    m = Marginals(one_hot_log_probs([path], 4), torch.tensor([4]), vocab(4))
    assert m.greedy() == [[1, 2]]
    vals, idx = m.top_k(2)
    assert vals.shape == idx.shape == (1, 4, 2)
    assert idx[0, :, 0].tolist() == path
    assert (vals[..., 0] >= vals[..., 1]).all()


# --- CTC loss -----------------------------------------------------------------------------------


def test_ctc_loss_is_finite_and_matches_torch_mean_over_tokens():
    torch.manual_seed(0)
    lp = torch.randn(3, 8, 6).log_softmax(-1)
    lengths = torch.tensor([8, 6, 5])
    targets = torch.tensor([[1, 2, 3], [4, 5, 0], [2, 0, 0]])
    tlen = torch.tensor([3, 2, 1])
    loss = ctc_loss(Marginals(lp, lengths, vocab(6)), targets, tlen)
    assert torch.isfinite(loss) and loss.item() > 0
    ref = F.ctc_loss(lp.transpose(0, 1), targets, lengths, tlen, blank=0, reduction="sum") / 6
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)


def test_ctc_loss_impossible_alignment_contributes_zero():
    torch.manual_seed(0)
    v = vocab(6)
    lp = torch.randn(2, 6, 6).log_softmax(-1)
    # row 0: K=6, target of 2 → feasible; row 1: K=2 but target has 4 tokens → impossible
    targets = torch.tensor([[1, 2, 0, 0], [1, 2, 3, 4]])
    both = ctc_loss(Marginals(lp, torch.tensor([6, 2]), v), targets, torch.tensor([2, 4]))
    assert torch.isfinite(both)
    alone = ctc_loss(Marginals(lp[:1], torch.tensor([6]), v), targets[:1], torch.tensor([2]))
    # the impossible row adds 0 to the sum; only the normaliser (total target tokens 2 + 4) changes
    assert both.item() == pytest.approx(alone.item() * 2 / 6, rel=1e-5)


def test_ctc_loss_impossible_due_to_repeats_is_zero_not_inf():
    # "1 1" needs a blank between the repeats: 3 frames minimum, we give 2
    lp = torch.randn(1, 2, 4).log_softmax(-1).requires_grad_()
    loss = ctc_loss(Marginals(lp, torch.tensor([2]), vocab(4)), torch.tensor([[1, 1]]), torch.tensor([2]))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(lp.grad).all()


def test_ctc_loss_decreases_when_correct_path_gets_more_probability():
    target = torch.tensor([[1, 2, 3]])
    path = [1, 0, 2, 2, 0, 3]
    losses = []
    for conf in (0.3, 0.6, 0.9, 0.99):
        lp = one_hot_log_probs([path], 5, confidence=conf)
        losses.append(ctc_loss(Marginals(lp, torch.tensor([6]), vocab(5)), target, torch.tensor([3])).item())
    assert all(a > b for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.1


def test_ctc_loss_gradient_pushes_towards_target():
    torch.manual_seed(0)
    logits = torch.zeros(1, 6, 5, requires_grad=True)
    target, tlen = torch.tensor([[1, 2, 3]]), torch.tensor([3])
    opt = torch.optim.SGD([logits], lr=1.0)
    first = None
    for _ in range(50):
        loss = ctc_loss(Marginals(logits.log_softmax(-1), torch.tensor([6]), vocab(5)), target, tlen)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    m = Marginals(logits.detach().log_softmax(-1), torch.tensor([6]), vocab(5))
    assert loss.item() < first
    assert m.greedy() == [[1, 2, 3]]


def test_ctc_loss_on_the_target_labels_matches_full_vocabulary_ctc_in_value_and_gradient():
    # the loss runs on blank + target labels only; through the log-softmax its gradient must be torch's
    torch.manual_seed(0)
    logits = torch.randn(4, 9, 30, requires_grad=True)
    lengths = torch.tensor([9, 7, 2, 8])  # row 2 cannot fit its 3 labels: zero loss, zero gradient
    targets = torch.tensor([[5, 5, 17, 0], [29, 3, 0, 0], [4, 6, 8, 0], [1, 2, 2, 2]])
    tlen = torch.tensor([3, 2, 3, 4])
    grads = []
    for full in (True, False):
        logits.grad = None
        lp = logits.log_softmax(-1)
        if full:
            loss = F.ctc_loss(lp.transpose(0, 1), targets, lengths, tlen, blank=0, reduction="sum",
                              zero_infinity=True) / tlen.sum()
        else:
            loss = ctc_loss(Marginals(lp, lengths, vocab(30)), targets, tlen)
        loss.backward()
        grads.append((loss.item(), logits.grad.clone()))
    (ref, ref_grad), (got, got_grad) = grads
    assert got == pytest.approx(ref, rel=1e-6)
    assert torch.allclose(got_grad, ref_grad, atol=1e-7)
    assert got_grad[2].abs().max() == 0 and got_grad[1, 7:].abs().max() == 0  # impossible row; past the length


def test_ctc_loss_runs_in_fp32_for_bf16_input():
    lp = torch.randn(1, 6, 5).log_softmax(-1).to(torch.bfloat16)
    loss = ctc_loss(Marginals(lp, torch.tensor([6]), vocab(5)), torch.tensor([[1, 2]]), torch.tensor([2]))
    assert loss.dtype == torch.float32
    assert math.isfinite(loss.item())
