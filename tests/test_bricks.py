"""Bricks: export a trained module (weights + card + vocabularies), load it back, compose bricks into a model that
translates exactly like the checkpoint, refuse bad compositions with one line naming the files, and warn when an
encoder's length ratio K/L lies outside what the decoder saw in training. Plus the length statistics themselves."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from clitools import legonn, one_line_error, tiny_yaml
from safetensors import safe_open

import legonn as legonn_pkg
from legonn.bricks import (BRICK_FORMAT, COMPOSITION_FILE, LengthRatioWarning, compose, export_brick, load_brick,
                           load_composed)
from legonn.config import load_config
from legonn.data.batching import encode_sources, pad_sources
from legonn.errors import LegoError
from legonn.inference import load_model
from legonn.length_stats import auto_ratio, outside_range, output_length, ratio_stats
from legonn.modules import Decoder, InterfaceEncoder
from legonn.assemble import build_run
from legonn.train import Trainer
from legonn.vocab import BOS, Vocabulary

N_TEST = 4  # sentences translated; enough for a batch of different lengths, cheap on one thread


def ok(proc: subprocess.CompletedProcess) -> str:
    """Assert success and return stdout as text."""
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    return proc.stdout.decode("utf-8")


def card_of(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_card(path: Path, card: dict) -> Path:
    path.write_text(json.dumps(card, indent=2), encoding="utf-8")
    return path


def train_in_process(tiny_corpus, tiny_vocabs, d: Path, **sections) -> Path:
    """A one-step run in this process (cheaper than a subprocess); returns its checkpoint."""
    config = tiny_yaml(tiny_corpus, tiny_vocabs, d / "run", d / "tiny.yaml", **sections)
    Trainer(build_run(load_config(config, []), progress=False), resume=False, progress=False).run()
    return d / "run" / "checkpoint_last.safetensors"


@pytest.fixture(scope="module")
def trained(tiny_corpus, tiny_vocabs, tmp_path_factory) -> dict:
    """`legonn train` for 10 steps, both modules exported by `legonn export`, and a short test set."""
    d = tmp_path_factory.mktemp("bricks")
    config = tiny_yaml(tiny_corpus, tiny_vocabs, d / "run", d / "tiny.yaml",
                       train={"max_steps": 10, "max_epochs": 1, "log_every": 5, "save_every": 10})
    ok(legonn("train", config, "--quiet"))
    ckpt = d / "run" / "checkpoint_last.safetensors"
    bricks = d / "bricks"
    cards = {}
    for which in ("encoder", "decoder"):
        out = ok(legonn("export", ckpt, "--module", which, "-o", bricks))
        cards[which] = bricks / f"de-en.{which}.json"
        assert str(cards[which]) in out
    src, ref = d / "test.de", d / "test.en"
    for side, path in (("de", src), ("en", ref)):
        lines = tiny_corpus[f"val.{side}"].read_text(encoding="utf-8").splitlines()[:N_TEST]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"dir": d, "ckpt": ckpt, "bricks": bricks, "enc": cards["encoder"], "dec": cards["decoder"],
            "src": src, "ref": ref}


@pytest.fixture(scope="module")
def composed(trained) -> Path:
    """The two exported bricks composed by `legonn compose`."""
    out_dir = trained["dir"] / "composed"
    out = ok(legonn("compose", trained["enc"], trained["dec"], "-o", out_dir))
    assert str(out_dir / COMPOSITION_FILE) in out
    return out_dir


@pytest.fixture(scope="module")
def other_vocab_brick(tiny_corpus, tiny_vocabs, tmp_path_factory) -> dict:
    """An encoder brick from a model whose target (interface) vocabulary is a different sentencepiece model."""
    d = tmp_path_factory.mktemp("other")
    english = tiny_corpus["train.en"].read_text(encoding="utf-8").splitlines()
    other = Vocabulary.train(english, 150)
    other.save(d / "en150.model")
    ckpt = train_in_process(tiny_corpus, {**tiny_vocabs, "en": d / "en150.model"}, d)
    loaded = load_model(ckpt)
    card = export_brick(loaded.model, loaded.checkpoint, "encoder", d / "bricks", source=str(ckpt))
    return {"enc": card, "vocab": other}


def some_batch(trained, loaded):
    """The test sentences as a padded source batch, and their references as decoder input (bos-shifted)."""
    sentences = trained["src"].read_text(encoding="utf-8").splitlines()
    src, lengths = pad_sources(encode_sources(sentences, loaded.src_vocab, 200, "<test>"))
    refs = [[BOS, *loaded.tgt_vocab.encode(r)] for r in trained["ref"].read_text(encoding="utf-8").splitlines()]
    prev = torch.zeros(len(refs), max(map(len, refs)), dtype=torch.long)
    for i, r in enumerate(refs):
        prev[i, : len(r)] = torch.tensor(r)
    return src, lengths, prev


# --- export ----------------------------------------------------------------------------------------------------

def test_export_writes_weights_cards_and_shared_vocabularies(trained):
    ckpt = load_model(trained["ckpt"]).checkpoint
    bricks = trained["bricks"]
    src_fp, tgt_fp = ckpt.src_vocab.fingerprint, ckpt.tgt_vocab.fingerprint
    expected = {"de-en.encoder.safetensors", "de-en.encoder.json", "de-en.decoder.safetensors", "de-en.decoder.json",
                f"vocab-{src_fp[:16]}.model", f"vocab-{tgt_fp[:16]}.model"}
    assert {p.name for p in bricks.iterdir()} == expected  # one target vocabulary file, shared; no temp files
    assert Vocabulary.load(bricks / f"vocab-{tgt_fp[:16]}.model").fingerprint == tgt_fp
    enc, dec = card_of(trained["enc"]), card_of(trained["dec"])
    assert enc["emits"]["vocab"]["file"] == dec["reads"]["vocab"]["file"] == dec["emits"]["vocab"]["file"]


@pytest.mark.parametrize("which,kind,reads,emits", [
    ("enc", "encoder", ("tokens", "src"), ("marginals", "tgt")),
    ("dec", "decoder", ("marginals", "tgt"), ("tokens", "tgt")),
])
def test_card_fields(trained, which, kind, reads, emits):
    ckpt = load_model(trained["ckpt"]).checkpoint
    card = card_of(trained[which])
    assert card["format"] == BRICK_FORMAT and card["kind"] == kind
    assert card["name"] == f"de-en.{'encoder' if which == 'enc' else 'decoder'}"
    assert card["library_version"] == legonn_pkg.__version__
    assert card["config"]["dim"] == 32 and card["config"]["heads"] == 2
    for side, (typ, vocab_side) in (("reads", reads), ("emits", emits)):
        vocab = ckpt.src_vocab if vocab_side == "src" else ckpt.tgt_vocab
        assert card[side]["type"] == typ
        assert card[side]["vocab"]["fingerprint"] == vocab.fingerprint
        assert card[side]["vocab"]["size"] == len(vocab) == 200
        assert card[side]["vocab"]["blank"] == 0
    stats = card["length_ratio"]
    for key in ("mean", "p5", "p95", "min", "max", "alpha"):
        assert isinstance(stats[key], float)
    assert stats["min"] <= stats["p5"] <= stats["mean"] <= stats["p95"] <= stats["max"]
    assert stats == ckpt.extra["data"]["length_ratio"]
    data = card["data"]
    assert data["pairs"] == 600 and data["task"] == "de-en" and data["train_src"].endswith("train.de")
    assert data["src_tokens"] > data["pairs"] and "length_ratio" not in data
    assert card["metrics"]["train_steps"] == 10 and card["metrics"]["best"] is None  # no epoch ended: nothing validated
    assert card["exported_from"] == str(trained["ckpt"])
    weights = trained["bricks"] / card["weights"]["file"]
    assert card["weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert card["weights"]["dtype"] == "float32"


def test_weights_are_safetensors_of_the_module(trained):
    loaded = load_model(trained["ckpt"])
    for card_path, module in ((trained["enc"], loaded.model.encoders[0]), (trained["dec"], loaded.model.decoder)):
        weights = trained["bricks"] / card_of(card_path)["weights"]["file"]
        with safe_open(str(weights), "pt") as f:  # a pickle would not open
            keys = set(f.keys())
            assert all(f.get_tensor(k).dtype == torch.float32 for k in keys)
        assert keys == set(module.state_dict())


# --- load_brick ------------------------------------------------------------------------------------------------

def test_load_brick_gives_the_checkpoint_modules(trained):
    loaded = load_model(trained["ckpt"])
    enc, dec = load_brick(trained["enc"]), load_brick(trained["dec"])
    assert isinstance(enc.module, InterfaceEncoder) and isinstance(dec.module, Decoder)
    assert not enc.module.training and not dec.module.training
    assert enc.reads.fingerprint == loaded.src_vocab.fingerprint
    assert enc.emits.fingerprint == dec.reads.fingerprint == dec.emits.fingerprint == loaded.tgt_vocab.fingerprint
    src, lengths, prev = some_batch(trained, loaded)
    with torch.no_grad():
        want = loaded.model.encoders[0](src, lengths)
        got = enc.module(src, lengths)
        assert torch.equal(got.log_probs, want.log_probs) and torch.equal(got.lengths, want.lengths)
        assert got.vocab == want.vocab
        assert torch.equal(dec.module(got, prev), loaded.model.decoder(want, prev))


def test_fp16_export_loads_as_float32_close_and_half_size(trained, tmp_path):
    out = ok(legonn("export", trained["ckpt"], "--module", "encoder", "-o", tmp_path, "--name", "enc16", "--fp16"))
    assert str(tmp_path / "enc16.json") in out
    card = card_of(tmp_path / "enc16.json")
    assert card["weights"]["dtype"] == "float16"
    with safe_open(str(tmp_path / "enc16.safetensors"), "pt") as f:
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys())
    full, half = load_brick(trained["enc"]), load_brick(tmp_path / "enc16.json")
    assert all(p.dtype == torch.float32 for p in half.module.parameters())
    src, lengths, _ = some_batch(trained, load_model(trained["ckpt"]))
    with torch.no_grad():
        a, b = full.module(src, lengths), half.module(src, lengths)
    assert a.log_probs.dtype == b.log_probs.dtype == torch.float32
    torch.testing.assert_close(b.log_probs, a.log_probs, atol=1e-2, rtol=0)
    full_size = (trained["bricks"] / "de-en.encoder.safetensors").stat().st_size
    ratio = (tmp_path / "enc16.safetensors").stat().st_size / full_size
    assert 0.45 < ratio < 0.56


# --- compose → translate / eval ----------------------------------------------------------------------------------

def test_composed_folder_holds_bricks_and_order(trained, composed):
    order = json.loads((composed / COMPOSITION_FILE).read_text())
    assert order["modules"] == ["de-en.encoder.json", "de-en.decoder.json"] and order["notes"] == []
    assert {p.name for p in composed.iterdir()} == {p.name for p in trained["bricks"].iterdir()} | {COMPOSITION_FILE}
    model, bricks = load_composed(composed)
    assert [b.card["kind"] for b in bricks] == ["encoder", "decoder"] and not model.training


def test_composed_translates_exactly_like_the_checkpoint(trained, composed):
    args = ("-i", trained["src"], "--beam", "2", "--show-ctc")
    from_ckpt = ok(legonn("translate", "-m", trained["ckpt"], *args))
    from_bricks = ok(legonn("translate", "-m", composed, *args))
    assert from_bricks == from_ckpt
    lines = from_ckpt.splitlines()
    assert len(lines) == 2 * N_TEST and all(line.startswith("CTC0\t") for line in lines[::2])
    trained["hyps"] = lines[1::2]


def test_eval_reads_a_composed_folder(trained, composed, tmp_path):
    hyp_out = tmp_path / "hyp.txt"
    report = json.loads(ok(legonn("eval", "-m", composed, "--src", trained["src"], "--ref", trained["ref"],
                                  "--beam", "2", "--hyp-out", hyp_out)))
    assert 0.0 <= report["bleu"] <= 100.0 and len(report["ctc_readout_bleu"]) == 1
    assert report["checkpoint"] == str(composed)
    hyps = hyp_out.read_text(encoding="utf-8").splitlines()
    assert len(hyps) == N_TEST
    if "hyps" in trained:  # set by the translate test when it ran first
        assert hyps == trained["hyps"]


def test_recipe_scoring_of_a_composed_folder_names_its_bricks(trained, composed, tmp_path):
    """legonn.experiments: a zero-shot system's results JSON scores the folder and names each brick's origin."""
    from legonn.experiments.provenance import ROOT, repo_path
    from legonn.experiments.records import ResultRecord
    from legonn.experiments.systems import score_composed
    from legonn.search import SearchOptions

    tests = {"first": (trained["src"], trained["ref"]), "second": (trained["src"], trained["ref"])}
    records = score_composed(composed, "xx-en", tests, tmp_path, "zero-shot-wemb", SearchOptions(beam_size=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zero-shot-wemb.json", "zero-shot-wemb.second.json"]
    saved = card_of(tmp_path / "zero-shot-wemb.json")
    assert saved == records[0].to_dict() and saved["task"] == "xx-en" and saved["test_set"] == "first"
    assert ResultRecord.from_json(tmp_path / "zero-shot-wemb.json") == records[0]
    assert [b["card"] for b in saved["bricks"]] == ["de-en.encoder.json", "de-en.decoder.json"]
    assert all(b["task"] == "de-en" and b["seed"] == 1 for b in saved["bricks"])
    model, _ = load_composed(composed)
    assert saved["params"] == sum(p.numel() for p in model.parameters()) and saved["train_steps"] == 0
    assert records[1].bleu == saved["bleu"] and records[1].test_set == "second"
    # results name folders inside the repository relative to it (no machine's paths in committed files)
    assert saved["checkpoint"] == str(Path(composed).resolve())
    assert repo_path(ROOT / "runs" / "fr-en" / "zero-shot-wemb") == "runs/fr-en/zero-shot-wemb"


def test_recipe_records_train_settings_as_the_run_used_them(tmp_path):
    """A --set train.threads=1 override lives in the run's config.json, not the recipe: that is what's reported."""
    from legonn.experiments.systems import run_setting

    (tmp_path / "config.json").write_text(json.dumps({"train": {"threads": 1, "precision": "bf16"}}))
    assert run_setting(tmp_path, "threads", 2) == 1 and run_setting(tmp_path, "precision", "auto") == "bf16"
    assert run_setting(tmp_path / "missing", "threads", 2) == 2  # no run folder: the recipe's value


def test_compose_keeps_a_renamed_card(trained, tmp_path):
    folder = shutil.copytree(trained["bricks"], tmp_path / "b")
    renamed = shutil.move(folder / "de-en.encoder.json", folder / "my-encoder.json")
    compose([renamed, folder / "de-en.decoder.json"], tmp_path / "c")
    assert json.loads((tmp_path / "c" / COMPOSITION_FILE).read_text())["modules"][0] == "my-encoder.json"
    load_composed(tmp_path / "c")


# --- refused compositions: one `error:` line naming the file(s) ----------------------------------------------------

def test_vocabulary_mismatch_names_both_fingerprints_and_bricks(trained, other_vocab_brick, tmp_path):
    mine = load_model(trained["ckpt"]).tgt_vocab.fingerprint[:12]
    theirs = other_vocab_brick["vocab"].fingerprint[:12]
    assert mine != theirs
    proc = legonn("compose", other_vocab_brick["enc"], trained["dec"], "-o", tmp_path / "c")
    one_line_error(proc, "vocabulary mismatch", mine, theirs, other_vocab_brick["enc"], trained["dec"])
    assert not (tmp_path / "c" / COMPOSITION_FILE).exists()


def test_vocabulary_mismatch_in_the_library(trained, other_vocab_brick, tmp_path):
    with pytest.raises(LegoError, match="vocabulary mismatch"):
        compose([other_vocab_brick["enc"], trained["dec"]], tmp_path / "c")


def test_corrupted_weights_name_the_file(trained, tmp_path):
    folder = shutil.copytree(trained["bricks"], tmp_path / "b")
    weights = folder / "de-en.decoder.safetensors"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF  # one bit pattern in the tensor data: safetensors would load it without complaint
    weights.write_bytes(bytes(data))
    one_line_error(legonn("compose", folder / "de-en.encoder.json", folder / "de-en.decoder.json", "-o",
                          tmp_path / "c"), weights, "SHA-256", "does not match")


def test_truncated_weights_in_a_composed_folder_name_the_file(composed, trained, tmp_path):
    folder = shutil.copytree(composed, tmp_path / "c")
    weights = folder / "de-en.encoder.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    one_line_error(legonn("translate", "-m", folder, "-i", trained["src"]), weights, "SHA-256")


def test_decoder_first_is_refused(trained, tmp_path):
    one_line_error(legonn("compose", trained["dec"], trained["enc"], "-o", tmp_path / "c"),
                   "start with an encoder", trained["dec"], trained["enc"])


def test_missing_card(trained, tmp_path):
    missing = tmp_path / "nope.json"
    one_line_error(legonn("compose", missing, trained["dec"], "-o", tmp_path / "c"), missing, "not found")


def test_card_that_is_not_json(trained, tmp_path):
    folder = shutil.copytree(trained["bricks"], tmp_path / "b")
    card = folder / "de-en.encoder.json"
    card.write_text('{"format": "legonn-brick-1", "name": ', encoding="utf-8")
    one_line_error(legonn("compose", card, folder / "de-en.decoder.json", "-o", tmp_path / "c"), card, "JSON")


@pytest.mark.parametrize("edit,field", [
    (lambda c: c["weights"].pop("sha256"), "weights.sha256"),
    (lambda c: c["reads"]["vocab"].pop("file"), "reads.vocab.file"),
    (lambda c: c.pop("kind"), "kind"),
    (lambda c: c.update(length_ratio={"mean": 2.0}), "length_ratio"),
])
def test_card_with_a_missing_field(trained, tmp_path, edit, field):
    folder = shutil.copytree(trained["bricks"], tmp_path / "b")
    card = card_of(folder / "de-en.encoder.json")
    edit(card)
    path = write_card(folder / "de-en.encoder.json", card)
    with pytest.raises(LegoError, match=field) as exc:
        load_brick(path)
    assert str(path) in str(exc.value)


def test_export_of_a_baseline_is_refused(tiny_corpus, tiny_vocabs, tmp_path):
    ckpt = train_in_process(tiny_corpus, tiny_vocabs, tmp_path, model={"arch": "baseline"})
    one_line_error(legonn("export", ckpt, "--module", "encoder", "-o", tmp_path / "b"), ckpt, "baseline",
                   "no interface")
    assert not (tmp_path / "b").exists()


def test_export_rejects_an_unknown_module_name(trained, tmp_path):
    proc = legonn("export", trained["ckpt"], "--module", "ingestor", "-o", tmp_path / "b")
    assert proc.returncode != 0
    err = proc.stderr.decode()
    assert "Traceback" not in err and "--module" in err and "ingestor" in err
    assert not (tmp_path / "b").exists()


# --- length-ratio warning ---------------------------------------------------------------------------------------

@pytest.fixture
def mismatched_ratio(trained, tmp_path) -> dict:
    """A copy of the bricks whose encoder card claims a mean K/L well above the decoder's 95th percentile."""
    folder = shutil.copytree(trained["bricks"], tmp_path / "b")
    dec = card_of(folder / "de-en.decoder.json")["length_ratio"]
    card = card_of(folder / "de-en.encoder.json")
    mean = round(dec["p95"] + 1.5, 2)
    card["length_ratio"]["mean"] = mean
    write_card(folder / "de-en.encoder.json", card)
    numbers = [f"{mean:.2f}", f"{dec['p5']:.2f}", f"{dec['p95']:.2f}"]
    return {"enc": folder / "de-en.encoder.json", "dec": folder / "de-en.decoder.json", "numbers": numbers}


