"""Greedy decoding and a batched beam search over an AutoregressiveDecoder with a key/value cache,
optionally joint with a CTC prefix scorer over the interface the decoder reads (joint CTC/attention
decoding, Watanabe et al. 2017).

Beam search holds everything in tensors — live beams and their scores (B × k), and per row the number
of finished hypotheses and the best one so far — so a step costs one decoder call, one top-k and one
cache reorder, whatever B and k are; no Python loop runs over rows or beams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from legonn.ctc_prefix import CTCPrefixScorer
from legonn.interface import Marginals
from legonn.modules.decoder import AutoregressiveDecoder, Encoded
from legonn.vocab import BLANK, BOS, EOS


@dataclass(frozen=True)
class SearchOptions:
    """beam_size 1 = greedy; length_penalty α ranks finished hypotheses by score / len^α;
    a hypothesis is cut at max_len_a · source_length + max_len_b tokens and may not end before
    min_len tokens.

    ctc_weight λ: hypotheses are scored (1 − λ)·log p_decoder + λ·log p_ctc(prefix | interface), the
    CTC prefix score over the marginals the decoder reads; 0 is the decoder alone, exactly. Only the
    decoder's pre_beam best tokens per hypothesis are CTC-scored (0: ⌈1.5 · beam_size⌉). With λ > 0 a
    hypothesis may not end before it has read eos_read_fraction of the interface's non-blank mass
    (see CTCPrefixScorer.read_fraction)."""

    beam_size: int = 5
    length_penalty: float = 1.0
    max_len_a: float = 1.5
    max_len_b: int = 10
    min_len: int = 0
    ctc_weight: float = 0.0
    pre_beam: int = 0
    eos_read_fraction: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1], got {self.ctc_weight}")
        if not 0.0 <= self.eos_read_fraction <= 1.0:
            raise ValueError(f"eos_read_fraction must be in [0, 1], got {self.eos_read_fraction}")

    @property
    def candidates(self) -> int:
        return self.pre_beam or math.ceil(1.5 * self.beam_size)

    def describe(self) -> dict:
        """What a results record stores as its `decoding`."""
        return {"beam": self.beam_size, "length_penalty": self.length_penalty, "ctc_weight": self.ctc_weight}


def _forbid_specials(lprobs: Tensor) -> Tensor:
    lprobs[:, BLANK] = -torch.inf
    lprobs[:, BOS] = -torch.inf
    return lprobs


@torch.no_grad()
def greedy(ar: AutoregressiveDecoder, enc: Encoded, max_len: int) -> list[list[int]]:
    """Argmax decoding, B rows at once → token ids per row (without bos/eos)."""
    b, device = enc.memory.size(0), enc.memory.device
    cache = ar.new_cache()
    last = torch.full((b, 1), BOS, dtype=torch.long, device=device)
    out = torch.zeros(b, 0, dtype=torch.long, device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)
    for t in range(max_len):
        lprobs = _forbid_specials(ar.step(last, t, enc.memory, enc.padding_mask, cache).log_softmax(-1, dtype=torch.float32))
        if t == max_len - 1:
            nxt = torch.full((b,), EOS, dtype=torch.long, device=device)
        else:
            nxt = lprobs.argmax(-1)
        nxt = nxt.masked_fill(done, EOS)
        out = torch.cat([out, nxt[:, None]], 1)
        done |= nxt == EOS
        if done.all():
            break
        last = nxt[:, None]
    return [row[: _eos_at(row)] for row in out.tolist()]


def _eos_at(row: list[int]) -> int:
    return row.index(EOS) if EOS in row else len(row)


class _Finished:
    """Per row: how many hypotheses have ended, and the best by length-normalised score (B each)."""

    def __init__(self, b: int, max_len: int, device):
        self.count = torch.zeros(b, dtype=torch.long, device=device)
        self.best = torch.full((b,), -torch.inf, dtype=torch.float64, device=device)
        self.tokens = torch.zeros(b, max_len, dtype=torch.long, device=device)
        self.length = torch.zeros(b, dtype=torch.long, device=device)

    def add(self, ended: Tensor, accept: Tensor, prefixes: Tensor, t: int, length_penalty: float) -> None:
        """ended, accept: B × k end scores and which of them count; prefixes: B × k × t tokens.
        A row's best changes only for a strictly better score, first beam first: ties keep the earlier."""
        normalised = (ended.double() / (t + 1) ** length_penalty).masked_fill(~accept, -torch.inf)
        step_best, beam = normalised.max(-1)
        better = step_best > self.best
        self.best = torch.where(better, step_best, self.best)
        chosen = prefixes.gather(1, beam[:, None, None].expand(-1, 1, t)).squeeze(1)  # B × t
        self.tokens[:, :t] = torch.where(better[:, None], chosen, self.tokens[:, :t])
        self.length = torch.where(better, t, self.length)
        self.count += accept.sum(-1)


