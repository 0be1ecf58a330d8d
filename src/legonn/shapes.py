"""A module's config checked against the tensor shapes its weights file holds, before memory is spent.

A card or checkpoint whose config says `dim: 2000000` would otherwise allocate tens of GB while building
the module, only to fail on loading the weights. The module is first built on PyTorch's meta device
(shapes, no storage) and compared, name by name, with the shapes in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from torch import nn

from legonn.errors import LegoError


def header_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape in a safetensors file, read from its header alone."""
    with safe_open(str(path), "pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


def build_to_fit(build: Callable[[], nn.Module], shapes: dict[str, tuple[int, ...]], where: str) -> nn.Module:
    """`build()`, once its meta-device twin's parameters and buffers match `shapes` (name → shape, e.g. from
    `header_shapes`); a mismatch or a tensor the weights lack is a LegoError naming `where` and the tensor."""
    with torch.device("meta"):
        skeleton = build()
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    for name, shape in expected.items():
        if name not in shapes:
            raise LegoError(f"{where}: the config builds {name} {list(shape)}, which the weights do not hold")
        if shapes[name] != shape:
            raise LegoError(f"{where}: the config makes {name} {list(shape)}, the weights hold {list(shapes[name])}")
    return build()
