"""Incremental decoding and search: cache == teacher forcing, greedy, beam search, length penalty, batching."""

from __future__ import annotations

import math

import pytest
import torch

from legonn.interface import VocabId
from legonn.losses import lego_loss
from legonn.model import ModelConfig, build_model
from legonn.modules import DecoderConfig, EncoderConfig, OLCConfig
from legonn.modules.decoder import AutoregressiveDecoder, Encoded
from legonn.search import SearchOptions, beam_search, greedy, max_target_length
from legonn.vocab import BLANK, BOS, EOS

SRC_V, TGT_V, DIM = 40, 24, 32
VOCAB = VocabId("d" * 64, TGT_V, 0)
SRC_VOCAB = VocabId("s" * 64, SRC_V, 0)


@pytest.fixture(scope="module")
def model():
    """A small LegoModel briefly trained on a toy task (every other source token, folded into the target
    vocabulary), so its distributions are peaky, input-dependent and end at varying lengths — an
    untrained model emits the same degenerate hypothesis for every input."""
    torch.manual_seed(0)
    sizes = dict(dim=DIM, heads=2, ff_dim=64, dropout=0.0)
    cfg = ModelConfig(encoder=EncoderConfig(**sizes, layers=1, olc=OLCConfig(layers=1, max_positions=64)),
                      decoder=DecoderConfig(**sizes, layers=1, ar_layers=2))
    m = build_model(cfg, SRC_VOCAB, VOCAB)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    b = 16
    for _ in range(150):
        lens = torch.randint(1, 8, (b,), generator=g)
        src = torch.randint(4, 14, (b, int(lens.max())), generator=g)
        src[torch.arange(src.size(1))[None] >= lens[:, None]] = 0
        tl = (lens + 1) // 2
        tgt = torch.zeros(b, int(tl.max()), dtype=torch.long)
        for i in range(b):
            tgt[i, : tl[i]] = 4 + src[i, : lens[i] : 2] % (TGT_V - 4)
        prev = torch.cat([torch.full((b, 1), BOS), tgt], 1)
        target = torch.cat([tgt, torch.zeros(b, 1, dtype=torch.long)], 1)
        target[torch.arange(b), tl] = EOS
        logits, interfaces = m(src, lens, prev)
        loss = lego_loss(logits, target, interfaces, [(tgt, tl)], 0.1, 1.0)
        opt.zero_grad()
        loss.total.backward()
        opt.step()
    return m.eval()


def sources(lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, 14, (len(lengths), max(lengths)), generator=g)
    for i, n in enumerate(lengths):
        x[i, n:] = 0
    return x, torch.tensor(lengths)


def encode(model, lengths: list[int], seed: int) -> Encoded:
    with torch.no_grad():
        return model.encode(*sources(lengths, seed))


@torch.no_grad()
def model_score(ar: AutoregressiveDecoder, enc: Encoded, row: int, hyp: list[int]) -> float:
    """Σ log p(y_t | y_<t) over hyp + EOS, teacher-forced (blank/BOS never chosen, so no renormalisation)."""
    prev = torch.tensor([[BOS] + hyp])
    target = torch.tensor(hyp + [EOS])
    r = torch.tensor([row])
    lprobs = ar(prev, enc.memory.index_select(0, r), enc.padding_mask.index_select(0, r))[0].float().log_softmax(-1)
    return float(lprobs.gather(-1, target[:, None]).sum())


# --- incremental decoding -----------------------------------------------------------------------


def test_cached_steps_equal_teacher_forcing(model):
    enc = encode(model, [5, 3], seed=1)
    ar = model.ar
    g = torch.Generator().manual_seed(2)
    prev = torch.cat([torch.full((2, 1), BOS), torch.randint(4, TGT_V, (2, 6), generator=g)], 1)
    with torch.no_grad():
        full = ar(prev, enc.memory, enc.padding_mask)
        cache = ar.new_cache()
        steps = [ar.step(prev[:, t : t + 1], t, enc.memory, enc.padding_mask, cache) for t in range(prev.size(1))]
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-5)
    # with gradients on (plain-math attention) the teacher-forced logits are the same too
    assert torch.allclose(ar(prev, enc.memory, enc.padding_mask).detach(), full, atol=1e-5)


