"""Speech features: log-mel filterbanks equal kaldi-native-fbank's on real Common Voice clips; CMVN and
SpecAugment behave as documented."""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest
import soundfile as sf
import torch

from legonn.data.features import FbankConfig, GlobalCMVN, LogMelFbank, SpecAugmentConfig, mel_filters, spec_augment
from legonn.datasets import data_root
from legonn.errors import LegoError

CLIPS = sorted((data_root() / "commonvoice_en_sample100" / "flac").glob("*.flac"))[:3]


def kaldi_native(wave: np.ndarray, num_bins: int = 80) -> np.ndarray:
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = num_bins
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(16000, wave.tolist())
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


def real_or_synthetic_waves() -> list[np.ndarray]:
    """Real clips when the data root has them; a chirp with noise always."""
    t = np.arange(24000) / 16000
    rng = np.random.default_rng(0)
    chirp = (0.3 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    return [chirp] + [sf.read(p, dtype="float32")[0] for p in CLIPS]


@pytest.mark.parametrize("num_bins", [80, 40])
def test_fbank_matches_kaldi_native_fbank(num_bins):
    fbank = LogMelFbank(FbankConfig(num_bins=num_bins))
    for wave in real_or_synthetic_waves():
        ours = fbank(torch.from_numpy(wave)).numpy()
        ref = kaldi_native(wave, num_bins)
        assert ours.shape == ref.shape == (fbank.num_frames(wave.size), num_bins)
        assert np.abs(ours - ref).max() < 2e-3  # float32 FFTs differ in the last bits; log energies are ~−20…15


def test_frame_count_and_too_short_input():
    fbank = LogMelFbank()
    assert [fbank.num_frames(n) for n in (399, 400, 559, 560)] == [0, 1, 1, 2]
    assert fbank(torch.zeros(399)).shape == (0, 80)
    assert fbank(torch.zeros(560)).shape == (2, 80)
    with pytest.raises(ValueError, match="mono"):
        fbank(torch.zeros(2, 800))


def test_mel_filters_are_triangles_over_the_band():
    filters = mel_filters(FbankConfig())
    assert filters.shape == (257, 80)
    assert (filters >= 0).all() and filters.max() <= 1 and filters[-1].abs().sum() == 0  # Nyquist bin unused
    assert (filters.sum(0) > 0).all()  # every bin sees at least one FFT bin
    with pytest.raises(LegoError, match="low_freq"):
        mel_filters(FbankConfig(low_freq=9000))


def test_cmvn_normalises_and_round_trips_through_json(tmp_path):
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(50 + 10 * i, 4, generator=g) * 3 + 7 for i in range(5)]
    cmvn = GlobalCMVN.fit(feats)
    normed = torch.cat([cmvn(f) for f in feats])
    assert torch.allclose(normed.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(normed.std(0, unbiased=False), torch.ones(4), atol=1e-4)
    cmvn.save(tmp_path / "cmvn.json")
    again = GlobalCMVN.load(tmp_path / "cmvn.json")
    assert torch.equal(again.mean, cmvn.mean) and torch.equal(again.std, cmvn.std)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(LegoError, match="bad.json"):
        GlobalCMVN.load(tmp_path / "bad.json")


def test_spec_augment_masks_stay_inside_each_row():
    feats = torch.ones(3, 100, 80)
    lengths = torch.tensor([100, 60, 30])
    cfg = SpecAugmentConfig()
    out = spec_augment(feats, lengths, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(feats, torch.ones(3, 100, 80))  # input untouched
    assert (out[1, 60:] == 1).all() and (out[2, 30:] == 1).all()  # padding is not masked
    masked_bins = (out[0] == 0).all(0).sum()
    assert 0 < masked_bins <= cfg.freq_masks * cfg.freq_width
    masked_frames = (out[2, :30] == 0).all(1).sum()
    assert masked_frames <= cfg.time_masks * int(cfg.max_time_fraction * 30)
    again = spec_augment(feats, lengths, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
