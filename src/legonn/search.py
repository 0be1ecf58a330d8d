"""Batched beam search and greedy decoding over an AutoregressiveDecoder with a key/value cache."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from legonn.modules.decoder import AutoregressiveDecoder, Encoded
from legonn.vocab import BLANK, BOS, EOS


@dataclass(frozen=True)
class SearchOptions:
    """beam_size 1 = greedy; length_penalty α ranks finished hypotheses by score / len^α;
    a hypothesis is cut at max_len_a · source_length + max_len_b tokens."""

    beam_size: int = 5
    length_penalty: float = 1.0
    max_len_a: float = 1.5
    max_len_b: int = 10


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
        lprobs = _forbid_specials(ar.step(last, t, enc.memory, enc.padding_mask, cache).float().log_softmax(-1))
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


@torch.no_grad()
def beam_search(ar: AutoregressiveDecoder, enc: Encoded, max_len: int, opts: SearchOptions) -> list[list[int]]:
    """Beam search for B rows in parallel → best hypothesis per row (ids without bos/eos).

    A finished hypothesis (EOS chosen) is kept when its raw score ranks within the row's top-k
    candidates at that step; a row stops when it holds beam_size finished hypotheses.
    """
    if opts.beam_size == 1:
        return greedy(ar, enc, max_len)
    b, k, device = enc.memory.size(0), opts.beam_size, enc.memory.device
    rows = torch.arange(b, device=device).repeat_interleave(k)
    enc = enc.select(rows)
    cache = ar.new_cache()
    tokens = torch.full((b * k, 1), BOS, dtype=torch.long, device=device)
    scores = torch.full((b, k), -torch.inf, device=device)
    scores[:, 0] = 0.0
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(b)]
    for t in range(max_len):
        lprobs = ar.step(tokens[:, -1:], t, enc.memory, enc.padding_mask, cache).float().log_softmax(-1)
        lprobs = _forbid_specials(lprobs).view(b, k, -1)
        cand = scores.unsqueeze(-1) + lprobs  # B × k × V
        eos_scores = cand[:, :, EOS].clone()
        cand[:, :, EOS] = -torch.inf
        top_scores, top_flat = cand.view(b, -1).topk(k, dim=-1)  # continuing beams
        kth_best = top_scores[:, -1]
        for row in range(b):
            if len(finished[row]) >= k:
                continue
            for beam in range(k):
                s = float(eos_scores[row, beam])
                if s > -torch.inf and (s >= float(kth_best[row]) or t == max_len - 1):
                    hyp = tokens[row * k + beam, 1:].tolist()
                    finished[row].append((s / (len(hyp) + 1) ** opts.length_penalty, hyp))
        if all(len(f) >= k for f in finished) or t == max_len - 1:
            break
        vocab = lprobs.size(-1)
        beam_index = (top_flat // vocab) + torch.arange(b, device=device).unsqueeze(1) * k  # B × k rows into B·k
        next_tokens = top_flat % vocab
        scores = top_scores
        tokens = torch.cat([tokens.index_select(0, beam_index.view(-1)), next_tokens.view(-1, 1)], dim=1)
        ar.reorder_cache(cache, beam_index.view(-1))
    best = []
    for row in range(b):
        if finished[row]:
            best.append(max(finished[row], key=lambda x: x[0])[1])
        else:  # no EOS within max_len: fall back to the best live beam
            best.append(tokens[row * k + int(scores[row].argmax()), 1:].tolist())
    return best


def max_target_length(src_lengths: Tensor, opts: SearchOptions) -> int:
    return int(opts.max_len_a * int(src_lengths.max()) + opts.max_len_b)
