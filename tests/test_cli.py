"""The `legonn` commands on the happy path: help texts, vocab, train → translate → eval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import legonn, tiny_yaml

from legonn.vocab import Vocabulary

N_TEST = 6  # sentences translated / scored; enough to exercise batching, cheap on one thread


def ok(proc: subprocess.CompletedProcess) -> str:
    """Assert success and return stdout as text."""
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    return proc.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def trained(tiny_corpus, tiny_vocabs, tmp_path_factory) -> dict:
    """`legonn train` on the tiny config for 12 steps, plus a short test set."""
    d = tmp_path_factory.mktemp("cli")
    config = tiny_yaml(tiny_corpus, tiny_vocabs, d / "run", d / "tiny.yaml",
                       train={"max_steps": 12, "max_epochs": 2, "log_every": 4, "save_every": 4})
    out = ok(legonn("train", config, "--quiet"))
    src, ref = d / "test.de", d / "test.en"
    for side, path in (("de", src), ("en", ref)):
        lines = tiny_corpus[f"val.{side}"].read_text(encoding="utf-8").splitlines()[:N_TEST]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"config": config, "out": d / "run", "ckpt": d / "run" / "checkpoint_last.safetensors",
            "stdout": out, "src": src, "ref": ref}


def test_top_level_help_lists_commands():
    script = Path(sys.executable).parent / "legonn"  # the console script
    runner = [str(script)] if script.exists() else [sys.executable, "-m", "legonn.cli"]
    out = ok(subprocess.run([*runner, "--help"], capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"}))
    for command in ("vocab", "train", "translate", "eval"):
        assert command in out


@pytest.mark.parametrize("command,options", [
    ("vocab", ["--output", "--size"]),
    ("train", ["--set", "--no-resume", "--quiet", "CONFIG"]),
    ("translate", ["--model", "--input", "--beam", "--length-penalty", "--show-ctc"]),
    ("eval", ["--model", "--src", "--ref", "--beam", "--hyp-out", "--json-out"]),
    ("interface-stats", ["--model", "--src", "--ref", "--limit", "--json-out"]),
])
def test_subcommand_help(command, options):
    out = ok(legonn(command, "--help"))
    assert out.startswith("Usage: ")
    for option in options:
        assert option in out, f"{command} --help does not mention {option}"


def test_version():
    assert "version" in ok(legonn("--version"))


def test_the_entry_point_does_not_import_torch():
    """The jemalloc re-exec runs in front of every command: importing torch there would pay ~2 s twice."""
    code = "import sys, legonn.cli, legonn.allocator; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
    import legonn

    assert legonn.Marginals.__module__ == "legonn.interface"  # the lazy re-export still resolves


def test_vocab_writes_a_model(tiny_corpus, tmp_path):
    out_path = tmp_path / "sub" / "en.model"
    out = ok(legonn("vocab", tiny_corpus["train.en"], tiny_corpus["val.en"], "-o", out_path, "--size", "120"))
    v = Vocabulary.load(out_path)
    assert len(v) == 120
    assert v.fingerprint[:12] in out and str(out_path) in out
    assert [p.name for p in out_path.parent.iterdir()] == ["en.model"]  # no temp file left


def test_train_writes_checkpoint_config_and_metrics(trained):
    assert trained["stdout"].startswith("done: 12 steps")
    out = trained["out"]
    assert trained["ckpt"].is_file()
    assert json.loads((out / "config.json").read_text())["train"]["max_steps"] == 12
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [4, 8, 12]
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_translate_file_prints_one_line_per_input(trained):
    lines = ok(legonn("translate", "-m", trained["ckpt"], "-i", trained["src"], "--beam", "2")).splitlines()
    assert len(lines) == N_TEST
    assert not any(line.startswith("CTC") for line in lines)


def test_translate_stdin_matches_file(trained):
    from_file = ok(legonn("translate", "-m", trained["ckpt"], "-i", trained["src"], "--beam", "1"))
    from_stdin = ok(legonn("translate", "-m", trained["ckpt"], "--beam", "1", stdin=trained["src"].read_bytes()))
    assert from_stdin == from_file


def test_translate_show_ctc(trained):
    lines = ok(legonn("translate", "-m", trained["ckpt"], "-i", trained["src"], "--beam", "1",
                      "--show-ctc")).splitlines()
    ctc = [line for line in lines if line.startswith("CTC0\t")]
    assert len(ctc) == N_TEST  # one interface in the two-module model: CTC0 before each hypothesis
    assert len(lines) == 2 * N_TEST
    assert all(lines[i].startswith("CTC0\t") for i in range(0, len(lines), 2))


def test_eval_prints_scores_and_writes_files(trained, tmp_path):
    hyp_out, json_out = tmp_path / "o" / "hyp.txt", tmp_path / "o" / "scores.json"
    out = ok(legonn("eval", "-m", trained["ckpt"], "--src", trained["src"], "--ref", trained["ref"], "--beam", "2",
                    "--hyp-out", hyp_out, "--json-out", json_out))
    report = json.loads(out)
    for key in ("bleu", "chrf", "signature", "chrf_signature", "ctc_readout_bleu"):
        assert key in report
    assert isinstance(report["bleu"], float) and 0.0 <= report["bleu"] <= 100.0
    assert "nrefs:1" in report["signature"]
    assert report["beam"] == 2 and len(report["ctc_readout_bleu"]) == 1
    assert json.loads(json_out.read_text()) == report
    hyps = hyp_out.read_text(encoding="utf-8").splitlines()
    assert len(hyps) == N_TEST
    translated = ok(legonn("translate", "-m", trained["ckpt"], "-i", trained["src"], "--beam", "2")).splitlines()
    assert hyps == translated  # eval scores exactly what translate prints


def test_interface_stats_prints_and_writes_the_figures(trained, tmp_path):
    out = tmp_path / "o" / "stats.json"
    text = ok(legonn("interface-stats", "-m", trained["ckpt"], "--src", trained["src"], "--ref", trained["ref"],
                     "--limit", "4", "--json-out", out))
    assert text.startswith("interface 0: 4 sentences · K/|y| ")
    (stats,) = json.loads(out.read_text())["interfaces"]
    assert stats["sentences"] == 4 and 0.0 <= stats["blank_share"] <= 1.0 and stats["positions_per_target_token"] > 0
