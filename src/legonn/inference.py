"""Translating with a trained model: batches sentences by length, returns hypotheses and CTC readouts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from legonn.checkpoint import Checkpoint, load_checkpoint
from legonn.data.batching import encode_sources, pad_sources
from legonn.data.features import SpeechFrontEnd
from legonn.errors import LegoError
from legonn.interface import Marginals
from legonn.model import LegoModel, Seq2Seq, build_model
from legonn.nn import MIN_FRAMES
from legonn.search import SearchOptions, beam_search, max_target_length
from legonn.shapes import build_to_fit
from legonn.task import Task
from legonn.vocab import Vocabulary


@dataclass
class Translation:
    source: str
    hypothesis: str
    ctc_readouts: list[str]  # what each interface "says" (CTC greedy), upstream first


@dataclass
class LoadedModel:
    """A model ready to translate, from a training checkpoint or a composed folder of bricks."""

    model: Seq2Seq
    task: Task
    src_vocab: Vocabulary | None  # None: a speech model (see front_end)
    tgt_vocab: Vocabulary
    max_len: int
    checkpoint: Checkpoint | None = None
    front_end: SpeechFrontEnd | None = None
    interface_vocabs: list[Vocabulary] | None = None  # one per interface, upstream first

    def __post_init__(self):
        if self.interface_vocabs is None:
            known = ([v for v in (self.src_vocab, self.tgt_vocab) if v is not None] if self.checkpoint is None
                     else list(self.checkpoint.vocabularies().values()))
            self.interface_vocabs = interface_vocabularies(self.model, known)


def load_model(path: str | Path) -> LoadedModel:
    """A checkpoint file or a composed-bricks folder → model in eval mode; defects name the file."""
    path = Path(path)
    if path.is_dir():
        from legonn.bricks import load_composed

        model, bricks = load_composed(path)
        task = Task.of(path.name, bricks[0].card["reads"]["type"])
        return LoadedModel(model, task, bricks[0].reads, bricks[-1].emits, chain_capacity(model),
                           front_end=bricks[0].front_end, interface_vocabs=[b.emits for b in bricks[:-1]])
    ckpt = load_checkpoint(path)
    try:
        if "composition" in ckpt.extra:  # a fine-tuned composition: its bricks' description, not the model section
            from legonn.bricks import build_chain

            def build():
                return build_chain(ckpt.extra["composition"], ckpt.vocabularies())
        else:
            def build():
                return build_model(ckpt.config.model, ckpt.src_vocab.id if ckpt.src_vocab else None, ckpt.tgt_vocab.id)
        model = build_to_fit(build, {k: tuple(v.shape) for k, v in ckpt.model.items()}, str(path))
        model.load_state_dict(ckpt.model)
    except (RuntimeError, ValueError) as exc:
        raise LegoError(f"{path}: weights do not fit the model in its config ({str(exc).splitlines()[0]})") from None
    front_end = SpeechFrontEnd.from_dict(ckpt.extra["speech"], str(path)) if ckpt.task.speech else None
    max_len = chain_capacity(model) if "composition" in ckpt.extra else longest_source(ckpt.config.model)
    return LoadedModel(model.eval(), ckpt.task, ckpt.src_vocab, ckpt.tgt_vocab, max_len, ckpt, front_end)


def interface_vocabularies(model: nn.Module, known: list[Vocabulary]) -> list[Vocabulary]:
    """The vocabulary each interface of the model speaks (its `interface_vocabs`), found by fingerprint
    among `known`."""
    by_id = {v.id: v for v in known}
    return [by_id[vocab] for vocab in model.interface_vocabs]


def longest_source(cfg) -> int:
    """The longest input a model can read: a LegoNN encoder's OLC emits at most max_positions outputs;
    a baseline has sinusoidal positions only (its limit is memory). data.max_len filters *training* data."""
    if cfg.arch == "lego":
        return olc_capacity(cfg.encoder.olc.max_positions, cfg.encoder.olc.ratio)
    return 4096


def chain_capacity(model: LegoModel) -> int:
    """The longest input a chain of bricks can read: what its first encoder's OLC can emit."""
    olc = model.encoders[0].cfg.olc
    return olc_capacity(olc.max_positions, olc.ratio)


