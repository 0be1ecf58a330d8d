"""Scores: sacreBLEU and chrF on detokenized, cased text, with their signatures; WER for speech."""

from __future__ import annotations

from dataclasses import dataclass

import re
import unicodedata

import jiwer
import sacrebleu

from legonn.errors import LegoError


@dataclass(frozen=True)
class TextScores:
    bleu: float
    chrf: float
    signature: str
    chrf_signature: str


def bleu_chrf(hypotheses: list[str], references: list[str]) -> TextScores:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    b = bleu.corpus_score(hypotheses, [references])
    c = chrf.corpus_score(hypotheses, [references])
    return TextScores(round(b.score, 2), round(c.score, 2), str(bleu.get_signature()), str(chrf.get_signature()))


WER_NORMALISATION = ("lower-cased; punctuation other than in-word apostrophes and hyphens removed; "
                     "whitespace collapsed (legonn.score.normalize_for_wer)")


def normalize_for_wer(text: str) -> str:
    """Lower-case, drop punctuation (keeping in-word ' and -), collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(c).startswith("P") and c not in "'-" else c for c in text)
    text = re.sub(r"(?<!\w)['-]|['-](?!\w)", " ", text)  # quotes and dashes that are not inside a word
    return " ".join(text.split())


def check_references(references: list[str], where: str) -> None:
    """Before decoding: WER needs at least one reference word (LegoError naming `where` otherwise)."""
    if not any(normalize_for_wer(r) for r in references):
        raise LegoError(f"{where}: every transcript is empty, so there is no WER to measure (give the clips as "
                        "AUDIO arguments to transcribe them unscored)")


def wer(hypotheses: list[str], references: list[str]) -> float:
    """Corpus word error rate in percent, after `normalize_for_wer` on both sides (jiwer)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    refs = [normalize_for_wer(r) for r in references]
    hyps = [normalize_for_wer(h) for h in hypotheses]
    words = sum(len(r.split()) for r in refs)
    if words == 0:
        raise ValueError("references have no words")
    errors = sum(jiwer.process_words(r, h).wer * len(r.split()) if r else len(h.split())
                 for r, h in zip(refs, hyps))
    return round(100.0 * errors / words, 2)
