"""Speech manifests and audio: bad input names the file (and the manifest line); features are cached."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from legonn.data.features import FbankConfig, LogMelFbank
from legonn.data.speech import FeatureCache, Utterance, load_audio, read_manifest, write_manifest
from legonn.errors import LegoError


def tone(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.fixture
def clips(tmp_path) -> dict[str, Path]:
    out = {}
    for name, seconds in (("a", 0.5), ("b", 1.0)):
        out[name] = tmp_path / "audio" / f"{name}.flac"
        out[name].parent.mkdir(exist_ok=True)
        sf.write(out[name], tone(seconds), 16000)
    return out


def test_manifest_written_elsewhere_from_cwd_relative_paths_still_points_at_the_audio(tmp_path, clips, monkeypatch):
    """`legonn data synth -o corpus/x` and re-labelled manifests (prepare_data.py --phonemes) hand over
    paths relative to the current directory; the manifest must store them relative to itself."""
    monkeypatch.chdir(tmp_path)
    write_manifest(tmp_path / "m.tsv", _utterances(clips))
    utts = read_manifest(Path("m.tsv"))  # paths like audio/a.flac
    (tmp_path / "other").mkdir()
    write_manifest(Path("other/relabelled.tsv"), utts)
    back = read_manifest(Path("other/relabelled.tsv"))
    assert [u.path.resolve() for u in back] == [clips["a"].resolve(), clips["b"].resolve()]


def _utterances(clips: dict) -> list[Utterance]:
    return [Utterance("a", clips["a"], 8000, "a dog runs .", "espeak-ng/en-us"),
            Utterance("b", clips["b"], 16000, "two men", "flite/slt")]


def test_manifest_round_trip_with_relative_paths(tmp_path, clips):
    utts = _utterances(clips)
    write_manifest(tmp_path / "m.tsv", utts)
    assert "audio/a.flac" in (tmp_path / "m.tsv").read_text()
    assert read_manifest(tmp_path / "m.tsv") == utts


@pytest.mark.parametrize("body,needle", [
    ("id\tpath\tsamples\ttext\tvoice\na\taudio/missing.flac\t10\thi\tv\n", "m.tsv:2: audio file"),
    ("id\tpath\tsamples\ttext\tvoice\na\taudio/a.flac\tten\thi\tv\n", "m.tsv:2: samples"),
    ("id\tpath\tsamples\ttext\tvoice\na\taudio/a.flac\t10\thi\n", "m.tsv:2: expected 5"),
    ("id\tpath\tsamples\ttext\tvoice\na\taudio/a.flac\t10\thi\tv\na\taudio/a.flac\t10\thi\tv\n", "m.tsv:3: utterance id"),
    ("path\tid\n", "m.tsv:1: manifest header"),
])
def test_manifest_errors_name_the_line(tmp_path, clips, body, needle):
    (tmp_path / "m.tsv").write_text(body)
    with pytest.raises(LegoError, match=needle):
        read_manifest(tmp_path / "m.tsv")


def test_load_audio_mono_float(tmp_path, clips):
    wave = load_audio(clips["b"])
    assert wave.dtype == torch.float32 and wave.shape == (16000,) and wave.abs().max() <= 1
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([tone(0.1), -tone(0.1)], 1), 16000)
    assert load_audio(stereo).abs().max() < 1e-4  # mixed down: the channels cancel (to 16-bit rounding)


def test_bad_audio_names_the_file(tmp_path, clips):
    sf.write(tmp_path / "8k.wav", tone(0.2, 8000), 8000)
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    (tmp_path / "corrupt.flac").write_bytes(b"fLaC" + os.urandom(200))
    cases = {"missing.flac": "audio file not found", "8k.wav": "sample rate 8000", "empty.wav": "audio file is empty",
             "corrupt.flac": "not a readable audio file"}
    for name, needle in cases.items():
        with pytest.raises(LegoError, match=f"{name}: {needle}"):
            load_audio(tmp_path / name)
    with pytest.raises(LegoError, match="b.flac: 1.0 s long, over the limit of 0.5 s"):
        load_audio(clips["b"], max_seconds=0.5)


def test_feature_cache_computes_once_then_reads(tmp_path, clips, monkeypatch):
    fbank = LogMelFbank()
    cache = FeatureCache(tmp_path / "cache", fbank)
    loads = []
    real_load = load_audio
    monkeypatch.setattr("legonn.data.speech.load_audio", lambda *a: loads.append(a) or real_load(*a))
    first = cache.features(clips["a"])
    assert torch.equal(first, fbank(real_load(clips["a"]))) and len(loads) == 1
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 1
    assert torch.equal(cache.features(clips["a"]), first) and len(loads) == 1  # read, not recomputed
    sf.write(clips["a"], tone(0.7), 16000)  # a changed file is a new key
    assert cache.features(clips["a"]).shape[0] == fbank.num_frames(int(0.7 * 16000)) and len(loads) == 2
    other = FeatureCache(tmp_path / "cache", LogMelFbank(FbankConfig(num_bins=40)))  # other settings, other key
    assert other.features(clips["a"]).shape[1] == 40 and len(loads) == 3
