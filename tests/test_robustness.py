"""Hostile and careless input (issue #33): each case is made on the fly in a temp dir and must end with a
non-zero exit, one `error:` line naming the file or field, and no output or temp file left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clitools import legonn, legonn_here, one_line_error, tiny_yaml

from legonn.bricks import COMPOSITION_FILE


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    return proc.stdout.decode()


def leftovers(folder: Path) -> list[str]:
    """Temp files of an atomic write (ours: .NAME.*.tmp) anywhere under folder."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.tmp"))


@pytest.fixture(scope="module")
def bricks(tiny_corpus, tiny_vocabs, tmp_path_factory) -> dict:
    """Two bricks exported from a 2-step tiny run, and a composition of them."""
    d = tmp_path_factory.mktemp("robust")
    config = tiny_yaml(tiny_corpus, tiny_vocabs, d / "run", d / "tiny.yaml",
                       train={"max_steps": 2, "max_epochs": 1, "save_every": 2})
    ok(legonn("train", config, "--quiet"))
    for which in ("encoder", "decoder"):
        ok(legonn("export", d / "run" / "checkpoint_last.safetensors", "--module", which, "-o", d / "bricks"))
    ok(legonn("compose", d / "bricks" / "de-en.encoder.json", d / "bricks" / "de-en.decoder.json",
              "-o", d / "composed"))
    return {"dir": d, "bricks": d / "bricks", "composed": d / "composed", "config": config}


def edited_card(bricks: dict, tmp_path: Path, which: str, edit) -> Path:
    """A copy of the bricks whose `which` card was changed by `edit(card)`; returns the edited card."""
    folder = shutil.copytree(bricks["bricks"], tmp_path / "b")
    card_path = folder / f"de-en.{which}.json"
    card = json.loads(card_path.read_text())
    edit(card)
    card_path.write_text(json.dumps(card))
    return card_path


def set_field(path: str, value):
    def edit(card):
        *parents, last = path.split(".")
        node = card
        for key in parents:
            node = node[key]
        node[last] = value
    return edit


# --- 1. a brick names only files in its own folder ------------------------------------------------

ESCAPES = ["../payload.safetensors", "/etc/passwd", "sub/de-en.encoder.safetensors", "..", "", 5]


@pytest.mark.parametrize("value", ESCAPES)
@pytest.mark.parametrize("field", ["weights.file", "emits.vocab.file", "reads.vocab.file"])
def test_a_card_naming_a_file_outside_its_folder_is_refused_before_any_file_is_opened(bricks, tmp_path, field,
                                                                                        value):
    card = edited_card(bricks, tmp_path, "encoder", set_field(field, value))
    (tmp_path / "payload.safetensors").write_bytes(b"not weights")  # what '../payload' would reach
    out = tmp_path / "out"
    proc = legonn_here("compose", card, tmp_path / "b" / "de-en.decoder.json", "-o", out)
    one_line_error(proc, card, field, "same folder")
    assert not out.exists()  # nothing written, inside -o or beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "payload.safetensors"]


@pytest.mark.parametrize("value", [5, "abc", "F" * 64, None])
def test_a_card_whose_hash_is_not_a_sha256_is_refused(bricks, tmp_path, value):
    card = edited_card(bricks, tmp_path, "decoder", set_field("weights.sha256", value))
    proc = legonn_here("compose", tmp_path / "b" / "de-en.encoder.json", card, "-o", tmp_path / "out")
    one_line_error(proc, card, "weights.sha256")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("modules", [["../b/de-en.encoder.json", "de-en.decoder.json"],
                                     ["/etc/passwd", "de-en.decoder.json"], [], "de-en.encoder.json", [3]])
def test_a_composition_naming_a_card_outside_its_folder_is_refused(bricks, tmp_path, modules):
    folder = shutil.copytree(bricks["composed"], tmp_path / "c")
    order = json.loads((folder / COMPOSITION_FILE).read_text())
    (folder / COMPOSITION_FILE).write_text(json.dumps({**order, "modules": modules}))
    src = tmp_path / "in.de"
    src.write_text("ein satz\n")
    one_line_error(legonn_here("translate", "-m", folder, "--input", src), folder / COMPOSITION_FILE, "modules")


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"[" * 100_000])
def test_a_composition_file_that_is_not_json_text_is_one_line(bricks, tmp_path, content):
    folder = shutil.copytree(bricks["composed"], tmp_path / "c")
    (folder / COMPOSITION_FILE).write_bytes(content)
    src = tmp_path / "in.de"
    src.write_text("ein satz\n")
    one_line_error(legonn_here("translate", "-m", folder, "--input", src), folder / COMPOSITION_FILE)


