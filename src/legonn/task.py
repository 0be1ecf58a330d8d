"""What a run is about, decided once: the kind of input and the metric that judges it.

Data loading, the trainer, checkpoints and brick cards all carry the same `Task` instead of each
re-deriving "is this speech?" from what they happen to hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from legonn.errors import LegoError

# what the model's input is → the task's input kind
INPUT_OF_READS = {"tokens": "text", "features": "speech"}
INPUTS = ("text", "speech", "marginals")


@dataclass(frozen=True)
class Task:
    """name: the config's `task` label (e.g. 'de-en'); input: 'text', 'speech' or 'marginals' (text read
    as the marginals a perfect upstream encoder would emit: a module for the middle of a chain)."""

    name: str
    input: str

    def __post_init__(self):
        if self.input not in INPUTS:
            raise LegoError(f"task input: expected one of {', '.join(INPUTS)}, got {self.input!r}")

    @classmethod
    def of(cls, name: str, reads: str, marginals: bool = False) -> "Task":
        """reads: what the model's first module reads ('tokens' or 'features'); marginals: the tokens are
        turned into token marginals first."""
        if reads not in INPUT_OF_READS:
            raise LegoError(f"a model must start by reading tokens or features, not {reads!r}")
        return cls(name, "marginals" if marginals else INPUT_OF_READS[reads])

    @property
    def speech(self) -> bool:
        return self.input == "speech"

    @property
    def metric(self) -> str:
        """'wer' (lower is better) for speech, 'bleu' (higher is better) otherwise."""
        return "wer" if self.speech else "bleu"

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "bleu"

    def better(self, value: float, best: float | None) -> bool:
        """Is `value` an improvement on `best` (None: nothing measured yet)?"""
        if best is None:
            return True
        return value > best if self.higher_is_better else value < best

    def score(self, hypotheses: list[str], references: list[str]) -> float:
        from legonn.score import bleu_chrf, wer  # sacrebleu and jiwer load only when scoring

        return wer(hypotheses, references) if self.speech else bleu_chrf(hypotheses, references).bleu

    def to_dict(self) -> dict:
        return {"name": self.name, "input": self.input, "metric": self.metric}

    @classmethod
    def from_dict(cls, values: dict, where: str) -> "Task":
        try:
            return cls(values["name"], values["input"])
        except (KeyError, TypeError) as exc:
            raise LegoError(f"{where}: task entry needs 'name' and 'input' ({exc})") from None
