"""What a training run reads, loaded once from the config's data section: text pairs, or speech.

Text: line-aligned source/target files and two sentencepiece vocabularies. Speech: TSV manifests
(audio + transcript) featurised through the on-disk feature cache and normalised with CMVN fitted on
the training set; the source is then a T × F array per utterance instead of token ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from legonn.data.batching import EncodedPairs, encode_pairs, encode_sources
from legonn.data.features import FbankConfig, GlobalCMVN, LogMelFbank, SpeechFrontEnd
from legonn.data.speech import FeatureCache, Utterance, read_manifest
from legonn.data.text import read_parallel
from legonn.errors import LegoError
from legonn.nn import MIN_FRAMES
from legonn.task import Task
from legonn.vocab import Vocabulary


@dataclass
class TaskData:
    """Vocabularies, encoded training pairs and the validation set (encoded sources + references)."""

    task: Task
    src_vocab: Vocabulary | None  # None for speech
    tgt_vocab: Vocabulary
    pairs: EncodedPairs
    valid_sources: list[np.ndarray]
    valid_refs: list[str]
    valid_where: str
    front_end: SpeechFrontEnd | None = None

    @property
    def speech(self) -> bool:
        return self.task.speech

    def source_lengths(self) -> list[int]:
        """Per training pair, the source's length: tokens, or feature frames."""
        return [len(s) for s in self.pairs.src]


def _encode_targets(utts: list[Utterance], vocab: Vocabulary, max_len: int, manifest: str) -> list[np.ndarray]:
    return encode_sources([u.text for u in utts], vocab, max_len, manifest, first_line=2, what="transcript")


def _featurise(utts: list[Utterance], cache: FeatureCache, manifest: str, progress: bool) -> list[np.ndarray]:
    feats = []
    for number, u in enumerate(tqdm(utts, desc=f"features {Path(manifest).name}", unit="utt", disable=not progress,
                                    mininterval=2.0), 2):
        f = cache.features(u.path).numpy()
        if len(f) < MIN_FRAMES:
            raise LegoError(f"{manifest}:{number}: {u.path} is too short ({len(f)} frames; the encoder needs "
                            f"{MIN_FRAMES}, i.e. 85 ms)")
        feats.append(f)
    return feats


def load_speech(cfg, task: Task, tgt_vocab: Vocabulary, progress: bool,
                front_end: SpeechFrontEnd | None = None) -> TaskData:
    """front_end: featurise and normalise as a pre-trained speech encoder was trained (else fit CMVN here,
    with as many bins as the model's front end reads)."""
    d = cfg.data
    fbank = front_end.fbank if front_end else FbankConfig(num_bins=cfg.model.frontend.feature_dim)
    cache = FeatureCache(d.feature_cache, LogMelFbank(fbank), d.max_seconds)
    train = read_manifest(d.train_manifest)[: d.train_limit or None]
    valid = read_manifest(d.valid_manifest)
    targets = _encode_targets(train, tgt_vocab, d.max_len, d.train_manifest)
    _encode_targets(valid, tgt_vocab, d.max_len, d.valid_manifest)  # fail now, not after an epoch
    train_feats = _featurise(train, cache, d.train_manifest, progress)
    valid_feats = _featurise(valid, cache, d.valid_manifest, progress)
    if front_end is None:
        front_end = SpeechFrontEnd(cache.fbank.cfg, GlobalCMVN.fit([torch.from_numpy(f) for f in train_feats]))
    mean, std = front_end.cmvn.mean.numpy(), front_end.cmvn.std.numpy()

    def normalise(feats: list[np.ndarray]) -> list[np.ndarray]:
        # float16 halves the memory of a corpus held in RAM; batches are padded into float32
        return [((f - mean) / std).astype(np.float16) for f in feats]

    return TaskData(task, None, tgt_vocab, EncodedPairs(normalise(train_feats), targets), normalise(valid_feats),
                    [u.text for u in valid], d.valid_manifest, front_end)


def load_text(cfg, task: Task, tgt_vocab: Vocabulary) -> TaskData:
    d = cfg.data
    src_vocab = Vocabulary.load(d.src_vocab)
    train = read_parallel(d.train_src, d.train_tgt).head(d.train_limit)
    valid = read_parallel(d.valid_src, d.valid_tgt)
    pairs = encode_pairs(train, src_vocab, tgt_vocab, d.max_len)
    encode_pairs(valid, src_vocab, tgt_vocab, d.max_len)  # fail now, not after an epoch
    sources = encode_sources(valid.src, src_vocab, d.max_len, valid.src_path)
    return TaskData(task, src_vocab, tgt_vocab, pairs, sources, valid.tgt, valid.src_path)


def load_task_data(cfg, task: Task, progress: bool = True, front_end: SpeechFrontEnd | None = None) -> TaskData:
    """Speech or text as `task` says; every defect names its file and line.
    front_end: a pre-trained speech encoder's feature settings and CMVN, used instead of fitting new ones."""
    tgt_vocab = Vocabulary.load(cfg.data.tgt_vocab)
    if task.speech and not cfg.data.train_manifest:
        raise LegoError("config key 'data.train_manifest': the model reads speech but no manifest is given")
    if cfg.data.train_manifest and not task.speech:
        raise LegoError("config key 'model.encoder.frontend': data.train_manifest is speech, so the model's front "
                        f"end must read features (kind: speech), not {task.input}")
    if task.speech:
        return load_speech(cfg, task, tgt_vocab, progress, front_end)
    return load_text(cfg, task, tgt_vocab)
