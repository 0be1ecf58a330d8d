"""Multi-process training: torchrun with 2 gloo processes keeps both ranks' weights identical."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from clitools import tiny_yaml
from safetensors import safe_open
from safetensors.torch import load_file

from legonn.checkpoint import load_checkpoint

HERE = Path(__file__).resolve().parent
# 9 batches an epoch → 4 per rank: 6 steps cross an epoch end (rank-0 validation, the stop-flag broadcast).
TRAIN = {"max_tokens": 3000, "max_steps": 6, "max_epochs": 5, "save_every": 100, "log_every": 2, "patience": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args, timeout: int = 150) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-4000:]
    return proc


@pytest.fixture
def config(tiny_corpus, tiny_vocabs, tmp_path) -> Path:
    return tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "tiny.yaml", train=TRAIN)


def test_two_gloo_ranks_hold_identical_weights(config, tmp_path):
    torchrun(HERE / "ddp_worker.py", config, tmp_path / "ranks")
    r0, r1 = tmp_path / "ranks" / "rank0.safetensors", tmp_path / "ranks" / "rank1.safetensors"
    w0, w1 = load_file(str(r0)), load_file(str(r1))
    assert w0.keys() == w1.keys() and any(k.startswith("optim.") for k in w0)
    differing = [k for k in w0 if not torch.equal(w0[k], w1[k])]
    assert not differing, f"ranks differ in {len(differing)} tensors, e.g. {differing[:5]}"
    for path in (r0, r1):
        with safe_open(str(path), "pt") as f:
            meta = f.metadata()
        assert meta["step"] == "6" and meta["world"] == "2" and meta["epoch"] == "2"

    # Rank 0's checkpoint holds the same weights, and the run really trained them.
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors")
    assert ckpt.state.step == 6
    # each rank drew its own dropout masks, and the checkpoint keeps every rank's RNG for an exact resume
    assert sorted(ckpt.rank_rngs) == [0, 1] and not torch.equal(ckpt.rank_rngs[0], ckpt.rank_rngs[1])
    for name, value in ckpt.model.items():
        assert torch.equal(value, w0[f"model.{name}"]), name
    torch.manual_seed(ckpt.config.train.seed)  # the trainer's initial weights
    from legonn.model import build_model

    initial = build_model(ckpt.config.model, ckpt.src_vocab.id, ckpt.tgt_vocab.id).state_dict()
    assert any(not torch.equal(initial[k], ckpt.model[k]) for k in initial)
    assert (tmp_path / "run" / "checkpoint_best.safetensors").is_file()  # rank 0 validated at the epoch end
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        ".lock", "checkpoint_best.safetensors", "checkpoint_last.safetensors", "config.json", "metrics.jsonl"]


def test_cli_train_under_torchrun(config, tmp_path):
    proc = torchrun("-m", "legonn.cli", "train", config, "--quiet", "--set", "train.max_steps=3")
    assert "done: 3 steps" in proc.stdout.decode()
    assert load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors").state.step == 3
