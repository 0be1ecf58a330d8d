"""Which arithmetic to train in: bf16 autocast where the CPU does bf16 natively, fp32 elsewhere.

bf16 autocast halves the cost of a training step on CPUs with native bf16 instructions (AVX512-BF16
or AMX), but on CPUs without them PyTorch emulates bf16 and the same step runs 2–3× *slower* than
fp32 (measured on a 2-core Cascade Lake: baseline 562 target tokens/s in bf16, 1,300–1,400 in fp32;
results/bench/train_throughput_fp32_no_native_bf16.json).
`precision: auto`, the default, picks the fast one for the machine the run is on.
"""

from __future__ import annotations

from pathlib import Path

import torch

CHOICES = ("auto", "bf16", "fp32")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_native_bf16() -> bool:
    """True where bf16 matrix products run in hardware rather than emulated."""
    if any(flag in cpu_flags() for flag in NATIVE_BF16_FLAGS):
        return True
    try:  # private helpers; /proc/cpuinfo is the stable source, these cover other platforms
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def resolve_precision(name: str) -> str:
    """'auto' → 'bf16' or 'fp32' for this machine; 'bf16' and 'fp32' are kept as asked."""
    if name == "auto":
        return "bf16" if has_native_bf16() else "fp32"
    return name