def olc_capacity(max_positions: int, ratio: float) -> int:
    """Longest source whose K = ceil(α·T) still fits the Output Length Controller's positions."""
    return int(max_positions // ratio)


@torch.no_grad()
def decode_sources(model: Seq2Seq, tgt_vocab: Vocabulary, sources: list[np.ndarray], opts: SearchOptions,
                   batch_size: int = 64, precision: str = "fp32", progress=None,
                   interface_vocabs: list[Vocabulary] | None = None) -> list[tuple[str, list[str]]]:
    """Encoded sources (token ids, or T × F speech features) → (hypothesis, CTC readout per interface),
    in input order. Sources are batched by length; each interface is read out in its own vocabulary
    (interface_vocabs; default: the target vocabulary)."""
    model.eval()
    order = np.argsort([len(s) for s in sources], kind="stable")
    results: list = [None] * len(sources)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        src, lengths = pad_sources([sources[i] for i in index])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            enc = model.encode(src, lengths)
            # the output-length bound follows the source on the scale of the encoder's positions
            hyps = beam_search(model.ar, enc, max_target_length(lengths // model.source_stride, opts), opts,
                               joint_interface(enc.interfaces, tgt_vocab) if opts.ctc_weight > 0 else None)
        vocabs = interface_vocabs or [tgt_vocab] * len(enc.interfaces)
        readouts = [[vocab.decode(ids) for ids in m.greedy()] for vocab, m in zip(vocabs, enc.interfaces)]
        for row, i in enumerate(index):
            results[i] = (tgt_vocab.decode(hyps[row]), [r[row] for r in readouts])
        if progress is not None:
            progress.update(len(index))
    return results


def joint_interface(interfaces: list[Marginals], tgt_vocab: Vocabulary) -> Marginals:
    """The interface joint CTC/attention decoding scores: the last one, which must speak the target
    vocabulary (in a chain, upstream interfaces may speak others, e.g. phonemes)."""
    if not interfaces or interfaces[-1].vocab != tgt_vocab.id:
        raise LegoError("--ctc-weight > 0 needs an interface over the target vocabulary: this model's last "
                        "interface " + ("is over another vocabulary" if interfaces else "does not exist (a plain "
                        "baseline has none)") + "; use --ctc-weight 0")
    return interfaces[-1]


def translate(model: nn.Module, src_vocab: Vocabulary, tgt_vocab: Vocabulary, sentences: list[str],
              opts: SearchOptions, max_len: int = 200, batch_size: int = 64, where: str = "<input>",
              precision: str = "fp32", progress=None, interface_vocabs: list[Vocabulary] | None = None
              ) -> list[Translation]:
    """Translate `sentences` (order kept). Interfaces are read out with CTC greedy decoding."""
    if src_vocab is None:
        raise LegoError("this model reads speech, not text: use `legonn transcribe`")
    encoded = encode_sources(sentences, src_vocab, max_len, where)
    out = decode_sources(model, tgt_vocab, encoded, opts, batch_size, precision, progress, interface_vocabs)
    return [Translation(s, hyp, readouts) for s, (hyp, readouts) in zip(sentences, out)]


@dataclass
class Transcripts:
    """Hypotheses (and CTC readouts) for audio files, with the audio and compute time they took."""

    paths: list[Path]
    hypotheses: list[str]
    ctc_readouts: list[list[str]]
    audio_seconds: float
    compute_seconds: float  # reading audio + features + decoding

    @property
    def real_time_factor(self) -> float:
        return self.compute_seconds / max(self.audio_seconds, 1e-9)

    def last(self, n: int) -> "Transcripts":
        """The last `n` clips' transcripts (the timing stays that of the whole call)."""
        start = len(self.paths) - n
        return Transcripts(self.paths[start:], self.hypotheses[start:], self.ctc_readouts[start:],
                           self.audio_seconds, self.compute_seconds)


def transcribe(loaded: LoadedModel, paths: list[Path], opts: SearchOptions, max_seconds: float = 60.0,
               batch_size: int = 16, progress=None) -> Transcripts:
    """Audio files → text with a speech model; audio problems are errors naming the file."""
    from legonn.data.speech import load_audio

    if not loaded.task.speech:
        raise LegoError("this model reads text, not speech: use `legonn translate`")
    start = time.perf_counter()
    features, samples = [], 0
    for path in paths:
        wave = load_audio(path, loaded.front_end.fbank.sample_rate, max_seconds)
        feats = loaded.front_end(wave)
        if len(feats) < MIN_FRAMES:
            raise LegoError(f"{path}: too short to transcribe ({len(wave) / loaded.front_end.fbank.sample_rate:.3f} s)")
        features.append(feats.numpy())
        samples += len(wave)
    out = decode_sources(loaded.model, loaded.tgt_vocab, features, opts, batch_size, progress=progress,
                         interface_vocabs=loaded.interface_vocabs)
    return Transcripts(list(paths), [h for h, _ in out], [r for _, r in out],
                       samples / loaded.front_end.fbank.sample_rate, time.perf_counter() - start)
