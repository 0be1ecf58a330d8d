"""Shared fixtures: tiny vocabularies and corpora cut from Multi30k in the data root, one thread."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch
import yaml

from clitools import TINY
from legonn.datasets import data_root
from legonn.vocab import Vocabulary

ROOT = Path(__file__).resolve().parents[1]
MULTI30K = data_root() / "multi30k"  # $LEGONN_DATA, else ../shared/data beside the checkout (as in CI)

torch.set_num_threads(1)


def _head(path: Path, n: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [next(f).strip() for _ in range(n)]


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> dict[str, Path]:
    """600 training and 40 validation De–En pairs as plain text files."""
    d = tmp_path_factory.mktemp("corpus")
    out = {}
    for split, n in (("train", 600), ("val", 40)):
        for lang in ("de", "en"):
            p = d / f"{split}.{lang}"
            p.write_text("\n".join(_head(MULTI30K / f"{split}.{lang}.gz", n)) + "\n", encoding="utf-8")
            out[f"{split}.{lang}"] = p
    return out


@pytest.fixture(scope="session")
def tiny_vocabs(tiny_corpus, tmp_path_factory) -> dict[str, Path]:
    """200-unit sentencepiece models for each side, saved to disk."""
    d = tmp_path_factory.mktemp("vocab")
    out = {}
    for lang in ("de", "en"):
        lines = tiny_corpus[f"train.{lang}"].read_text(encoding="utf-8").splitlines()
        v = Vocabulary.train(lines, 200)
        v.save(d / f"{lang}.model")
        out[lang] = d / f"{lang}.model"
    return out


@pytest.fixture
def tiny_config(tiny_corpus, tiny_vocabs, tmp_path) -> Path:
    """A YAML config training a very small LegoNN model for a handful of steps in fp32."""
    cfg = {
        "name": "tiny",
        "out_dir": str(tmp_path / "run"),
        "data": {
            "train_src": str(tiny_corpus["train.de"]), "train_tgt": str(tiny_corpus["train.en"]),
            "valid_src": str(tiny_corpus["val.de"]), "valid_tgt": str(tiny_corpus["val.en"]),
            "src_vocab": str(tiny_vocabs["de"]), "tgt_vocab": str(tiny_vocabs["en"]),
        },
        "model": {"encoder": {**TINY, "layers": 1, "olc": {"layers": 1}},
                  "decoder": {**TINY, "layers": 1, "ar_layers": 1},
                  "baseline": {**TINY, "encoder_layers": 1, "decoder_layers": 1}},
        "train": {"max_tokens": 800, "max_steps": 12, "max_epochs": 2, "precision": "fp32", "log_every": 4,
                  "save_every": 4, "warmup_steps": 5, "threads": 1},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="session")
def tiny_speech(tiny_corpus, tmp_path_factory) -> dict[str, Path]:
    """16 training clips (espeak-ng) and 4 validation clips (flite, an unseen voice) of Multi30k English
    captions, with their manifests."""
    from legonn.data.speech import write_manifest
    from legonn.data.synth import build_corpus, plan_corpus

    d = tmp_path_factory.mktemp("speech")
    english = tiny_corpus["train.en"].read_text(encoding="utf-8").splitlines()
    out = {}
    for split, texts, voices in (("train", english[:16], ("espeak-ng/en-us",)), ("valid", english[16:20], ("flite/slt",))):
        utts = build_corpus(plan_corpus(texts, voices, d / split, split, seed=1))
        write_manifest(d / split / "manifest.tsv", utts)
        out[split] = d / split / "manifest.tsv"
    return out


@pytest.fixture
def tiny_speech_config(tiny_speech, tiny_vocabs, tmp_path) -> Path:
    """A very small speech LegoNN config (SpeechEncoder → WEmb Decoder) for a few fp32 steps."""
    cfg = {
        "name": "tiny-asr", "task": "asr-en", "out_dir": str(tmp_path / "run"),
        "data": {"train_manifest": str(tiny_speech["train"]), "valid_manifest": str(tiny_speech["valid"]),
                 "tgt_vocab": str(tiny_vocabs["en"]), "feature_cache": str(tmp_path / "features")},
        "model": {"encoder": {"frontend": {"kind": "speech", "channels": 8}, **TINY, "layers": 1,
                              "olc": {"ratio": 1.0, "layers": 1}},
                  "decoder": {**TINY, "layers": 1, "ar_layers": 1},
                  "baseline": {"frontend": {"kind": "speech", "channels": 8}, **TINY, "encoder_layers": 1,
                               "decoder_layers": 1}},
        "train": {"max_tokens": 3000, "max_steps": 6, "max_epochs": 10, "precision": "fp32", "log_every": 2,
                  "save_every": 2, "warmup_steps": 5, "threads": 1},
    }
    path = tmp_path / "tiny-asr.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
