"""Token-count batching with length bucketing, deterministic per (seed, epoch) so a resumed run
sees exactly the batches it would have seen."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from legonn.errors import LegoError
from legonn.vocab import BOS, EOS, PAD, Vocabulary
from legonn.data.text import ParallelText


@dataclass
class EncodedPairs:
    """Per pair: the source (sentencepiece ids, or T × F speech features) and target ids (no bos/eos)."""

    src: list[np.ndarray]
    tgt: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.src)


def encode_pairs(data: ParallelText, src_vocab: Vocabulary, tgt_vocab: Vocabulary, max_len: int) -> EncodedPairs:
    """Tokenize both sides; a sentence over `max_len` tokens is an error naming its file and line."""
    src, tgt = [], []
    for side, sents, vocab, path, out in (
        ("source", data.src, src_vocab, data.src_path, src),
        ("target", data.tgt, tgt_vocab, data.tgt_path, tgt),
    ):
        for number, sentence in enumerate(sents, 1):
            ids = vocab.encode(sentence)
            if len(ids) > max_len:
                raise LegoError(
                    f"{path}:{number}: {side} sentence has {len(ids)} tokens, over data.max_len={max_len}"
                )
            out.append(np.asarray(ids, dtype=np.int32))
    return EncodedPairs(src, tgt)


def make_batches(pairs: EncodedPairs, max_tokens: int, seed: int, epoch: int, shuffle: bool = True) -> list[np.ndarray]:
    """Index batches whose padded size (rows × longest side + 2) stays within max_tokens.

    Sentences are sorted by length with a little seeded noise (so buckets differ between epochs),
    cut into batches, and the batch order is shuffled with the same seed.
    """
    rng = np.random.default_rng([seed, epoch])
    lengths = np.array([max(len(s), len(t)) + 2 for s, t in zip(pairs.src, pairs.tgt)])
    noise = rng.uniform(0, 1, len(lengths)) if shuffle else np.arange(len(lengths)) / (len(lengths) + 1)
    order = np.lexsort((noise, lengths))
    batches, start = [], 0
    while start < len(order):
        end, longest = start, 0
        while end < len(order) and max(longest, lengths[order[end]]) * (end - start + 1) <= max_tokens:
            longest = max(longest, lengths[order[end]])
            end += 1
        end = max(end, start + 1)  # a single over-long pair still forms its own batch
        batches.append(order[start:end])
        start = end
    if shuffle:
        rng.shuffle(batches)
    return batches


@dataclass
class Batch:
    """src B × T token ids or B × T × F features (0-padded) with lengths; prev (bos + y) and target (y + eos), B × (L+1); ctc_target y B × L."""

    src: Tensor
    src_lengths: Tensor
    prev: Tensor
    target: Tensor
    ctc_target: Tensor
    ctc_lengths: Tensor
    index: np.ndarray

    @property
    def num_target_tokens(self) -> int:
        return int((self.target != PAD).sum())


def _pad(rows: list[np.ndarray], prefix: list[int] = (), suffix: list[int] = ()) -> Tensor:
    width = max(len(r) for r in rows) + len(prefix) + len(suffix)
    out = np.full((len(rows), width), PAD, dtype=np.int64)
    for i, r in enumerate(rows):
        seq = np.concatenate([np.asarray(prefix, dtype=np.int64), r, np.asarray(suffix, dtype=np.int64)])
        out[i, : len(seq)] = seq
    return torch.from_numpy(out)


def collate(pairs: EncodedPairs, index: np.ndarray) -> Batch:
    src = [pairs.src[i] for i in index]
    tgt = [pairs.tgt[i] for i in index]
    src_padded, src_lengths = pad_sources(src)
    return Batch(
        src=src_padded,
        src_lengths=src_lengths,
        prev=_pad(tgt, prefix=[BOS]),
        target=_pad(tgt, suffix=[EOS]),
        ctc_target=_pad(tgt) if max(len(t) for t in tgt) > 0 else torch.zeros(len(tgt), 1, dtype=torch.long),
        ctc_lengths=torch.tensor([len(t) for t in tgt]),
        index=np.asarray(index),
    )


def encode_sources(sentences: list[str], vocab: Vocabulary, max_len: int, where: str, first_line: int = 1,
                   what: str = "sentence") -> list[np.ndarray]:
    """Token ids per text; one over max_len tokens, or with none, is an error naming `where`:line (the
    first text on line `first_line`: 2 in a manifest, under its header)."""
    out = []
    for number, sentence in enumerate(sentences, first_line):
        ids = vocab.encode(sentence)
        if len(ids) > max_len:
            raise LegoError(f"{where}:{number}: {what} has {len(ids)} tokens, over the limit of {max_len}")
        if not ids:
            raise LegoError(f"{where}:{number}: {what} has no tokens")
        out.append(np.asarray(ids, dtype=np.int32))
    return out


def pad_sources(rows: list[np.ndarray]) -> tuple[Tensor, Tensor]:
    """Token ids → B × T int64 (0-padded); speech features T_i × F → B × T × F float32 (0-padded)."""
    lengths = torch.tensor([len(r) for r in rows])
    if rows[0].ndim == 1:
        return _pad(rows), lengths
    out = np.zeros((len(rows), int(lengths.max()), rows[0].shape[1]), dtype=np.float32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return torch.from_numpy(out), lengths
