"""Speech features: Kaldi-compatible log-mel filterbanks in torch, global CMVN and SpecAugment.

`LogMelFbank` follows Kaldi's `compute-fbank-feats` (and kaldi-native-fbank, which a test compares
against): 25 ms Povey-windowed frames every 10 ms with `snip_edges`, DC removal, pre-emphasis 0.97,
a 512-point power spectrum and triangular filters on Kaldi's mel scale (1127·ln(1 + f/700)) from
20 Hz to Nyquist. Waveforms are float in [-1, 1]; the scale only shifts log energies, which the
global mean/variance normalisation removes.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from legonn.errors import LegoError
from legonn.io import atomic_write_bytes

LOG_FLOOR = torch.finfo(torch.float32).eps  # Kaldi floors energies at float epsilon before the log


@dataclass(frozen=True)
class FbankConfig:
    """Filterbank settings; every field is recorded in a speech brick's card."""

    sample_rate: int = 16000
    num_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    preemphasis: float = 0.97
    low_freq: float = 20.0
    high_freq: float = 0.0  # 0: Nyquist; negative: that many Hz below Nyquist (Kaldi's convention)

    @property
    def frame_length(self) -> int:
        return int(self.sample_rate * self.frame_length_ms / 1000)

    @property
    def frame_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms / 1000)

    @property
    def fft_size(self) -> int:
        return 1 << (self.frame_length - 1).bit_length()


def kaldi_mel(freq: Tensor) -> Tensor:
    return 1127.0 * torch.log1p(freq / 700.0)


def mel_filters(cfg: FbankConfig) -> Tensor:
    """(fft_size/2 + 1) × num_bins triangular filters; the Nyquist bin gets no weight, as in Kaldi."""
    nyquist = cfg.sample_rate / 2
    high = cfg.high_freq if cfg.high_freq > 0 else nyquist + cfg.high_freq
    if not 0 <= cfg.low_freq < high <= nyquist:
        raise LegoError(f"fbank: need 0 ≤ low_freq < high_freq ≤ {nyquist:g} Hz, got {cfg.low_freq:g}–{high:g}")
    n_fft_bins = cfg.fft_size // 2
    mel = kaldi_mel(torch.arange(n_fft_bins, dtype=torch.float64) * cfg.sample_rate / cfg.fft_size)
    low_mel, high_mel = kaldi_mel(torch.tensor(float(cfg.low_freq), dtype=torch.float64)), kaldi_mel(torch.tensor(high, dtype=torch.float64))
    delta = (high_mel - low_mel) / (cfg.num_bins + 1)
    left = low_mel + delta * torch.arange(cfg.num_bins, dtype=torch.float64)
    center, right = left + delta, left + 2 * delta
    m = mel[:, None]
    rising = (m - left) / (center - left)
    falling = (right - m) / (right - center)
    weights = torch.where(m <= center, rising, falling)
    weights = torch.where((m > left) & (m < right), weights, torch.zeros(()))
    return torch.cat([weights, torch.zeros(1, cfg.num_bins, dtype=torch.float64)]).float()


def povey_window(length: int) -> Tensor:
    n = torch.arange(length, dtype=torch.float64)
    return (0.5 - 0.5 * torch.cos(2 * math.pi * n / (length - 1))).pow(0.85).float()


class LogMelFbank:
    """waveform (N,) float → log-mel features T × num_bins, T = 1 + (N − frame_length) // frame_shift."""

    def __init__(self, cfg: FbankConfig = FbankConfig()):
        self.cfg = cfg
        self.window = povey_window(cfg.frame_length)
        self.filters = mel_filters(cfg)

    def num_frames(self, num_samples: int) -> int:
        c = self.cfg
        return 0 if num_samples < c.frame_length else 1 + (num_samples - c.frame_length) // c.frame_shift

    def __call__(self, waveform: Tensor) -> Tensor:
        c = self.cfg
        if waveform.dim() != 1:
            raise ValueError(f"expected a mono waveform (N,), got shape {tuple(waveform.shape)}")
        if waveform.numel() < c.frame_length:
            return torch.zeros(0, c.num_bins)
        frames = waveform.float().unfold(0, c.frame_length, c.frame_shift)  # T × L
        frames = frames - frames.mean(dim=1, keepdim=True)
        # pre-emphasis, Kaldi style: the first sample is scaled by (1 − coeff)
        frames = torch.cat([frames[:, :1] * (1 - c.preemphasis), frames[:, 1:] - c.preemphasis * frames[:, :-1]], 1)
        spectrum = torch.fft.rfft(frames * self.window, n=c.fft_size).abs().pow(2)  # T × (fft/2 + 1)
        return (spectrum @ self.filters).clamp_min(LOG_FLOOR).log()


