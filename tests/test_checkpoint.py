"""Checkpoints: a faithful round trip, plain safetensors (no pickle), atomic writes."""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
import torch
from safetensors import safe_open

import legonn.checkpoint as checkpoint_module
from legonn.checkpoint import CHECKPOINT_FORMAT, TrainerState, check_vocab, load_checkpoint, save_checkpoint
from legonn.config import DataConfig, ExperimentConfig, TrainConfig
from legonn.errors import LegoError
from legonn.model import ModelConfig, build_model
from legonn.modules import DecoderConfig, EncoderConfig, OLCConfig
from legonn.vocab import Vocabulary

SIZES = dict(dim=32, heads=2, ff_dim=64, dropout=0.1)
TINY = ModelConfig(encoder=EncoderConfig(**SIZES, layers=1, olc=OLCConfig(layers=1)),
                   decoder=DecoderConfig(**SIZES, layers=1, ar_layers=1))


@pytest.fixture
def setup(tiny_vocabs):
    """A tiny model and AdamW after two steps (so the moments are non-trivial), with its config."""
    src_vocab, tgt_vocab = Vocabulary.load(tiny_vocabs["de"]), Vocabulary.load(tiny_vocabs["en"])
    cfg = ExperimentConfig(name="ckpt", data=DataConfig(src_vocab=str(tiny_vocabs["de"]),
                                                        tgt_vocab=str(tiny_vocabs["en"])),
                           model=TINY, train=TrainConfig(precision="fp32", lr=3e-3))
    torch.manual_seed(0)
    model = build_model(TINY, src_vocab.id, tgt_vocab.id)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.98), weight_decay=1e-4)
    for _ in range(2):
        _train_step(model, optimizer, len(src_vocab), len(tgt_vocab))
    state = TrainerState(step=2, epoch=3, batches_done=7, best=1.25, bad_epochs=1, train_seconds=12.5,
                         target_tokens=4321)
    return cfg, state, model, optimizer, src_vocab, tgt_vocab


def _train_step(model, optimizer, src_size: int, tgt_size: int) -> None:
    """One AdamW step on a fixed random batch (dropout draws from the global torch RNG)."""
    g = torch.Generator().manual_seed(7)
    src = torch.randint(4, src_size, (3, 6), generator=g)
    prev = torch.randint(4, tgt_size, (3, 5), generator=g)
    logits, _ = model(src, torch.tensor([6, 5, 4]), prev)
    logits.float().log_softmax(-1).mean().neg().backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _fresh(cfg, src_vocab, tgt_vocab):
    torch.manual_seed(123)  # different initial weights: the load must overwrite them all
    model = build_model(cfg.model, src_vocab.id, tgt_vocab.id)
    return model, torch.optim.AdamW(model.parameters(), lr=1.0)


def _assert_state_dicts_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert torch.equal(a[k], b[k]), k


def _normalized_groups(groups: list[dict]) -> list[dict]:
    """param_groups travel as JSON: tuples come back as lists."""
    return json.loads(json.dumps(groups))


def test_round_trip_restores_weights_optimizer_and_state(setup, tmp_path):
    cfg, state, model, optimizer, src_vocab, tgt_vocab = setup
    path = tmp_path / "ckpt.safetensors"
    rng_before = torch.get_rng_state()
    save_checkpoint(path, cfg, state, model, src_vocab, tgt_vocab, optimizer, extra={"note": "x"})
    assert torch.equal(torch.get_rng_state(), rng_before)  # saving draws no random numbers

    ckpt = load_checkpoint(path)
    assert ckpt.config == cfg
    assert ckpt.state == state
    assert ckpt.extra == {"note": "x"}
    assert ckpt.src_vocab.fingerprint == src_vocab.fingerprint
    assert ckpt.tgt_vocab.fingerprint == tgt_vocab.fingerprint
    assert torch.equal(ckpt.rng, rng_before)

    model2, optimizer2 = _fresh(cfg, src_vocab, tgt_vocab)
    model2.load_state_dict(ckpt.model)
    optimizer2.load_state_dict(ckpt.optimizer)
    _assert_state_dicts_equal(model.state_dict(), model2.state_dict())
    s1, s2 = optimizer.state_dict(), optimizer2.state_dict()
    assert s1["state"].keys() == s2["state"].keys() and len(s1["state"]) > 0
    for pid in s1["state"]:
        _assert_state_dicts_equal(s1["state"][pid], s2["state"][pid])
    assert _normalized_groups(s1["param_groups"]) == _normalized_groups(s2["param_groups"])

    # The restored pair continues exactly like the original.
    for m, o in ((model, optimizer), (model2, optimizer2)):
        torch.set_rng_state(ckpt.rng)
        m.train()
        _train_step(m, o, len(src_vocab), len(tgt_vocab))
    _assert_state_dicts_equal(model.state_dict(), model2.state_dict())


def test_without_optimizer(setup, tmp_path):
    cfg, state, model, _, src_vocab, tgt_vocab = setup
    save_checkpoint(tmp_path / "c.safetensors", cfg, state, model, src_vocab, tgt_vocab)
    ckpt = load_checkpoint(tmp_path / "c.safetensors")
    assert ckpt.optimizer is None
    _assert_state_dicts_equal(model.state_dict(), ckpt.model)