def test_reorder_cache_matches_reordered_teacher_forcing(model):
    enc = encode(model, [5, 4, 6], seed=3)
    ar = model.ar
    g = torch.Generator().manual_seed(4)
    prev = torch.cat([torch.full((3, 1), BOS), torch.randint(4, TGT_V, (3, 5), generator=g)], 1)
    index = torch.tensor([2, 0, 0])  # beam search re-ranking: drop row 1, duplicate row 0
    with torch.no_grad():
        cache = ar.new_cache()
        for t in range(3):
            ar.step(prev[:, t : t + 1], t, enc.memory, enc.padding_mask, cache)
        ar.reorder_cache(cache, index)
        sel = enc.select(index)
        new_prev = prev.index_select(0, index)
        out = [ar.step(new_prev[:, t : t + 1], t, sel.memory, sel.padding_mask, cache) for t in range(3, 6)]
        full = ar(new_prev, sel.memory, sel.padding_mask)
    assert torch.allclose(torch.stack(out, 1), full[:, 3:6], atol=1e-5)


# --- greedy -------------------------------------------------------------------------------------


@torch.no_grad()
def naive_greedy(ar, enc, row: int, max_len: int) -> list[int]:
    """Re-run the full teacher-forced decoder at every step; no cache."""
    r = torch.tensor([row])
    mem, mask = enc.memory.index_select(0, r), enc.padding_mask.index_select(0, r)
    hyp: list[int] = []
    for t in range(max_len):
        lp = ar(torch.tensor([[BOS] + hyp]), mem, mask)[0, -1].float().log_softmax(-1)
        lp[BLANK] = lp[BOS] = -math.inf
        nxt = EOS if t == max_len - 1 else int(lp.argmax())
        if nxt == EOS:
            break
        hyp.append(nxt)
    return hyp


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_matches_naive_uncached_decoding(model, seed):
    enc = encode(model, [6, 3, 5], seed=seed)
    out = greedy(model.ar, enc, 12)
    assert out == [naive_greedy(model.ar, enc, r, 12) for r in range(3)]


def test_beam_size_one_is_greedy(model):
    enc = encode(model, [6, 3, 5], seed=7)
    assert beam_search(model.ar, enc, 12, SearchOptions(beam_size=1)) == greedy(model.ar, enc, 12)


# --- beam search on the real model --------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_beam_score_at_least_greedy_score(model, seed):
    lengths = torch.randint(1, 10, (6,), generator=torch.Generator().manual_seed(100 + seed)).tolist()
    enc = encode(model, lengths, seed=seed)
    max_len = 10
    g = greedy(model.ar, enc, max_len)
    b = beam_search(model.ar, enc, max_len, SearchOptions(beam_size=4, length_penalty=0.0))
    assert any(g), "degenerate model: every greedy hypothesis is empty"
    for row in range(len(lengths)):
        gs, bs = model_score(model.ar, enc, row, g[row]), model_score(model.ar, enc, row, b[row])
        assert bs >= gs - 1e-4, (row, g[row], gs, b[row], bs)


@pytest.mark.parametrize("beam", [1, 3])
def test_outputs_have_no_specials_and_respect_max_len(model, beam):
    enc = encode(model, [7, 2, 5, 4], seed=11)
    for max_len in (1, 3, 8):
        hyps = beam_search(model.ar, enc, max_len, SearchOptions(beam_size=beam, length_penalty=1.0))
        assert len(hyps) == 4
        for h in hyps:
            assert not {BLANK, BOS, EOS} & set(h), h
            assert len(h) < max_len  # max_len counts the EOS
            assert all(0 <= t < TGT_V for t in h)


@pytest.mark.parametrize("beam, lp", [(1, 1.0), (4, 0.0), (4, 1.0)])
def test_batched_search_equals_row_by_row(model, beam, lp):
    lengths = [7, 3, 5]
    tokens, src_lengths = sources(lengths, seed=21)
    opts = SearchOptions(beam_size=beam, length_penalty=lp)
    with torch.no_grad():
        batched = beam_search(model.ar, model.encode(tokens, src_lengths), 10, opts)
        rows = [
            beam_search(model.ar, model.encode(tokens[i : i + 1, :n], src_lengths[i : i + 1]), 10, opts)[0]
            for i, n in enumerate(lengths)
        ]
    assert batched == rows