@dataclass
class GlobalCMVN:
    """Per-bin mean and standard deviation over a training set, stored as JSON (no pickle)."""

    mean: Tensor  # num_bins
    std: Tensor  # num_bins

    @classmethod
    def fit(cls, features: list[Tensor]) -> GlobalCMVN:
        """features: a list of T_i × F tensors; statistics in float64 over every frame."""
        total = torch.zeros(features[0].size(1), dtype=torch.float64)
        squares, frames = torch.zeros_like(total), 0
        for f in features:
            total += f.double().sum(0)
            squares += f.double().pow(2).sum(0)
            frames += f.size(0)
        mean = total / frames
        std = (squares / frames - mean.pow(2)).clamp_min(1e-10).sqrt()
        return cls(mean.float(), std.float())

    def __call__(self, features: Tensor) -> Tensor:
        return (features - self.mean) / self.std

    def save(self, path: str | Path) -> None:
        data = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        atomic_write_bytes(Path(path), (json.dumps(data) + "\n").encode())

    @classmethod
    def load(cls, path: str | Path) -> GlobalCMVN:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(torch.tensor(data["mean"]), torch.tensor(data["std"]))
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise LegoError(f"{path}: not a CMVN statistics file ({exc})") from None


@dataclass(frozen=True)
class SpecAugmentConfig:
    """Park et al. 2019 masks (no time warping): F/T are the widest masks, in bins and frames."""

    freq_masks: int = 2
    freq_width: int = 27
    time_masks: int = 2
    time_width: int = 40
    max_time_fraction: float = 0.2  # no time mask wider than this share of the utterance


def spec_augment(features: Tensor, lengths: Tensor, cfg: SpecAugmentConfig, generator: torch.Generator | None = None) -> Tensor:
    """features B × T × F (normalised, so masks set 0 = the mean); masks stay inside each row's length."""
    b, t, f = features.shape
    out = features.clone()
    for i in range(b):
        n = int(lengths[i])
        for _ in range(cfg.freq_masks):
            width = int(torch.randint(0, cfg.freq_width + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, f - width + 1), (1,), generator=generator))
            out[i, :n, start : start + width] = 0
        limit = min(cfg.time_width, int(cfg.max_time_fraction * n))
        for _ in range(cfg.time_masks):
            width = int(torch.randint(0, limit + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, n - width + 1), (1,), generator=generator))
            out[i, start : start + width] = 0
    return out


@dataclass
class SpeechFrontEnd:
    """Waveform → normalised features, as a speech model was trained: filterbank settings + CMVN.

    Saved inside checkpoints and speech bricks (as JSON), so audio is always featurised the same way.
    """

    fbank: FbankConfig
    cmvn: GlobalCMVN

    def __post_init__(self):
        self._extract = LogMelFbank(self.fbank)

    def __call__(self, waveform: Tensor) -> Tensor:
        """(N,) float waveform → T × num_bins normalised features."""
        return self.cmvn(self._extract(waveform))

    def to_dict(self) -> dict:
        return {"fbank": asdict(self.fbank), "cmvn": {"mean": self.cmvn.mean.tolist(), "std": self.cmvn.std.tolist()}}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> SpeechFrontEnd:
        try:
            return cls(FbankConfig(**data["fbank"]),
                       GlobalCMVN(torch.tensor(data["cmvn"]["mean"]), torch.tensor(data["cmvn"]["std"])))
        except (KeyError, TypeError) as exc:
            raise LegoError(f"{where}: speech front end is incomplete ({exc})") from None
