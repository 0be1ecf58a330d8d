"""Helpers for tests that run the `legonn` command in a subprocess (not a test module itself)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

# the sizes of every tiny module the tests train (each module section states its own)
TINY = {"dim": 32, "heads": 2, "ff_dim": 64, "dropout": 0.1}


def tiny_encoder(ratio: float | str = 2.0, **fields) -> dict:
    """The tiny configs' encoder section, with its OLC ratio (and any other field) set."""
    return {**TINY, "layers": 1, "olc": {"ratio": ratio, "layers": 1}, **fields}


def legonn(*args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run `python -m legonn.cli ARGS` in a fresh process on one thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "legonn.cli", *map(str, args)], input=stdin, capture_output=True,
                          env=env, timeout=180)


def legonn_here(*args) -> subprocess.CompletedProcess:
    """`legonn ARGS` run in this process (click's test runner): the same exit status and stderr as `legonn`,
    without a fresh interpreter and torch import per call. For the many quick bad-input cases; a traceback
    the command raised is put in stderr, where `one_line_error` looks for it."""
    import traceback

    from click.testing import CliRunner

    from legonn.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout.encode(), stderr.encode())


def one_line_error(proc: subprocess.CompletedProcess, *needles) -> str:
    """Assert the process failed with exactly one `error:` line on stderr containing every needle."""
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode != 0, f"expected failure, got 0; stdout={proc.stdout!r}"
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for needle in needles:
        assert str(needle) in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def tiny_yaml(tiny_corpus, tiny_vocabs, out_dir: Path, path: Path, **sections) -> Path:
    """The shape of conftest's tiny_config, with `sections` merged in (module fixtures can't use it)."""
    cfg = {
        "name": "tiny", "out_dir": str(out_dir),
        "data": {"train_src": str(tiny_corpus["train.de"]), "train_tgt": str(tiny_corpus["train.en"]),
                 "valid_src": str(tiny_corpus["val.de"]), "valid_tgt": str(tiny_corpus["val.en"]),
                 "src_vocab": str(tiny_vocabs["de"]), "tgt_vocab": str(tiny_vocabs["en"])},
        "model": {"encoder": {**TINY, "layers": 1, "olc": {"layers": 1}},
                  "decoder": {**TINY, "layers": 1, "ar_layers": 1},
                  "baseline": {**TINY, "encoder_layers": 1, "decoder_layers": 1}},
        "train": {"max_tokens": 800, "max_steps": 1, "max_epochs": 1, "precision": "fp32", "log_every": 1,
                  "save_every": 1, "warmup_steps": 5, "threads": 1},
    }
    for section, values in sections.items():
        cfg[section] = {**cfg.get(section, {}), **values} if isinstance(values, dict) else values
    path.write_text(yaml.safe_dump(cfg))
    return path
