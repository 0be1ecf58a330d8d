"""The records under results/: one typed dataclass per kind, written by the recipes and benchmarks and
read back by the results page's generator (recipes/results_table.py) by attribute.

A record is a JSON object. Fields whose value is None are left out of the file unless the field is
required (a composed system's `seed` is required and null: its bricks carry their own seeds). Reading
checks every field against its declared type, so a bad file is one error line naming the file and field
instead of a KeyError deep in a table.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path

from legonn.errors import LegoError
from legonn.io import atomic_write_bytes


class Record:
    """JSON (de)serialisation with type checks for the dataclasses below."""

    @classmethod
    def from_dict(cls, data: dict, source: str = "record"):
        if not isinstance(data, dict):
            raise LegoError(f"{source}: a {cls.__name__} is a JSON object, not {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name, value in data.items():
            if name not in fields:
                raise LegoError(f"{source}: unknown field '{name}' for a {cls.__name__}")
            if not _is_a(value, hints[name]):
                raise LegoError(f"{source}: field '{name}' should be {_type_name(hints[name])}, "
                                f"not {json.dumps(value)[:60]}")
        missing = [n for n, f in fields.items() if _required(f) and n not in data]
        if missing:
            raise LegoError(f"{source}: missing field '{missing[0]}' for a {cls.__name__}")
        record = cls(**data)
        record.check(source)
        return record

    @classmethod
    def from_json(cls, path: Path):
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LegoError(f"{path}: not a readable JSON record ({exc})") from None
        return cls.from_dict(data, str(path))

    def check(self, source: str) -> None:
        """Rules across fields; none by default."""

    def to_dict(self) -> dict:
        """The fields in declaration order; optional ones only when set."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if _required(f) or getattr(self, f.name) is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, path: Path) -> None:
        atomic_write_bytes(Path(path), self.to_json().encode())


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _is_a(value, hint) -> bool:
    """Whether a JSON value fits a type hint made of str/int/float/bool/dict/list[...] and `| None`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_is_a(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:  # JSON writes 1.0 as 1.0, but a hand-edited 1 is still a number
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_is_a(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def _type_name(hint) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


@dataclasses.dataclass(kw_only=True)
class ResultRecord(Record):
    """One system scored on one test set: results/<task>/<system>.json for the task's first (headline) test
    set, <system>.<test set>.json for the others. A translation has bleu/chrf/signature, a speech system
    wer and its normalisation; a trained system has the training fields, a composition of bricks never
    trained together has `bricks` and no training of its own (train_steps 0)."""

    task: str
    system: str
    test_set: str
    # translation (sacreBLEU on detokenized output)
    bleu: float | None = None
    chrf: float | None = None
    signature: str | None = None
    # speech recognition
    wer: float | None = None
    wer_normalisation: str | None = None
    utterances: int | None = None
    audio_seconds: float | None = None
    real_time_factor: float | None = None
    # what the encoder alone says: CTC greedy readout of each interface (None where one has no vocabulary)
    ctc_readout_bleu: list[float | None] | None = None
    ctc_readout_wer: list[float | None] | None = None
    checkpoint: str
    valid_bleu_greedy: float | None = None
    valid_wer_greedy: float | None = None
    selected_on: str | None = None  # train.select_on: interface picked the best checkpoint by a CTC readout
    best_epoch: int | None = None
    training_finished: bool  # stopped by its own rule (epochs, steps, patience), not interrupted or out of time
    params: int
    train_minutes: float | None = None
    train_steps: int
    train_epochs_completed: int | None = None
    tokens_per_s: float | None = None
    median_window_tokens_per_s: float | None = None
    train_threads: int | None = None
    seed: int | None
    precision: str | None = None
    config: str | None = None
    schedule: dict | None = None  # train settings as the run used them (its --set overrides included)
    train_utterances: int | None = None
    train_limit: int | None = None
    bricks: list[dict] | None = None  # the bricks a composition (or a fine-tuned one) started from
    composition_notes: list[str] | None = None
    beam: int
    length_penalty: float
    decoding: dict | None = None  # {beam, length_penalty, ctc_weight} (SearchOptions.describe); older records lack it
    over_twice_reference: int | None = None  # speech: hypotheses more than twice their reference's words (loops)
    decode_seconds: float
    hardware: str
    commit: str

    def check(self, source: str) -> None:
        if (self.bleu is None) == (self.wer is None):
            raise LegoError(f"{source}: field 'bleu' or 'wer': a result has exactly one of them")


@dataclasses.dataclass(kw_only=True)
class SwapRecord(Record):
    """recipes/multi30k/swap.py: two models of one config (two seeds), their decoders swapped."""

    pair: str
    test_set: str
    scores: dict  # enc1+dec1, enc2+dec2, enc1+dec2, enc2+dec1 → {bleu, ctc_readout_bleu}
    mean_trained_bleu: float
    mean_swapped_bleu: float
    bleu_lost: float
    checkpoints: list[str]
    seeds: list[int]
    train_minutes: list[float] | None = None
    epochs: int | None = None
    warmup_steps: int | None = None
    signature: str
    beam: int
    hardware: str
    commit: str


@dataclasses.dataclass(kw_only=True)
class InterfaceStatsRecord(Record):
    """recipes/transfer/interface_stats.py: one row of marginal statistics per encoder."""

    rows: list[dict]
    hardware: str
    commit: str


@dataclasses.dataclass(kw_only=True)
class TrainThroughputRecord(Record):
    """benchmarks/train_throughput.py: target tokens/s of each system, and its cost against the baseline."""

    benchmark: str
    precision: str
    native_bf16: bool | None = None
    threads: int
    allocator: str
    hardware: str
    commit: str
    systems: dict  # name → {params, steps, target_tokens, seconds, tokens_per_s, cost_vs_baseline}


@dataclasses.dataclass(kw_only=True)
class FbankThroughputRecord(Record):
    """benchmarks/fbank_throughput.py: filterbank speed against kaldi-native-fbank."""

    clips: int
    audio_seconds: float
    threads: int
    legonn_audio_s_per_s: float
    kaldi_native_fbank_audio_s_per_s: float
    speed_vs_kaldi_native_fbank: float
    max_abs_difference: float
    hardware: str
    commit: str


@dataclasses.dataclass(kw_only=True)
class TranscribeRtfRecord(Record):
    """benchmarks/transcribe_rtf.py: the real-time factor of `legonn transcribe`."""

    model: str
    clips: int
    manifest: str
    audio_seconds: float
    compute_seconds: float
    real_time_factor: float
    threads: int
    beam: int
    hardware: str
    commit: str


@dataclasses.dataclass(kw_only=True)
class VsHfRecord(Record):
    """benchmarks/vs_hf.py: training and beam search against Hugging Face's MarianMTModel, one run."""

    benchmark: str
    precision: str
    threads: int
    transformers: str
    hardware: str
    commit: str
    settings: dict
    systems: dict  # hf, baseline, lego-wemb → {params, train_tokens_per_s, train_vs_hf, beam_sentences_per_s, beam_vs_hf, …}
    joint_decoding: dict | None = None  # lego-wemb with ctc_weight 0.3: sentences/s and cost against plain beam


