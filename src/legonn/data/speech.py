"""Speech manifests, audio loading with errors that name the file, and a feature cache.

A manifest is a TSV with a header line `id  path  samples  text  voice`; `path` is relative to the
manifest's folder (or absolute). Audio is 16 kHz; multi-channel audio is mixed down to mono.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from legonn.data.features import LogMelFbank
from legonn.datasets import not_found
from legonn.errors import LegoError
from legonn.io import atomic_write
from legonn.io import atomic_write_bytes

MANIFEST_COLUMNS = ("id", "path", "samples", "text", "voice")


@dataclass(frozen=True)
class Utterance:
    id: str
    path: Path  # usable from the current directory (read_manifest joins the manifest's folder)
    samples: int
    text: str
    voice: str


def read_manifest(path: str | Path, check_files: bool = True) -> list[Utterance]:
    """Parse a manifest; a malformed line, or one whose audio is missing, is an error naming path:line."""
    path = Path(path)
    if path.is_dir():
        raise LegoError(f"{path}: is a folder; name its manifest .tsv file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LegoError(not_found(path, "manifest")) from None
    except UnicodeDecodeError as exc:
        raise LegoError(f"{path}: not UTF-8 ({exc.reason})") from None
    if not lines or tuple(lines[0].split("\t")) != MANIFEST_COLUMNS:
        raise LegoError(f"{path}:1: manifest header must be {' '.join(MANIFEST_COLUMNS)} (tab-separated)")
    out, seen = [], set()
    for number, line in enumerate(lines[1:], 2):
        fields = line.split("\t")
        if len(fields) != len(MANIFEST_COLUMNS):
            raise LegoError(f"{path}:{number}: expected {len(MANIFEST_COLUMNS)} tab-separated fields, got {len(fields)}")
        uid, audio, samples, text, voice = fields
        if not samples.isdigit():
            raise LegoError(f"{path}:{number}: samples must be a whole number, got {samples!r}")
        if uid in seen:
            raise LegoError(f"{path}:{number}: utterance id {uid!r} appears twice")
        seen.add(uid)
        audio_path = (path.parent / audio) if not os.path.isabs(audio) else Path(audio)
        if check_files and not audio_path.is_file():
            raise LegoError(f"{path}:{number}: audio file {audio_path} not found")
        out.append(Utterance(uid, audio_path, int(samples), text, voice))
    return out


def write_manifest(path: str | Path, utterances: list[Utterance]) -> None:
    """Write atomically; each `Utterance.path` (absolute, or relative to the current directory, as
    `read_manifest` returns them) is stored relative to the manifest's folder, where readers resolve it."""
    path = Path(path)
    rows = ["\t".join(MANIFEST_COLUMNS)]
    for u in utterances:
        audio = os.path.relpath(Path(u.path).absolute(), path.parent.absolute())
        if "\t" in u.text or "\n" in u.text:
            raise LegoError(f"utterance {u.id}: text contains a tab or newline")
        rows.append("\t".join((u.id, audio, str(u.samples), u.text, u.voice)))
    atomic_write_bytes(path, ("\n".join(rows) + "\n").encode())


def load_audio(path: str | Path, sample_rate: int = 16000, max_seconds: float = 60.0) -> Tensor:
    """→ mono float32 waveform (N,) in [-1, 1]. Missing, unreadable, empty, wrong-rate or over-long
    audio is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise LegoError(f"{path}: audio file not found")
    try:
        wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise LegoError(f"{path}: not a readable audio file ({str(exc).splitlines()[0]})") from None
    if rate != sample_rate:
        raise LegoError(f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz (resample it first, e.g. "
                        f"`sox in -r {sample_rate} out.flac`)")
    if wave.shape[0] == 0:
        raise LegoError(f"{path}: audio file is empty")
    if wave.shape[0] > max_seconds * sample_rate:
        raise LegoError(f"{path}: {wave.shape[0] / sample_rate:.1f} s long, over the limit of {max_seconds:g} s")
    if not np.isfinite(wave).all():  # a float WAV can hold them; they would poison features and weights
        raise LegoError(f"{path}: audio holds NaN or infinite samples")
    return torch.from_numpy(wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0])


class FeatureCache:
    """Log-mel features on disk, one .npy per audio file, keyed by the file (path, size, mtime) and the
    filterbank settings, so epochs after the first read instead of recompute. No pickle: arrays are
    saved and loaded with allow_pickle=False."""

    def __init__(self, folder: str | Path, fbank: LogMelFbank, max_seconds: float = 60.0):
        self.folder = Path(folder)
        self.fbank = fbank
        self.max_seconds = max_seconds
        self._settings = json.dumps(asdict(fbank.cfg), sort_keys=True)

    def key(self, audio: Path) -> str:
        stat = audio.stat()
        ident = f"{audio.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{self._settings}"
        return hashlib.sha1(ident.encode()).hexdigest()

    def features(self, audio: str | Path) -> Tensor:
        """T × num_bins float32 features of one file (computed once, then read from the cache)."""
        audio = Path(audio)
        if not audio.is_file():
            raise LegoError(f"{audio}: audio file not found")
        key = self.key(audio)
        path = self.folder / key[:2] / f"{key}.npy"
        if path.is_file():
            try:
                return torch.from_numpy(np.load(path, allow_pickle=False))
            except (ValueError, OSError):
                pass  # a damaged cache entry is recomputed
        feats = self.fbank(load_audio(audio, self.fbank.cfg.sample_rate, self.max_seconds))
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would add .npy to a bare name
                np.save(f, feats.numpy(), allow_pickle=False)

        atomic_write(path, write, durable=False)  # a cache: rebuilt if lost
        return feats