@torch.no_grad()
def beam_search(ar: AutoregressiveDecoder, enc: Encoded, max_len: int, opts: SearchOptions,
                marginals: Marginals | None = None) -> list[list[int]]:
    """Beam search for B rows in parallel → best hypothesis per row (ids without bos/eos).

    enc.memory stays B × S × D: the decoder's cross-attention folds each row's k beams onto it.
    A hypothesis that ends (EOS chosen) is kept when its score ranks within the row's top-k candidates
    at that step; a row stops when it holds beam_size finished hypotheses. With opts.ctc_weight > 0,
    `marginals` (B × T × V over the decoder's output vocabulary) are the interface scored jointly.
    """
    joint = opts.ctc_weight > 0
    if joint and marginals is None:
        raise ValueError("joint CTC/attention decoding (ctc_weight > 0) needs the interface's marginals")
    if opts.beam_size == 1 and not joint:
        return greedy(ar, enc, max_len)
    b, k, device = enc.memory.size(0), opts.beam_size, enc.memory.device
    cache = ar.new_cache()
    tokens = torch.full((b * k, max_len + 1), BOS, dtype=torch.long, device=device)
    scores = torch.full((b, k), -torch.inf, device=device)  # ranking score of each live beam
    scores[:, 0] = 0.0
    finished = _Finished(b, max_len, device)
    ctc = CTCPrefixScorer(marginals, k) if joint else None
    decoder_scores = scores.clone()  # Σ log p_decoder of each live beam (joint decoding ranks by a mix)
    row_offset = torch.arange(b, device=device)[:, None] * k
    for t in range(max_len):
        # at t = 0 a row's k beams are the same empty prefix: one decoder row per source row, repeated
        rows = tokens[::k, :1] if t == 0 else tokens[:, t : t + 1]
        lprobs = ar.step(rows, t, enc.memory, enc.padding_mask, cache).log_softmax(-1, dtype=torch.float32)
        lprobs = _forbid_specials(lprobs).view(b, -1 if t else 1, lprobs.size(-1)).expand(b, k, -1)
        if joint:
            top_scores, beam_index, next_tokens, ended, chosen_psi = _joint_step(lprobs, decoder_scores, ctc, opts)
        else:
            cand = scores.unsqueeze(-1) + lprobs  # B × k × V
            ended = cand[:, :, EOS].clone()
            cand[:, :, EOS] = -torch.inf
            top_scores, top_flat = cand.view(b, -1).topk(k, dim=-1)  # continuing beams
            beam_index, next_tokens = top_flat // lprobs.size(-1), top_flat % lprobs.size(-1)
        if t < opts.min_len:
            ended = torch.full_like(ended, -torch.inf)
        last_step = t == max_len - 1
        accept = (ended > -torch.inf) & ((ended >= top_scores[:, -1:]) | last_step) & (finished.count < k)[:, None]
        finished.add(ended, accept, tokens[:, 1 : t + 1].reshape(b, k, t), t, opts.length_penalty)
        if last_step or bool((finished.count >= k).all()):
            break
        flat = (beam_index + row_offset).view(-1)
        tokens = tokens.index_select(0, flat)
        tokens[:, t + 1] = next_tokens.view(-1)
        if joint:
            step_lp = lprobs.reshape(b * k, -1)[flat, next_tokens.view(-1)]
            decoder_scores = (decoder_scores.view(-1)[flat] + step_lp).view(b, k)
            ctc.advance(flat, next_tokens.view(-1), chosen_psi.view(-1))
        scores = top_scores
        ar.reorder_cache(cache, flat // k if t == 0 else flat, parts=("self",))
    unfinished = finished.count == 0  # no EOS within max_len: the best live beam stands in
    live = tokens.view(b, k, -1)[torch.arange(b, device=device), scores.argmax(-1), 1 : t + 1]
    hyps = torch.where(unfinished[:, None], live, finished.tokens[:, :t])
    lengths = torch.where(unfinished, t, finished.length)
    return [row[:n] for row, n in zip(hyps.tolist(), lengths.tolist())]


def _joint_step(lprobs: Tensor, decoder_scores: Tensor, ctc: CTCPrefixScorer, opts: SearchOptions):
    """One step of joint decoding: lprobs B × k × V, decoder_scores B × k →
    (top-k scores, parent beam, token, end scores, ψ of the chosen extensions), each B × k.

    The decoder's `candidates` best tokens per beam (EOS aside) are CTC-scored; the rest are out of
    the running. Ending scores the whole interface (ψ(h+eos)), and is barred while the prefix has read
    less than eos_read_fraction of it."""
    b, k, vocab = lprobs.shape
    lam = opts.ctc_weight

    def mix(decoder: Tensor, ctc_part: Tensor) -> Tensor:  # 0·(−inf) at λ = 1 is a dead beam, not NaN
        return ((1 - lam) * decoder + lam * ctc_part.float()).nan_to_num(nan=-torch.inf)

    continuing = lprobs.clone()
    continuing[..., EOS] = -torch.inf
    cand_lp, cand_tok = continuing.topk(min(opts.candidates, vocab), dim=-1)  # B × k × C
    psi, psi_end = ctc.score(cand_tok.view(b * k, -1))
    joint = mix(decoder_scores[..., None] + cand_lp, psi.view(b, k, -1))
    ended = mix(decoder_scores + lprobs[..., EOS], psi_end.view(b, k))
    ended = ended.masked_fill((ctc.read_fraction() < opts.eos_read_fraction).view(b, k), -torch.inf)
    top_scores, top_flat = joint.view(b, -1).topk(k, dim=-1)
    c = cand_tok.size(-1)
    chosen_psi = psi.view(b, -1).gather(1, top_flat)
    return top_scores, top_flat // c, cand_tok.view(b, -1).gather(1, top_flat), ended, chosen_psi


def max_target_length(src_lengths: Tensor, opts: SearchOptions) -> int:
    return int(opts.max_len_a * int(src_lengths.max()) + opts.max_len_b)
