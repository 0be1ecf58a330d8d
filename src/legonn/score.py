"""Scores: sacreBLEU and chrF on detokenized, cased text, with their signatures."""

from __future__ import annotations

from dataclasses import dataclass

import sacrebleu


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
