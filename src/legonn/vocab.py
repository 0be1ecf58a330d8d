"""Sentencepiece vocabularies with a stable fingerprint and a CTC blank.

Ids: 0 = <blank> (doubles as padding; never produced by the tokenizer), 1 = <unk>, 2 = <s>, 3 = </s>.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Iterable

import sentencepiece as spm

from legonn.errors import LegoError
from legonn.io import atomic_write_bytes
from legonn.interface import VocabId

BLANK, UNK, BOS, EOS = 0, 1, 2, 3
PAD = BLANK


class Vocabulary:
    """A loaded sentencepiece model. `fingerprint` is the SHA-256 of the model bytes."""

    def __init__(self, model_bytes: bytes, source: str = "<bytes>"):
        self.model_bytes = model_bytes
        self.source = source
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(model_bytes)
        except Exception as exc:  # sentencepiece raises bare RuntimeError/OSError
            raise LegoError(f"{source}: not a sentencepiece model ({exc})") from None
        if self.sp.pad_id() != BLANK or self.sp.bos_id() != BOS or self.sp.eos_id() != EOS:
            raise LegoError(f"{source}: sentencepiece model was not trained by `legonn vocab` (special ids differ)")
        self.fingerprint = hashlib.sha256(model_bytes).hexdigest()

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocabulary":
        path = Path(path)
        if not path.is_file():
            raise LegoError(f"{path}: vocabulary file not found")
        return cls(path.read_bytes(), str(path))

    @classmethod
    def train(cls, sentences: Iterable[str], size: int, character_coverage: float = 1.0,
              model_type: str = "unigram") -> "Vocabulary":
        """Train a sentencepiece model on `sentences`; deterministic for the same input.

        model_type 'unigram' learns sub-words; 'word' makes one unit per whitespace-separated symbol
        (phoneme transcripts), with `size` an upper bound.
        """
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            vocab_size=size,
            model_type=model_type,
            hard_vocab_limit=model_type != "word",
            character_coverage=character_coverage,
            pad_id=BLANK, unk_id=UNK, bos_id=BOS, eos_id=EOS,
            pad_piece="<blank>",
            num_threads=1,
            minloglevel=2,
        )
        return cls(model.getvalue(), "<trained>")

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_bytes(Path(path), self.model_bytes)

    @property
    def id(self) -> VocabId:
        return VocabId(self.fingerprint, len(self), BLANK)

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode([i for i in ids if i not in (BLANK, BOS, EOS)])

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.sp.id_to_piece(i) for i in ids]
