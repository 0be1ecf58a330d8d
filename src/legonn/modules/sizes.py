"""The transformer sizes every module section states for itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """dim: model width; heads: attention heads; ff_dim: feed-forward width; dropout: everywhere in the module.
    Module configs extend it (their own fields follow these four)."""

    dim: int = 256
    heads: int = 4
    ff_dim: int = 1024
    dropout: float = 0.3