# --- 2. one run per directory ------------------------------------------------------------------------

def test_a_second_run_on_a_busy_out_dir_fails_at_once_naming_the_directory_and_the_holder(bricks, tmp_path):
    config = tiny_yaml_copy(bricks, tmp_path, max_steps=100_000, max_epochs=1000)
    first = subprocess.Popen([sys.executable, "-m", "legonn.cli", "train", config, "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lock = tmp_path / "run" / ".lock"
        deadline = time.time() + 120
        while not (lock.is_file() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None and time.time() < deadline, first.stderr.read().decode()
            time.sleep(0.2)
        second = legonn("train", config, "--quiet")
        one_line_error(second, tmp_path / "run", f"pid {first.pid}")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the OS dropped the killed run's lock: the directory takes a run again, with nothing cleaned up by hand
    ok(legonn("train", config, "--quiet", "--set", "train.max_steps=1"))


def tiny_yaml_copy(bricks: dict, tmp_path: Path, **train) -> Path:
    """The fixture's tiny config with its own out_dir (tmp_path/run) and these train settings."""
    import yaml

    cfg = yaml.safe_load(bricks["config"].read_text())
    cfg["out_dir"] = str(tmp_path / "run")
    cfg["train"].update(train)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


# --- 4. outputs are atomic and never replace what is not a regular file -------------------------------

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_output_that_is_a_device_is_not_replaced(bricks, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein satz\n")
    proc = legonn_here("eval", "-m", bricks["composed"], "--src", src, "--ref", src, "--hyp-out", "/dev/full")
    one_line_error(proc, "/dev/full", "not a regular file")
    assert Path("/dev/full").is_char_device()


def test_an_output_that_is_a_symlink_is_not_replaced(bricks, tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep me\n")
    link = tmp_path / "hyp.txt"
    link.symlink_to(target)
    src = tmp_path / "in.de"
    src.write_text("ein satz\n")
    proc = legonn_here("eval", "-m", bricks["composed"], "--src", src, "--ref", src, "--hyp-out", link)
    one_line_error(proc, link, "not a regular file")
    assert link.is_symlink() and target.read_text() == "keep me\n"
    assert leftovers(tmp_path) == []


def test_compose_writes_every_file_atomically(bricks, tmp_path):
    out = tmp_path / "out"
    ok(legonn("compose", bricks["bricks"] / "de-en.encoder.json", bricks["bricks"] / "de-en.decoder.json",
              "-o", out))
    assert leftovers(out) == [] and (out / COMPOSITION_FILE).is_file()
    # composing again over the same folder replaces each file in one rename (no temp left, same bytes)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    ok(legonn("compose", bricks["bricks"] / "de-en.encoder.json", bricks["bricks"] / "de-en.decoder.json",
              "-o", out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_outputs_of_the_wrong_kind_are_refused_before_any_work(bricks, tmp_path, tiny_corpus):
    """A folder where a file goes, a file where a folder goes, a file where a parent folder goes."""
    a_file, a_folder = tmp_path / "a-file", tmp_path / "a-folder"
    a_file.write_text("x\n")
    a_folder.mkdir()
    enc, dec = bricks["bricks"] / "de-en.encoder.json", bricks["bricks"] / "de-en.decoder.json"
    src = tmp_path / "in.de"
    src.write_text("ein satz\n")
    ckpt = bricks["dir"] / "run" / "checkpoint_last.safetensors"
    cases = [
        (("compose", enc, dec, "-o", a_file), a_file, "not a folder"),
        (("export", ckpt, "--module", "encoder", "-o", a_file), a_file, "not a folder"),
        (("eval", "-m", bricks["composed"], "--src", src, "--ref", src, "--hyp-out", a_folder), a_folder,
         "not a regular file"),
        (("eval", "-m", bricks["composed"], "--src", src, "--ref", src, "--json-out", a_file / "x.json"), a_file,
         "not a folder"),
        (("vocab", tiny_corpus["train.en"], "-o", a_folder), a_folder, "not a regular file"),
        (("train", bricks["config"], "--quiet", "--set", f"out_dir={a_file}"), a_file, "not a folder"),
    ]
    for args, named, why in cases:
        one_line_error(legonn_here(*args), named, why)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder", "in.de"]
    assert a_file.read_text() == "x\n" and list(a_folder.iterdir()) == []


# --- 6. nonsense values -------------------------------------------------------------------------------

NONSENSE = [("train.lr", ".inf", "finite"), ("train.lr", ".nan", "finite"), ("train.clip_norm", ".nan", "finite"),
            ("model.encoder.olc.ratio", ".nan", "finite"), ("train.max_epochs", "-3", "positive"),
            ("train.warmup_steps", "-5", "0 or more"), ("train.threads", "-2", "0 or more"),
            ("model.decoder.ar_layers", "0", "positive"), ("model.baseline.decoder_layers", "0", "positive"),
            ("train.label_smoothing", "1.5", "[0, 1)"), ("model.encoder.dim", "-4", "positive")]


@pytest.mark.parametrize("key,value,why", NONSENSE)
def test_a_nonsense_value_is_refused_naming_the_field(bricks, tmp_path, key, value, why):
    config = tiny_yaml_copy(bricks, tmp_path)
    one_line_error(legonn_here("train", config, "--quiet", "--set", f"{key}={value}"), key, why)
    assert not (tmp_path / "run").exists()


def test_a_non_finite_gradient_stops_the_run_and_keeps_the_last_good_checkpoint(bricks, tmp_path, monkeypatch):
    """Update 5 of a run that saves every 2 goes NaN: the run stops with one line, and checkpoint_last is
    update 4's, with finite weights."""
    import torch

    import legonn.train as train_module
    from legonn.assemble import build_run
    from legonn.checkpoint import load_checkpoint
    from legonn.config import load_config
    from legonn.errors import LegoError

    config = tiny_yaml_copy(bricks, tmp_path, max_steps=10, save_every=2, log_every=1)
    trainer = train_module.Trainer(build_run(load_config(config), progress=False), progress=False)
    real_loss = train_module.lego_loss

    def poisoned(*args, **kw):
        parts = real_loss(*args, **kw)
        if trainer.state.step == 4:
            parts.total = parts.total * float("nan")
        return parts

    monkeypatch.setattr(train_module, "lego_loss", poisoned)
    with pytest.raises(train_module.NonFiniteLoss, match="update 5: .*not finite") as caught:
        trainer.run()
    assert isinstance(caught.value, LegoError) and "\n" not in str(caught.value)
    last = load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors")
    assert last.state.step == 4
    assert all(torch.isfinite(v).all() for v in last.model.values())
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())  # never applied


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_audio_with_non_finite_samples_is_an_error_naming_the_file(tmp_path, bad):
    import numpy as np
    import soundfile as sf

    from legonn.data.speech import load_audio
    from legonn.errors import LegoError

    wave = np.zeros(1600, dtype=np.float32)
    wave[100] = bad
    path = tmp_path / "clip.wav"
    sf.write(str(path), wave, 16000, subtype="FLOAT")
    with pytest.raises(LegoError, match=f"{path}: audio holds NaN or infinite samples"):
        load_audio(path)


# --- 5. metrics.jsonl survives kills and fresh starts ---------------------------------------------------

def _logged_steps(out: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()
            if "loss" in json.loads(line)]


def test_a_torn_log_line_is_dropped_on_resume(bricks, tmp_path):
    config = tiny_yaml_copy(bricks, tmp_path, max_steps=4, save_every=2, log_every=1)
    ok(legonn("train", config, "--quiet", "--set", "train.max_steps=2"))
    log = tmp_path / "run" / "metrics.jsonl"
    with open(log, "a") as f:
        f.write('{"step": 3, "loss": 1.2')  # a kill in the middle of a write
    ok(legonn("train", config, "--quiet"))
    steps = _logged_steps(tmp_path / "run")
    assert steps == sorted(set(steps)) and steps[-1] == 4  # each step once, the torn line gone


def test_a_run_killed_before_its_first_checkpoint_logs_each_step_once(bricks, tmp_path):
    config = tiny_yaml_copy(bricks, tmp_path, max_steps=3, save_every=100, log_every=1)
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text('{"step": 1, "loss": 9.0}\n{"step": 2, "loss": 8.0}\n')  # no checkpoint
    ok(legonn("train", config, "--quiet"))
    assert _logged_steps(out) == [1, 2, 3]
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["loss"] != 9.0


def test_no_resume_starts_a_clean_directory(bricks, tmp_path):
    # one whole epoch (9 batches of 3000 tokens), so that it validates and writes checkpoint_best
    config = tiny_yaml_copy(bricks, tmp_path, max_tokens=3000, max_steps=0, save_every=100, log_every=1,
                            max_epochs=1)
    ok(legonn("train", config, "--quiet"))
    out = tmp_path / "run"
    assert (out / "checkpoint_best.safetensors").exists()
    ok(legonn("train", config, "--quiet", "--no-resume", "--set", "train.max_steps=2"))
    assert _logged_steps(out) == [1, 2]
    assert not (out / "checkpoint_best.safetensors").exists()  # the old run's best is not this run's


# --- 4. checkpoints carry a digest; temp files of a killed save are cleaned -----------------------------

def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # the end of the tensor data, past the JSON header
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_checkpoint_is_caught_on_load_and_on_resume(bricks, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(bricks["dir"] / "run", out)
    (out / ".lock").unlink(missing_ok=True)
    _flip_last_byte(out / "checkpoint_last.safetensors")
    src = tmp_path / "in.de"
    src.write_text("ein satz\n")
    ckpt = out / "checkpoint_last.safetensors"
    one_line_error(legonn_here("translate", "-m", ckpt, "--input", src), ckpt, "damaged")
    config = tiny_yaml_copy(bricks, tmp_path, max_steps=4)
    one_line_error(legonn_here("train", config, "--quiet"), ckpt, "damaged")


def test_safetensors_temp_files_left_by_a_kill_are_removed_on_the_next_start(bricks, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".tmpAb12Cd").write_bytes(b"half a checkpoint")
    (out / ".tmpnotours.txt").write_text("a user's file\n")  # not safetensors' pattern: kept
    ok(legonn("train", tiny_yaml_copy(bricks, tmp_path, max_steps=1), "--quiet"))
    assert not (out / ".tmpAb12Cd").exists() and (out / ".tmpnotours.txt").exists()


# --- 3. a config that does not fit its weights is refused before memory is spent ---------------------------

PEAK_RSS = ("import resource, sys\nfrom legonn.errors import LegoError\nfrom {module} import {function} as load\n"
            "try:\n    load(sys.argv[1])\nexcept LegoError as exc:\n    print(exc)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")  # MiB on Linux


def _load_in_child(module: str, function: str, path: Path) -> tuple[str, int]:
    """(the LegoError, peak RSS in MiB) of loading `path` in a fresh process."""
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS.format(module=module, function=function), str(path)],
                          capture_output=True, text=True, check=True)
    message, peak = proc.stdout.strip().splitlines()
    return message, int(peak)


def test_a_card_whose_config_is_huge_is_refused_without_allocating_it(bricks, tmp_path):
    card = edited_card(bricks, tmp_path, "decoder", lambda c: c["config"].update(dim=2_000_000, ff_dim=16384))
    message, peak_mib = _load_in_child("legonn.bricks", "load_brick", card)
    assert message.startswith(f"{card}: the config makes ") and "the weights hold" in message
    assert peak_mib < 2048  # the module, built for real, would need tens of GB
    one_line_error(legonn("compose", tmp_path / "b" / "de-en.encoder.json", card, "-o", tmp_path / "o"), card)


def test_a_checkpoint_whose_config_disagrees_with_its_tensors_is_refused_before_building(bricks, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from legonn.checkpoint import content_digest

    with safe_open(str(bricks["dir"] / "run" / "checkpoint_last.safetensors"), "pt") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())
    config = json.loads(meta["config"])
    config["model"]["encoder"].update(dim=4096, ff_dim=16384)
    config["model"]["decoder"].update(dim=4096, ff_dim=16384)
    meta = {**meta, "config": json.dumps(config)}
    path = tmp_path / "big.safetensors"
    save_file(tensors, str(path), metadata={**meta, "sha256": content_digest(tensors, meta)})
    message, peak_mib = _load_in_child("legonn.inference", "load_model", path)
    assert message.startswith(f"{path}: ") and "the weights hold" in message
    assert peak_mib < 2048


# --- 7. what used to end in a traceback -------------------------------------------------------------------

def _corrupt_gzip(path: Path) -> Path:
    import gzip

    data = bytearray(gzip.compress("ein kleiner satz\n".encode() * 200))
    data[30] ^= 0xFF  # inside the deflate stream: zlib.error or a CRC failure
    path.write_bytes(bytes(data))
    return path


def test_a_corrupt_gzip_is_one_line(tmp_path):
    bad = _corrupt_gzip(tmp_path / "train.de.gz")
    one_line_error(legonn_here("vocab", bad, "-o", tmp_path / "v.model"), bad, "cannot read")
    assert not (tmp_path / "v.model").exists()


def test_an_empty_vocabulary_input_is_one_line(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    one_line_error(legonn_here("vocab", empty, "-o", tmp_path / "v.model"), empty, "no sentences")
    assert not (tmp_path / "v.model").exists()


@pytest.mark.parametrize("content,why", [(b"", "empty"), (b"include: [a.yaml, b.yaml]\n", "include"),
                                         (b"\xff\xfe: 1\n", "not UTF-8"), (b"a: " + b"[" * 5000 + b"]" * 5000,
                                                                           "nested too deeply"),
                                         (b"a: " + b"{x: " * 3000 + b"1" + b"}" * 3000, "nested too deeply")])
def test_a_config_file_that_cannot_be_a_config_is_one_line(tmp_path, content, why):
    config = tmp_path / "c.yaml"
    config.write_bytes(content)
    one_line_error(legonn_here("train", config, "--quiet"), config, why)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_a_card_that_is_too_deep_or_has_a_negative_size_is_one_line(bricks, tmp_path):
    card = edited_card(bricks, tmp_path, "decoder", lambda c: c["config"].update(dim=-4))
    enc = tmp_path / "b" / "de-en.encoder.json"
    one_line_error(legonn_here("compose", enc, card, "-o", tmp_path / "o"), card, "config.dim", "positive")
    deep = tmp_path / "b" / "deep.json"
    deep.write_text("[" * 100_000)
    one_line_error(legonn_here("compose", enc, deep, "-o", tmp_path / "o"), deep, "not a JSON brick card")
    assert not (tmp_path / "o").exists()


def test_closed_and_full_standard_streams_are_one_line(bricks, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein satz\n")
    translate = [sys.executable, "-m", "legonn.cli", "translate", "-m", str(bricks["composed"])]

    def run(args, closed_fd=None, stdout=None):
        close = (lambda: os.close(closed_fd)) if closed_fd is not None else None
        proc = subprocess.run(args, stdout=stdout, stderr=subprocess.PIPE, preexec_fn=close, timeout=120)
        err = proc.stderr.decode().strip()
        assert proc.returncode == 1 and len(err.splitlines()) == 1 and err.startswith("error: "), err
        return err

    assert "standard output: closed" in run(translate + ["--input", str(src)], closed_fd=1)
    assert "standard input is closed" in run(translate, closed_fd=0)
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            assert "standard output: No space left on device" in run(translate + ["--input", str(src)], stdout=full)


def test_a_manifest_that_is_a_folder_or_has_only_empty_transcripts_is_one_line(bricks, tmp_path):
    import numpy as np
    import soundfile as sf

    clip = tmp_path / "a.flac"
    sf.write(str(clip), np.zeros(8000, dtype=np.float32), 16000)
    manifest = tmp_path / "m.tsv"
    manifest.write_text(f"id\tpath\tsamples\ttext\tvoice\nu1\t{clip.name}\t8000\t\tv\nu2\t{clip.name}\t8000\t \tv\n")
    model = bricks["composed"]
    one_line_error(legonn_here("transcribe", "-m", model, "--manifest", manifest), manifest, "every transcript is empty")
    one_line_error(legonn_here("transcribe", "-m", model, "--manifest", tmp_path), tmp_path, "is a folder")