def test_matching_bricks_compose_without_warning(trained, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, notes = compose([trained["enc"], trained["dec"]], tmp_path / "c")
    assert notes == []


def test_length_ratio_warning_in_the_library(mismatched_ratio, tmp_path):
    with pytest.warns(LengthRatioWarning) as record:
        path, notes = compose([mismatched_ratio["enc"], mismatched_ratio["dec"]], tmp_path / "c")
    message = str(record[0].message)
    for number in mismatched_ratio["numbers"]:
        assert number in message
    assert notes == [message] and json.loads(path.read_text())["notes"] == notes


def test_length_ratio_warning_on_the_command_line(mismatched_ratio, tmp_path):
    proc = legonn("compose", mismatched_ratio["enc"], mismatched_ratio["dec"], "-o", tmp_path / "c")
    ok(proc)
    err = proc.stderr.decode("utf-8").strip().splitlines()
    warning = [line for line in err if line.startswith("warning: ")]
    assert len(warning) == 1 and "Traceback" not in "\n".join(err)
    for number in mismatched_ratio["numbers"]:
        assert number in warning[0]
    assert (tmp_path / "c" / COMPOSITION_FILE).is_file()


# --- length statistics ------------------------------------------------------------------------------------------

def test_output_length_is_ceil_alpha_t():
    assert [output_length(t, 2.0) for t in (1, 3, 10)] == [2, 6, 20]
    assert [output_length(t, 1.5) for t in (3, 4, 5)] == [5, 6, 8]  # ceil(4.5), exactly 6, ceil(7.5)
    assert output_length(25, 2.2) == 55  # 2.2·25 is 55.00000000000001 in floating point: still 55
    assert output_length(0, 2.0) == 1


def test_ratio_stats_on_known_lengths():
    src, tgt = [3, 5, 10], [2, 4, 5]
    stats = ratio_stats(src, tgt, 1.5)  # K = 5, 8, 15 → K/L = 2.5, 2, 3
    assert stats["alpha"] == 1.5 and stats["count"] == 3
    assert stats["mean"] == pytest.approx(2.5, abs=1e-4)
    assert stats["min"] == 2.0 and stats["max"] == 3.0 and stats["p50"] == 2.5
    assert stats["p5"] == pytest.approx(float(np.quantile([2.5, 2.0, 3.0], 0.05)), abs=1e-4)
    assert stats["source_per_target"] == pytest.approx(18 / 11, abs=1e-4)
    stats = ratio_stats(src, tgt, 2.0)  # K = 6, 10, 20 → 3, 2.5, 4
    assert stats["mean"] == pytest.approx(9.5 / 3, abs=1e-4) and stats["min"] == 2.5 and stats["max"] == 4.0


def test_auto_ratio_matches_the_decoder_mean():
    """The smallest α whose mean ceil(α·T)/L on this data reaches the decoder's mean K/L."""
    src, tgt = [10, 21, 30], [5, 9, 11]
    alpha = auto_ratio({"mean": 2.5}, src, tgt)
    assert ratio_stats(src, tgt, alpha)["mean"] >= 2.5 > ratio_stats(src, tgt, alpha - 1e-3)["mean"]
    # ceil(8α)/4 first reaches 3 just above α = 11/8
    assert auto_ratio({"mean": 3.0}, [8, 8], [4, 4]) == pytest.approx(11 / 8, abs=2e-4)


def test_outside_range():
    stats = {"p5": 1.5, "p95": 3.0}
    assert outside_range(1.4, stats) and outside_range(3.1, stats)
    assert not outside_range(1.5, stats) and not outside_range(2.2, stats) and not outside_range(3.0, stats)


def test_a_decoder_in_the_middle_is_refused(trained, tmp_path):
    """Vocabularies match (English → English), but a decoder emits tokens, not marginals."""
    proc = legonn("compose", trained["enc"], trained["dec"], trained["dec"], "-o", tmp_path / "c")
    one_line_error(proc, str(trained["dec"]), "can only end a composition")


def test_ctc_unalignable_counts_repeats():
    from legonn.length_stats import ctc_unalignable
    # K = ceil(1.0·T): [5] needs 1 (fits in 2); [7, 7] needs 3 > 2; [1, 2, 3] needs 3 > 2
    assert ctc_unalignable([2, 2, 2], [[5], [7, 7], [1, 2, 3]], 1.0) == 2


# --- make demo: the shipped-bricks composition (recipes/demo/run.py) -------------------------------------------
DEMO = Path(__file__).resolve().parents[1] / "recipes" / "demo" / "run.py"


def run_demo(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LEGONN_JEMALLOC": "0"}
    return subprocess.run([sys.executable, str(DEMO), "--threads", "1", *map(str, args)], capture_output=True,
                          env=env, timeout=180)


@pytest.fixture
def speech_encoder_brick(tiny_speech_config, tmp_path) -> Path:
    """A few steps of a tiny speech LegoNN model over the same English interface as `trained`, its encoder
    exported: the speech half of the demo."""
    Trainer(build_run(load_config(tiny_speech_config, []), progress=False), resume=False, progress=False).run()
    loaded = load_model(tmp_path / "run" / "checkpoint_last.safetensors")
    return export_brick(loaded.model, loaded.checkpoint, "encoder", tmp_path / "speech-brick", source="tiny-asr")


def test_demo_composes_two_bricks_and_scores_the_test_set_like_eval(trained, speech_encoder_brick, tiny_speech,
                                                                    tmp_path):
    from legonn.data.speech import read_manifest
    from legonn.evaluation import evaluate_checkpoint
    from legonn.inference import transcribe
    from legonn.score import wer
    from legonn.search import SearchOptions

    out = ok(run_demo("--encoder", trained["enc"], "--decoder", trained["dec"], "--src", trained["src"],
                      "--ref", trained["ref"], "-o", tmp_path / "demo", "--show", 2, "--beam", 2,
                      "--speech-bricks", speech_encoder_brick, trained["dec"], "--clips", tiny_speech["valid"]))
    assert (tmp_path / "demo" / COMPOSITION_FILE).is_file()
    assert "trained in de-en tiny, seed 1" in out  # from the cards: task, system (config name), seed
    first, second, third = trained["src"].read_text(encoding="utf-8").splitlines()[:3]
    assert out.count("CTC readout") >= 3 and first.split()[0] in out and second.split()[0] in out
    report = evaluate_checkpoint(tmp_path / "demo", trained["src"], trained["ref"], SearchOptions(beam_size=2),
                                 progress=False)
    assert f"zero-shot composition  BLEU {report['bleu']:5.2f}" in out
    assert f"CTC readout            BLEU {report['ctc_readout_bleu'][0]:5.2f}" in out
    # the speech half: a speech encoder with the same text decoder, every clip shown, WER as `transcribe` gives it
    clips = read_manifest(tiny_speech["valid"])
    speech = transcribe(load_model(tmp_path / "demo-speech"), [c.path for c in clips], SearchOptions(beam_size=2))
    assert all(c.path.name in out and c.text in out for c in clips)
    assert f"decoder {wer(speech.hypotheses, [c.text for c in clips]):.1f} %" in out
    assert "real-time factor" in out


def test_demo_with_a_missing_brick_is_one_line(trained, tmp_path):
    proc = run_demo("--encoder", tmp_path / "nowhere.json", "--decoder", trained["dec"], "-o", tmp_path / "demo")
    one_line_error(proc, "nowhere.json")
    assert not (tmp_path / "demo").exists()