def test_file_is_plain_safetensors_without_pickle(setup, tmp_path, monkeypatch):
    cfg, state, model, optimizer, src_vocab, tgt_vocab = setup
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, cfg, state, model, src_vocab, tgt_vocab, optimizer)
    data = path.read_bytes()

    # safetensors layout: u64 little-endian header size, JSON header, then the raw tensor bytes.
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__")
    assert meta["format"] == CHECKPOINT_FORMAT == "legonn-checkpoint-2"
    assert all(isinstance(v, str) for v in meta.values())
    json.loads(meta["config"]), json.loads(meta["state"])
    ends = sorted(entry["data_offsets"][1] for entry in header.values())
    assert ends[-1] == len(data) - 8 - n  # the body is exactly the tensors
    for name, entry in header.items():
        assert set(entry) == {"dtype", "shape", "data_offsets"}, name
    assert any(k.startswith("model.") for k in header) and any(k.startswith("optim.") for k in header)
    assert not data.startswith(b"PK") and not data.startswith(b"\x80")  # neither torch's zip nor a pickle

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint must load without pickle")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    ckpt = load_checkpoint(path)
    _assert_state_dicts_equal(model.state_dict(), ckpt.model)
    with safe_open(str(path), "pt") as f:  # any safetensors reader can open it
        assert set(f.keys()) == set(header)


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_crash_during_save_keeps_previous_checkpoint(setup, tmp_path, monkeypatch, failure):
    cfg, state, model, optimizer, src_vocab, tgt_vocab = setup
    path = tmp_path / "checkpoint_last.safetensors"
    save_checkpoint(path, cfg, state, model, src_vocab, tgt_vocab, optimizer)
    before = path.read_bytes()

    def crashing_save_file(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(before[: len(before) // 3])  # half-written
        raise failure

    monkeypatch.setattr(checkpoint_module, "save_file", crashing_save_file)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    with pytest.raises(type(failure)):
        save_checkpoint(path, cfg, replace(state, step=99), model, src_vocab, tgt_vocab, optimizer)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind
    assert load_checkpoint(path).state == state


def test_save_removes_temp_files_of_a_killed_save(setup, tmp_path):
    cfg, state, model, optimizer, src_vocab, tgt_vocab = setup
    path = tmp_path / "checkpoint_last.safetensors"
    stale = tmp_path / ".checkpoint_last.safetensors.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / ".checkpoint_best.safetensors.abc123.tmp"  # another file's temp is not ours to touch
    other.write_bytes(b"x")
    save_checkpoint(path, cfg, state, model, src_vocab, tgt_vocab, optimizer)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, other.name])


KILLED_MID_SAVE = textwrap.dedent("""
    import os, signal, sys, torch
    import legonn.checkpoint as c
    from legonn.checkpoint import TrainerState, save_checkpoint
    from legonn.config import ExperimentConfig
    from legonn.vocab import Vocabulary
    path, src, tgt = sys.argv[1:4]
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    v1, v2 = Vocabulary.load(src), Vocabulary.load(tgt)
    save_checkpoint(path, ExperimentConfig(), TrainerState(step=1), model, v1, v2)

    def dying_save_file(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\\0" * 1000)
            f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    c.save_file = dying_save_file
    save_checkpoint(path, ExperimentConfig(), TrainerState(step=2), model, v1, v2)
""")


def test_sigkill_during_save_leaves_previous_checkpoint_loadable(tiny_vocabs, tmp_path):
    path = tmp_path / "checkpoint_last.safetensors"
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(path), str(tiny_vocabs["de"]),
                           str(tiny_vocabs["en"])], capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert load_checkpoint(path).state.step == 1  # the old file is whole; the new one never replaced it


def test_load_errors_name_the_file(setup, tmp_path):
    cfg, state, model, optimizer, src_vocab, tgt_vocab = setup
    with pytest.raises(LegoError, match="nope.safetensors: checkpoint not found"):
        load_checkpoint(tmp_path / "nope.safetensors")

    path = tmp_path / "c.safetensors"
    save_checkpoint(path, cfg, state, model, src_vocab, tgt_vocab, optimizer)
    with safe_open(str(path), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    from safetensors.torch import save_file

    from legonn.checkpoint import content_digest

    def signed(tensors, metadata):  # a file written whole but wrong (as by a buggy writer): its digest fits
        return {**metadata, "sha256": content_digest(tensors, metadata)}

    broken = tmp_path / "broken.safetensors"
    save_file(tensors, str(broken), metadata=signed(tensors, {k: v for k, v in meta.items() if k != "state"}))
    with pytest.raises(LegoError, match=r"broken\.safetensors: damaged checkpoint"):
        load_checkpoint(broken)

    future = tmp_path / "future.safetensors"
    config = json.loads(meta["config"])
    config["model"]["new_knob"] = 1
    save_file(tensors, str(future), metadata=signed(tensors, {**meta, "config": json.dumps(config)}))
    with pytest.raises(LegoError, match=r"future\.safetensors: unknown config key 'model\.new_knob'"):
        load_checkpoint(future)

    no_vocab = tmp_path / "no_vocab.safetensors"
    without_vocab = {k: v for k, v in tensors.items() if k != "vocab.tgt"}
    save_file(without_vocab, str(no_vocab), metadata=signed(without_vocab, meta))
    with pytest.raises(LegoError, match=r"no_vocab\.safetensors: damaged checkpoint"):
        load_checkpoint(no_vocab)


def test_check_vocab_names_both_fingerprints_and_field(tiny_vocabs, tmp_path):
    de, en = Vocabulary.load(tiny_vocabs["de"]), Vocabulary.load(tiny_vocabs["en"])
    check_vocab(en, Vocabulary.load(tiny_vocabs["en"]), "ckpt", "data.tgt_vocab")
    with pytest.raises(LegoError) as info:
        check_vocab(en, de, "run/checkpoint_last.safetensors", "data.tgt_vocab")
    message = str(info.value)
    assert "\n" not in message
    for part in ("run/checkpoint_last.safetensors", "data.tgt_vocab", en.fingerprint[:12], de.fingerprint[:12]):
        assert part in message
