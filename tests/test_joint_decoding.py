"""Joint CTC/attention decoding: the CTC prefix scorer against brute force and torch's CTC loss, and
the batched beam search against the loop-per-row search it replaced (kept here as the reference)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from legonn.ctc_prefix import CTCPrefixScorer
from legonn.interface import Marginals, VocabId
from legonn.modules.decoder import AutoregressiveDecoder, Encoded
from legonn.search import SearchOptions, _forbid_specials, beam_search
from legonn.vocab import BLANK, BOS, EOS

from test_search import TGT_V, VOCAB, encode, model  # noqa: F401  (the trained toy model fixture)


def random_marginals(b: int, t: int, v: int, seed: int, lengths=None, peaky: float = 1.0) -> Marginals:
    g = torch.Generator().manual_seed(seed)
    log_probs = (torch.randn(b, t, v, generator=g) * peaky).log_softmax(-1)
    lengths = torch.tensor(lengths or [t] * b)
    return Marginals(log_probs, lengths, VocabId("m" * 64, v, BLANK))


def collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out, prev = [], None
    for c in path:
        if c != prev and c != BLANK:
            out.append(c)
        prev = c
    return tuple(out)


def brute_force(log_probs: torch.Tensor) -> dict[tuple[int, ...], float]:
    """Probability of every label sequence: the sum over all T-frame paths that collapse to it."""
    t, v = log_probs.shape
    probs: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(v), repeat=t):
        p = math.exp(sum(float(log_probs[i, c]) for i, c in enumerate(path)))
        probs[collapse(path)] = probs.get(collapse(path), 0.0) + p
    return probs


def grow(scorer: CTCPrefixScorer, prefix: list[int]) -> None:
    for tok in prefix:
        toks = torch.full((len(scorer.row), 1), tok)
        psi, _ = scorer.score(toks)
        scorer.advance(torch.arange(len(scorer.row)), toks[:, 0], psi[:, 0])


@pytest.mark.parametrize("prefix", [[], [1], [2, 2], [1, 2], [2, 1, 2], [1, 1, 1]])
def test_prefix_and_full_scores_equal_brute_force(prefix):
    """ψ(h+c) = Σ P(y) over label sequences y starting with h+c; ψ(h+eos) = P(h), repeats included."""
    m = random_marginals(1, 5, 3, seed=len(prefix) + sum(prefix))
    probs = brute_force(m.log_probs[0])
    scorer = CTCPrefixScorer(m, beams=1)
    grow(scorer, prefix)
    psi, ended = scorer.score(torch.tensor([[1, 2]]))
    for j, c in enumerate([1, 2]):
        want = sum(p for y, p in probs.items() if y[: len(prefix) + 1] == tuple(prefix + [c]))
        # ψ takes each later frame to sum to 1; the float32 marginals do so to ~1e-7
        assert math.isclose(math.exp(float(psi[0, j])), want, rel_tol=1e-6)
    assert math.isclose(math.exp(float(ended[0])), probs.get(tuple(prefix), 0.0), rel_tol=1e-9)


def test_full_score_equals_torch_ctc_loss_on_long_padded_rows():
    """Long peaky marginals (the sums reach far below float32's range) and rows of different lengths."""
    m = random_marginals(3, 120, 9, seed=5, lengths=[120, 77, 30], peaky=6.0)
    targets = [[4, 4, 5, 6, 4], [7, 8, 8], [5]]
    for row, target in enumerate(targets):
        one = Marginals(m.log_probs[row : row + 1], m.lengths[row : row + 1], m.vocab)
        scorer = CTCPrefixScorer(one, beams=1)
        grow(scorer, target)
        _, ended = scorer.score(torch.tensor([[4]]))
        n = int(m.lengths[row])
        want = -F.ctc_loss(m.log_probs[row, :n, None].double(), torch.tensor([target]), torch.tensor([n]),
                           torch.tensor([len(target)]), blank=BLANK, reduction="sum")
        assert float(ended[0]) == pytest.approx(float(want), rel=1e-9, abs=1e-6)


def test_hypotheses_are_batched_over_rows_and_beams_and_follow_their_parents():
    """N = B·k hypotheses advanced with reordering give the same scores as each prefix grown alone."""
    m = random_marginals(2, 12, 7, seed=9, lengths=[12, 8])
    scorer = CTCPrefixScorer(m, beams=3)
    steps = [torch.tensor([4, 5, 4, 6, 4, 5]), torch.tensor([4, 4, 6, 5, 6, 6])]
    parents = [torch.arange(6), torch.tensor([1, 1, 0, 5, 3, 3])]
    history = [[] for _ in range(6)]
    candidates = torch.arange(4, 7).repeat(6, 1)  # every hypothesis scores tokens 4, 5, 6
    for toks, par in zip(steps, parents):
        psi, _ = scorer.score(candidates)
        scorer.advance(par, toks, psi[par, toks - 4])
        history = [history[int(p)] + [int(x)] for p, x in zip(par, toks)]
    # the same prefixes grown one by one, in their own row
    for n, prefix in enumerate(history):
        row = n // 3
        one = CTCPrefixScorer(Marginals(m.log_probs[row : row + 1], m.lengths[row : row + 1], m.vocab), beams=1)
        grow(one, prefix)
        assert torch.allclose(scorer.gamma_n[n], one.gamma_n[0])
        assert torch.allclose(scorer.gamma_b[n], one.gamma_b[0])
        assert torch.allclose(scorer.psi[n], one.psi[0])


def test_read_fraction_rises_as_the_prefix_covers_the_interface():
    """Marginals that say 4 5 6 7 at four separated frames: a prefix of two tokens has read about half."""
    t, v = 12, 9
    log_probs = torch.full((1, t, v), -8.0)
    log_probs[0, :, BLANK] = 0.0
    for frame, tok in zip((1, 4, 7, 10), (4, 5, 6, 7)):
        log_probs[0, frame, BLANK], log_probs[0, frame, tok] = -8.0, 0.0
    m = Marginals(log_probs.log_softmax(-1), torch.tensor([t]), VocabId("m" * 64, v, BLANK))
    read = []
    scorer = CTCPrefixScorer(m, beams=1)
    for tok in (4, 5, 6, 7):
        grow(scorer, [tok])
        read.append(float(scorer.read_fraction()[0]))
    assert read == sorted(read)
    assert read[1] == pytest.approx(0.5, abs=0.01) and read[-1] == pytest.approx(1.0, abs=1e-3)


# --- the beam search against the loop-per-row search it replaced ---------------------------------


@torch.no_grad()
def reference_beam_search(ar, enc: Encoded, max_len: int, opts: SearchOptions) -> list[list[int]]:
    """legonn's beam search before it was batched (a Python loop over rows and beams at every step),
    with the memory copied per beam; the batched search must pick the same hypotheses."""
    b, k = enc.memory.size(0), opts.beam_size
    enc = enc.select(torch.arange(b).repeat_interleave(k))
    cache = ar.new_cache()
    tokens = torch.full((b * k, 1), BOS, dtype=torch.long)
    scores = torch.full((b, k), -torch.inf)
    scores[:, 0] = 0.0
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(b)]
    for t in range(max_len):
        lprobs = ar.step(tokens[:, -1:], t, enc.memory, enc.padding_mask, cache).float().log_softmax(-1)
        lprobs = _forbid_specials(lprobs).view(b, k, -1)
        cand = scores.unsqueeze(-1) + lprobs
        eos_scores = cand[:, :, EOS].clone()
        cand[:, :, EOS] = -torch.inf
        top_scores, top_flat = cand.view(b, -1).topk(k, dim=-1)
        for row in range(b):
            if len(finished[row]) >= k:
                continue
            for beam in range(k):
                s = float(eos_scores[row, beam])
                if s > -torch.inf and (s >= float(top_scores[row, -1]) or t == max_len - 1):
                    hyp = tokens[row * k + beam, 1:].tolist()
                    finished[row].append((s / (len(hyp) + 1) ** opts.length_penalty, hyp))
        if all(len(f) >= k for f in finished) or t == max_len - 1:
            break
        beam_index = (top_flat // lprobs.size(-1)) + torch.arange(b).unsqueeze(1) * k
        scores = top_scores
        tokens = torch.cat([tokens.index_select(0, beam_index.view(-1)), (top_flat % lprobs.size(-1)).view(-1, 1)], 1)
        ar.reorder_cache(cache, beam_index.view(-1))
    return [max(f, key=lambda x: x[0])[1] if f else tokens[r * k + int(scores[r].argmax()), 1:].tolist()
            for r, f in enumerate(finished)]


@pytest.mark.parametrize("beam, lp, seed", [(2, 1.0, 0), (4, 0.0, 1), (5, 1.0, 2), (5, 0.6, 3)])
def test_batched_search_picks_the_reference_hypotheses(model, beam, lp, seed):
    lengths = torch.randint(1, 9, (7,), generator=torch.Generator().manual_seed(seed)).tolist()
    enc = encode(model, lengths, seed=seed)
    for max_len in (2, 6, 12):
        opts = SearchOptions(beam_size=beam, length_penalty=lp)
        assert beam_search(model.ar, enc, max_len, opts) == reference_beam_search(model.ar, enc, max_len, opts)


def test_min_len_bars_ending_early(model):
    enc = encode(model, [2, 3, 1], seed=4)
    hyps = beam_search(model.ar, enc, 12, SearchOptions(beam_size=3, min_len=6))
    assert all(len(h) >= 6 for h in hyps), hyps


# --- joint decoding on the trained toy model ----------------------------------------------------


def test_ctc_weight_zero_is_the_decoder_alone_and_needs_no_marginals(model):
    enc = encode(model, [6, 2, 7], seed=8)
    plain = beam_search(model.ar, enc, 10, SearchOptions(beam_size=4))
    assert beam_search(model.ar, enc, 10, SearchOptions(beam_size=4, ctc_weight=0.0), enc.interfaces[-1]) == plain
    with pytest.raises(ValueError, match="marginals"):
        beam_search(model.ar, enc, 10, SearchOptions(beam_size=4, ctc_weight=0.3))


def ctc_log_prob(m: Marginals, row: int, labels: list[int]) -> float:
    n = int(m.lengths[row])
    return -float(F.ctc_loss(m.log_probs[row, :n, None].double(), torch.tensor([labels or [0]])[:, : len(labels)],
                             torch.tensor([n]), torch.tensor([len(labels)]), blank=BLANK, reduction="sum"))


def test_pure_ctc_search_finds_labels_at_least_as_likely_as_the_readout(model):
    """λ = 1 ranks by the CTC prefix score alone: with no length penalty, each row's hypothesis is at
    least as probable under the interface as its greedy readout (best path ≠ best label sequence)."""
    enc = encode(model, [7, 5, 6, 3], seed=12)
    m = enc.interfaces[-1]
    hyps = beam_search(model.ar, enc, 12, SearchOptions(beam_size=4, length_penalty=0.0, ctc_weight=1.0,
                                                         pre_beam=TGT_V, eos_read_fraction=0.0), m)
    for row, readout in enumerate(m.greedy()):
        assert ctc_log_prob(m, row, hyps[row]) >= ctc_log_prob(m, row, readout) - 1e-9, (hyps[row], readout)


@pytest.mark.parametrize("lam", [0.3, 0.7])
def test_joint_decoding_is_batched_and_scores_in_between(model, lam):
    lengths = [7, 3, 6, 5]
    enc = encode(model, lengths, seed=13)
    opts = SearchOptions(beam_size=4, ctc_weight=lam)
    hyps = beam_search(model.ar, enc, 12, opts, enc.interfaces[-1])
    for row in range(len(lengths)):
        one = Encoded(enc.memory[row : row + 1, : max(1, int((~enc.padding_mask[row]).sum()))],
                      enc.padding_mask[row : row + 1, : max(1, int((~enc.padding_mask[row]).sum()))], [])
        m = enc.interfaces[-1]
        n = int(m.lengths[row])
        alone = Marginals(m.log_probs[row : row + 1, :n], m.lengths[row : row + 1], m.vocab)
        assert beam_search(model.ar, one, 12, opts, alone)[0] == hyps[row]
        assert not {BLANK, BOS, EOS} & set(hyps[row])


def test_no_end_while_most_of_the_interface_is_unread():
    """A decoder that wants to stop at once is held until the prefix has read the interface."""

    class EagerToStop(AutoregressiveDecoder):
        def __init__(self):
            torch.nn.Module.__init__(self)
            self.layers = []

        def step(self, last_tokens, position, memory, memory_padding_mask, cache):
            logits = torch.zeros(last_tokens.size(0), 9)
            logits[:, EOS] = 5.0
            return logits

    t, v = 12, 9
    log_probs = torch.full((1, t, v), -8.0)
    log_probs[0, :, BLANK] = 0.0
    for frame, tok in zip((1, 4, 7, 10), (4, 5, 6, 7)):
        log_probs[0, frame, BLANK], log_probs[0, frame, tok] = -8.0, 0.0
    m = Marginals(log_probs.log_softmax(-1), torch.tensor([t]), VocabId("m" * 64, v, BLANK))
    enc = Encoded(torch.zeros(1, t, 4), torch.zeros(1, t, dtype=torch.bool), [m])
    ar = EagerToStop()
    assert beam_search(ar, enc, 10, SearchOptions(beam_size=3)) == [[]]
    held = beam_search(ar, enc, 10, SearchOptions(beam_size=3, ctc_weight=0.1, pre_beam=v), m)
    assert len(held[0]) >= 2 and held[0][:2] == [4, 5], held
