"""Where a result came from: the commit it was made at, the machine, and how long it took.

Every record under results/ carries `commit` and `hardware` from here, so a number in docs/results.md can
be traced to the code and the CPU that produced it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from legonn.datasets import checkout_root
from legonn.precision import cpu_flags

ROOT = checkout_root()  # the repository (an editable install): results, runs and models live here

T = TypeVar("T")

# the widest matrix-math extension decides CPU training speed (bf16 in hardware is 2-5× fp32 AVX2),
# and one model name ("AMD EPYC") covers VMs with and without it
VECTOR_EXTENSIONS = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def git_commit() -> str:
    """The short commit of the checkout, '-dirty' when tracked files outside results/ and docs/ have
    uncommitted changes; 'unknown' without git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        # results/ and docs/ are what scoring writes (a run's first record must not mark its second dirty);
        # models/ stays in: a re-exported brick changes what a composition scores
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results",
                                ":!docs"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except OSError:
        return "unknown"


def hardware() -> str:
    """CPU model, its widest vector extension, core count, and the torch build:
    'AMD EPYC (AVX2), 2 cores, torch 2.13.0+cpu'."""
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    isa = next((name for flag, name in VECTOR_EXTENSIONS if flag in flags), None)
    return f"{model}{f' ({isa})' if isa else ''}, {os.cpu_count()} cores, torch {torch.__version__}"


def best_wall_seconds(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The shortest wall time of `repeats` calls of fn (the least disturbed by whatever else the machine
    was doing), and what the last call returned."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def repo_path(path: Path) -> str:
    """`path` relative to the repository when inside it: results files name no machine's folders."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