@dataclasses.dataclass(kw_only=True)
class CtcCompactRecord(Record):
    """benchmarks/ctc_compact.py: lego-wemb training with CTC on the target labels only vs over all classes."""

    benchmark: str
    config: str
    precision: str
    threads: int
    steps: int
    hardware: str
    commit: str
    ms_per_update: dict  # full, compact → median milliseconds per update
    compact_vs_full: float  # compact's cost per update / full's
    loss: dict  # full, compact → training loss at every update
    max_abs_loss_difference: float
    mean_abs_loss_difference: float


@dataclasses.dataclass(kw_only=True)
class DecodingRecord(Record):
    """recipes/decoding/run.py: one system (composed of bricks, or trained as one model) decoded with the
    decoder alone and jointly with CTC."""

    task: str
    system: str
    bricks: list[str]  # the composed bricks' cards; [] for a system trained as one model (see checkpoint)
    checkpoint: str | None = None  # a system trained as one model: the checkpoint decoded
    metric: str  # bleu (higher is better) or wer
    valid_set: str | None = None  # None: no validation set; the λ was fixed in advance (chosen_on says how)
    valid_grid: dict | None = None  # λ → validation score
    chosen_on: str
    decoding: dict  # {beam, length_penalty, ctc_weight}: the chosen λ
    test: dict  # test set → {decoder_alone, ctc_readout, joint, plain_seconds, joint_seconds, joint_vs_best_alone, …}
    hardware: str
    commit: str


# results/bench/<prefix>*.json → its kind; a results folder's own name → its kind; anything else a ResultRecord
BENCH_KINDS = {"train_throughput": TrainThroughputRecord, "fbank_throughput": FbankThroughputRecord,
               "transcribe_rtf": TranscribeRtfRecord, "vs_hf": VsHfRecord,
               "ctc_compact": CtcCompactRecord}
FILE_KINDS = {"interface-stats.json": InterfaceStatsRecord}
FOLDER_KINDS = {"multi30k-swap": SwapRecord, "decoding": DecodingRecord}


def kind_of(path: Path) -> type[Record]:
    """Which record class a file under results/ holds, from where it lies."""
    path = Path(path)
    if path.parent.name == "bench":
        kind = next((k for prefix, k in BENCH_KINDS.items() if path.name.startswith(prefix)), None)
        if kind is None:
            raise LegoError(f"{path}: no benchmark record kind starts its name ({', '.join(BENCH_KINDS)})")
        return kind
    return FILE_KINDS.get(path.name) or FOLDER_KINDS.get(path.parent.name) or ResultRecord


def read_record(path: Path) -> Record:
    """Any file under results/, as the record class its place names."""
    return kind_of(path).from_json(path)


def load_results(folder: Path, headline_only: bool = False) -> list[ResultRecord]:
    """Every ResultRecord in folder, by file name; headline_only: just the <system>.json files (the task's
    first test set; the recipes write the others as <system>.<test set>.json)."""
    return [ResultRecord.from_json(p) for p in sorted(Path(folder).glob("*.json"))
            if not headline_only or _is_headline(p)]


def headline_test_set(folder: Path) -> str:
    """The test set of a results folder's <system>.json files (its task's first); '' for an empty folder."""
    first = next((p for p in sorted(Path(folder).glob("*.json")) if _is_headline(p)), None)
    return ResultRecord.from_json(first).test_set if first else ""


def _is_headline(path: Path) -> bool:
    return "." not in path.stem
