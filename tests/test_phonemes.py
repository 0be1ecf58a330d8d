"""Phoneme transcripts from espeak-ng, and a one-unit-per-phoneme vocabulary over them."""

from __future__ import annotations

import pytest

from legonn.data.phonemes import WORD_BOUNDARY, phonemize, phonemize_many
from legonn.vocab import Vocabulary


def test_phonemize_joins_clauses_and_drops_stress():
    out = phonemize("Two dogs, one cat!")
    words = out.split(f" {WORD_BOUNDARY} ")
    assert len(words) == 4 and words[0] == "t u:"  # "two"
    assert not any(c in out for c in "',%=!")
    assert phonemize("A man.") == "a# | m a n"


def test_phoneme_vocabulary_has_one_unit_per_phoneme():
    lines = [phonemize(s) for s in ("A man runs.", "Two dogs play in the snow.", "A girl in a red coat.")]
    vocab = Vocabulary.train(lines, 200, model_type="word")
    symbols = {p for line in lines for p in line.split()}
    assert len(vocab) == len(symbols) + 4  # blank, unk, bos, eos
    ids = vocab.encode(lines[0])
    assert len(ids) == len(lines[0].split()) and vocab.decode(ids) == lines[0]
    with pytest.raises(RuntimeError):
        Vocabulary.train(lines, 5, model_type="unigram")  # sub-word models keep their hard size limit


def test_phonemize_many_keeps_the_order_of_its_sentences():
    texts = ["A man.", "Two dogs, one cat!", "A girl in a red coat."]
    assert phonemize_many(texts, workers=2, progress=False) == [phonemize(t) for t in texts]


def test_phonemize_reads_a_sentence_that_starts_with_a_dash():
    """RO-STS has lines like "- wolf I think ...": passed as an argument, espeak-ng took them for options."""
    assert phonemize("- wolf I think so.") == phonemize("wolf I think so.")
