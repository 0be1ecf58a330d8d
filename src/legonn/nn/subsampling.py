"""4× time subsampling of speech features by two stride-2 convolutions (the usual ASR front end)."""

from __future__ import annotations

from torch import Tensor, nn

MIN_FRAMES = 7  # the shortest input that leaves one frame after both convolutions


def subsampled_lengths(lengths: Tensor) -> Tensor:
    """Frames left after two kernel-3, stride-2 convolutions without padding: T → ⌊(⌊(T−1)/2⌋−1)/2⌋."""
    return (((lengths - 1) // 2) - 1) // 2


class Conv2dSubsampling(nn.Module):
    """features B × T × F → B × T' × D with T' = subsampled_lengths(T) (≈ T/4); needs T ≥ 7."""

    def __init__(self, feature_dim: int, dim: int, channels: int = 256):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2), nn.ReLU(),
        )
        freq = ((feature_dim - 1) // 2 - 1) // 2
        self.proj = nn.Linear(channels * freq, dim)

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = self.conv(features.unsqueeze(1))  # B × C × T' × F'
        b, c, t, f = x.shape
        return self.proj(x.transpose(1, 2).reshape(b, t, c * f)), subsampled_lengths(lengths)