def test_max_target_length():
    opts = SearchOptions(max_len_a=1.5, max_len_b=10)
    assert max_target_length(torch.tensor([4, 7, 2]), opts) == int(1.5 * 7 + 10)
    assert max_target_length(torch.tensor([3]), SearchOptions(max_len_a=0.0, max_len_b=5)) == 5


# --- beam search on a hand-written decoder: does it actually search? ----------------------------


class TableDecoder:
    """Fake AutoregressiveDecoder: next-token probabilities are a function of the prefix (a dict)."""

    def __init__(self, table: dict[tuple[int, ...], dict[int, float]], vocab: int = 8, default=None):
        self.table, self.vocab, self.default = table, vocab, default or {}

    def new_cache(self):
        return [{"self": {}, "cross": {}}]

    reorder_cache = staticmethod(AutoregressiveDecoder.reorder_cache)

    def step(self, last_tokens, position, memory, memory_padding_mask, cache):
        part = cache[0]["self"]
        part["k"] = last_tokens if "k" not in part else torch.cat([part["k"], last_tokens], 1)
        assert part["k"].size(1) == position + 1
        rows = []
        for prefix in part["k"].tolist():
            dist = self.table.get(tuple(prefix[1:]), self.default)
            p = torch.full((self.vocab,), 1e-3)
            for tok, prob in dist.items():
                p[tok] = prob
            rest = 1.0 - sum(dist.values())
            free = [t for t in range(4, self.vocab) if t not in dist] + ([EOS] if EOS not in dist else [])
            for t in free:
                p[t] = max(rest / len(free), 1e-3)
            rows.append(p.log())
        return torch.stack(rows)  # logits; search applies log_softmax


def fake_enc(b: int = 1) -> Encoded:
    return Encoded(torch.zeros(b, 1, 4), torch.zeros(b, 1, dtype=torch.bool), [])


def table_score(ar: TableDecoder, hyp: list[int]) -> float:
    """Σ log p over hyp + EOS, stepping the fake decoder as search does."""
    cache, score, prefix = ar.new_cache(), 0.0, [BOS] + hyp
    for t, tok in enumerate(hyp + [EOS]):
        lp = ar.step(torch.tensor([[prefix[t]]]), t, None, None, cache).log_softmax(-1)
        score += float(lp[0, tok])
    return score


GARDEN_PATH = {
    (): {4: 0.5, 5: 0.4},  # greedy takes 4 …
    (4,): {},  # … after which everything is flat
    (5,): {EOS: 0.99},  # while 5 ends almost surely
}


def test_beam_search_escapes_garden_path():
    ar = TableDecoder(GARDEN_PATH)
    g = greedy(ar, fake_enc(), 6)
    b = beam_search(ar, fake_enc(), 6, SearchOptions(beam_size=2, length_penalty=0.0))
    assert g[0][0] == 4
    assert b == [[5]]
    assert table_score(ar, b[0]) > table_score(ar, g[0])


LENGTH_TRADE = {
    (): {5: 0.6, 4: 0.4},
    (5,): {EOS: 0.8},  # short: p = 0.48, per token (÷2) log p = -0.367
    (4,): {6: 0.99},
    (4, 6): {EOS: 0.99},  # long: p = 0.392, ÷3 → -0.312
}


def test_length_penalty_changes_ranking():
    ar = TableDecoder(LENGTH_TRADE)
    raw = beam_search(ar, fake_enc(), 6, SearchOptions(beam_size=2, length_penalty=0.0))
    normalised = beam_search(ar, fake_enc(), 6, SearchOptions(beam_size=2, length_penalty=1.0))
    assert raw == [[5]]
    assert normalised == [[4, 6]]


def test_fake_decoder_batch_of_identical_rows():
    ar = TableDecoder(GARDEN_PATH)
    assert beam_search(ar, fake_enc(3), 6, SearchOptions(beam_size=3, length_penalty=0.0)) == [[5]] * 3


@pytest.mark.parametrize("beam", [1, 3])
def test_hypothesis_without_eos_is_cut_at_max_len(beam):
    """EOS is never attractive: the output runs to the cap, max_len - 1 tokens + the forced EOS."""
    ar = TableDecoder({}, default={4: 0.9, EOS: 1e-6})
    for max_len in (1, 2, 5):
        (hyp,) = beam_search(ar, fake_enc(), max_len, SearchOptions(beam_size=beam, length_penalty=1.0))
        assert hyp == [4] * (max_len - 1)
