"""User mistakes at the command line: each one is a single `error: …` line naming the file, line or
config field at fault, a non-zero exit status, and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from clitools import legonn, one_line_error, tiny_yaml

from legonn.vocab import Vocabulary


@pytest.fixture(scope="module")
def trained(tiny_corpus, tiny_vocabs, tmp_path_factory) -> dict:
    """A one-step run: its config, out_dir and checkpoint."""
    d = tmp_path_factory.mktemp("trained")
    config = tiny_yaml(tiny_corpus, tiny_vocabs, d / "run", d / "tiny.yaml")
    proc = legonn("train", config, "--quiet")
    assert proc.returncode == 0, proc.stderr.decode()
    return {"config": config, "out": d / "run", "ckpt": d / "run" / "checkpoint_last.safetensors"}


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- training data ---------------------------------------------------------------------------------------------

def test_missing_training_file(tiny_config, tmp_path):
    missing = tmp_path / "nope.de"
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", f"data.train_src={missing}"),
                   missing, "not found")


def test_parallel_files_with_different_line_counts(tiny_config, tmp_path):
    src = write(tmp_path / "a.de", "ein Hund\neine Katze\nein Haus\n".encode())
    tgt = write(tmp_path / "a.en", "a dog\na cat\n".encode())
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", f"data.train_src={src}",
                          "--set", f"data.train_tgt={tgt}"), src, tgt, "3", "2")


def test_empty_line_names_file_and_line(tiny_config, tmp_path):
    src = write(tmp_path / "a.de", "ein Hund\n  \nein Haus\n".encode())
    tgt = write(tmp_path / "a.en", "a dog\na cat\na house\n".encode())
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", f"data.train_src={src}",
                          "--set", f"data.train_tgt={tgt}"), f"{src}:2:", "empty")


def test_non_utf8_line_names_file_and_line(tiny_config, tmp_path):
    src = write(tmp_path / "a.de", "ein Hund\neine Katze\n".encode())
    tgt = write(tmp_path / "a.en", b"a dog\na \xff\xfe cat\n")
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", f"data.train_src={src}",
                          "--set", f"data.train_tgt={tgt}"), f"{tgt}:2:", "UTF-8")


def test_over_long_sentence_names_file_line_and_field(tiny_config, tiny_corpus):
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", "data.max_len=3"),
                   f"{tiny_corpus['train.de']}:1:", "data.max_len=3")


def test_missing_validation_file(tiny_config, tmp_path):
    missing = tmp_path / "val.missing"
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", f"data.valid_tgt={missing}"), missing)


def test_missing_vocabulary_file(tiny_config, tmp_path):
    missing = tmp_path / "nope.model"
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", f"data.src_vocab={missing}"), missing)


# --- config ----------------------------------------------------------------------------------------------------

def test_unknown_config_key_in_yaml(tiny_config):
    cfg = yaml.safe_load(tiny_config.read_text())
    cfg["model"]["dimm"] = 64
    tiny_config.write_text(yaml.safe_dump(cfg))
    one_line_error(legonn("train", tiny_config, "--quiet"), "'model.dimm'", tiny_config)


def test_unknown_config_key_via_set(tiny_config):
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", "model.dimm=64"), "'model.dimm'")


def test_bad_value_type_via_set(tiny_config):
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", "train.max_steps=lots"),
                   "'train.max_steps'", "int", "lots")


def test_bad_value_type_in_yaml(tiny_config):
    cfg = yaml.safe_load(tiny_config.read_text())
    cfg["model"]["encoder"]["dropout"] = "high"
    tiny_config.write_text(yaml.safe_dump(cfg))
    one_line_error(legonn("train", tiny_config, "--quiet"), "'model.encoder.dropout'", "float", tiny_config)


def test_bad_value_range_via_set(tiny_config):
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", "model.encoder.dim=0"), "'model.encoder.dim'")


def test_unknown_precision_names_the_field_and_the_choices(tiny_config):
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", "train.precision=fp16"),
                   "'train.precision'", "auto, bf16, fp32")


def test_unknown_lr_schedule_names_the_field_and_the_choices(tiny_config):
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", "train.lr_schedule=cosine"),
                   "'train.lr_schedule'", "inverse_sqrt, linear")


def test_encoder_ctc_outside_the_baseline_section_names_the_field(tiny_config):
    """A baseline's auxiliary CTC head is model.baseline.encoder_ctc: a LegoNN encoder's interface has its CTC loss."""
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", "model.encoder_ctc=true"),
                   "'model.encoder_ctc'", "known: arch, encoder, decoder, token_marginals, baseline")


def test_set_value_that_is_not_yaml(tiny_config):
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", "train.lr=["), "train.lr")


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    one_line_error(legonn("train", missing), missing, "not found")


def test_config_that_is_not_yaml(tmp_path):
    bad = write(tmp_path / "bad.yaml", b"model: [dim: 3\n")
    one_line_error(legonn("train", bad), bad, "YAML")


# --- checkpoints -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["translate", "eval"])
def test_missing_checkpoint(command, tiny_corpus, tmp_path):
    missing = tmp_path / "nope.safetensors"
    args = ["-i", tiny_corpus["val.de"]] if command == "translate" else \
        ["--src", tiny_corpus["val.de"], "--ref", tiny_corpus["val.en"]]
    one_line_error(legonn(command, "-m", missing, *args), missing, "not found")


def test_resume_with_a_different_vocabulary(trained, tiny_corpus, tmp_path):
    other = Vocabulary.train(tiny_corpus["train.en"].read_text().splitlines(), 150)
    other.save(tmp_path / "other.model")
    ours = Vocabulary.load(yaml.safe_load(trained["config"].read_text())["data"]["tgt_vocab"])
    assert other.fingerprint != ours.fingerprint
    proc = legonn("train", trained["config"], "--quiet", "--set", f"data.tgt_vocab={tmp_path / 'other.model'}")
    line = one_line_error(proc, trained["ckpt"], "data.tgt_vocab", ours.fingerprint[:12], other.fingerprint[:12])
    assert "data.src_vocab" not in line


def test_resume_with_a_different_model_config(trained):
    one_line_error(legonn("train", trained["config"], "--quiet", "--set", "model.encoder.dim=16"), trained["ckpt"], "model")


@pytest.mark.parametrize("keep", [0, 200, -100])
def test_corrupt_checkpoint_for_translate(trained, tiny_corpus, tmp_path, keep):
    """Empty, cut inside the header, cut inside the tensors."""
    data = trained["ckpt"].read_bytes()
    bad = write(tmp_path / "bad.safetensors", data[:keep])
    one_line_error(legonn("translate", "-m", bad, "-i", tiny_corpus["val.de"]), bad)


def test_garbage_checkpoint_for_eval(tiny_corpus, tmp_path):
    bad = write(tmp_path / "bad.safetensors", b"this is not a checkpoint at all\n" * 10)
    one_line_error(legonn("eval", "-m", bad, "--src", tiny_corpus["val.de"], "--ref", tiny_corpus["val.en"]), bad)


def test_corrupt_checkpoint_on_resume(trained, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    bad = write(out / "checkpoint_last.safetensors", trained["ckpt"].read_bytes()[:1000])
    one_line_error(legonn("train", trained["config"], "--quiet", "--set", f"out_dir={out}"), bad)


def test_safetensors_file_that_is_not_a_legonn_checkpoint(tiny_corpus, tmp_path):
    import torch
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    one_line_error(legonn("translate", "-m", other, "-i", tiny_corpus["val.de"]), other, "not a legonn checkpoint")


# --- translate / eval inputs -----------------------------------------------------------------------------------

def test_translate_non_utf8_stdin(trained):
    one_line_error(legonn("translate", "-m", trained["ckpt"], stdin=b"ein Hund\nein \xff Haus\n"), "<stdin>:2:")


def test_translate_empty_line_in_input_file(trained, tmp_path):
    src = write(tmp_path / "in.de", b"ein Hund\n\nein Haus\n")
    one_line_error(legonn("translate", "-m", trained["ckpt"], "-i", src), f"{src}:2:", "empty")


def test_translate_over_long_input_line(trained, tmp_path):
    """Longer than the encoder's Output Length Controller can re-time (max_positions / α)."""
    src = write(tmp_path / "in.de", ("ein Hund\n" + "Hund " * 3000 + "\n").encode())
    one_line_error(legonn("translate", "-m", trained["ckpt"], "-i", src), f"{src}:2:")


def test_translate_missing_input_file(trained, tmp_path):
    missing = tmp_path / "nope.de"
    one_line_error(legonn("translate", "-m", trained["ckpt"], "-i", missing), missing, "not found")


def test_eval_src_and_ref_of_different_lengths(trained, tiny_corpus, tmp_path):
    ref = write(tmp_path / "ref.en", b"a dog\n")
    one_line_error(legonn("eval", "-m", trained["ckpt"], "--src", tiny_corpus["val.de"], "--ref", ref),
                   tiny_corpus["val.de"], ref)


# --- vocab -----------------------------------------------------------------------------------------------------

def test_vocab_on_missing_file(tmp_path):
    missing = tmp_path / "nope.txt"
    one_line_error(legonn("vocab", missing, "-o", tmp_path / "v.model", "--size", "100"), missing, "not found")
    assert not (tmp_path / "v.model").exists()


def test_vocab_on_non_utf8_file(tmp_path):
    bad = write(tmp_path / "bad.txt", b"a line\nanother \xc3\x28 line\n")
    one_line_error(legonn("vocab", bad, "-o", tmp_path / "v.model", "--size", "100"), f"{bad}:2:")
