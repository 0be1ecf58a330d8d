"""Training on speech: manifests → cached features → CMVN → SpeechEncoder (or speech baseline) → decoder,
selected on WER; the checkpoint carries its front end, resumes exactly, and transcribes audio files."""

from __future__ import annotations

import json

import pytest
import torch

from legonn.checkpoint import load_checkpoint
from legonn.config import load_config
from legonn.data.speech import read_manifest
from legonn.data.task import load_task_data
from legonn.errors import LegoError
from legonn.inference import load_model
from legonn.assemble import build_run
from legonn.train import Trainer


def train(config, *overrides, resume=True):
    return Trainer(build_run(load_config(config, list(overrides)), progress=False), resume=resume, progress=False).run()


@pytest.mark.parametrize("arch", ["lego", "baseline", "baseline-ctc"])
def test_speech_run_selects_on_wer_and_saves_its_front_end(tiny_speech_config, tmp_path, arch):
    settings = ["model.arch=baseline", "model.baseline.encoder_ctc=true"] if arch == "baseline-ctc" else [f"model.arch={arch}"]
    result = train(tiny_speech_config, *settings)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors")
    assert ckpt.src_vocab is None and set(ckpt.extra["speech"]) == {"fbank", "cmvn"}
    assert len(ckpt.extra["speech"]["cmvn"]["mean"]) == 80
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if "valid_wer" in r]
    assert epochs and all(r["valid_wer"] >= 0 for r in epochs) and "best_wer" in epochs[-1]
    assert ("valid_ctc0_wer" in epochs[-1]) == (arch != "baseline")  # a joint CTC baseline reads out its head
    assert all(len(r["ctc"]) == (arch != "baseline") for r in records if "ctc" in r)  # and trains it
    assert result.state.best == min(r["valid_wer"] for r in epochs)
    assert ckpt.extra["data"]["frames"] > 0 and ckpt.extra["data"]["train_manifest"].endswith("manifest.tsv")
    if arch == "lego":
        assert ckpt.extra["data"]["length_ratio"]["alpha"] == 1.0  # K/L statistics over subsampled frames


def _validations(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if "valid_wer" in r]


def test_select_on_interface_picks_by_ctc_readout_and_a_switch_on_resume_starts_afresh(tiny_speech_config, tmp_path):
    result = train(tiny_speech_config, "train.select_on=interface", "train.max_steps=0", "train.max_epochs=3")
    epochs = _validations(tmp_path / "run")
    assert len(epochs) == 3 and all(r["best_on"] == "valid_ctc0_wer" for r in epochs)
    assert result.state.best_on == "valid_ctc0_wer"
    assert result.state.best == min(r["valid_ctc0_wer"] for r in epochs)
    best = load_checkpoint(tmp_path / "run" / "checkpoint_best.safetensors").state
    assert best.best == result.state.best and best.best_on == "valid_ctc0_wer"

    result = train(tiny_speech_config, "train.max_steps=0", "train.max_epochs=5")  # back to the decoder's output
    after = _validations(tmp_path / "run")[3:]
    assert len(after) == 2 and all("best_on" not in r for r in after)
    assert result.state.best_on == "valid_wer"
    assert result.state.best == min(r["valid_wer"] for r in after)  # the CTC-readout best no longer counts


def test_select_on_interface_needs_an_interface_in_the_target_vocabulary(tiny_speech_config):
    with pytest.raises(LegoError, match="train.select_on.*none"):
        train(tiny_speech_config, "model.arch=baseline", "train.select_on=interface")
    with pytest.raises(LegoError, match="train.select_on.*'decoder'"):
        load_config(tiny_speech_config, ["train.select_on=decoder"])


def test_speech_resume_is_exact(tiny_speech_config, tmp_path):
    train(tiny_speech_config, "train.max_steps=3")
    train(tiny_speech_config)  # resumes at step 3 → 6
    resumed = load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors")
    train(tiny_speech_config, f"out_dir={tmp_path / 'straight'}", resume=False)
    straight = load_checkpoint(tmp_path / "straight" / "checkpoint_last.safetensors")
    assert resumed.state.step == straight.state.step == 6
    for key, value in straight.model.items():
        assert torch.equal(value, resumed.model[key]), key  # SpecAugment's masks come from the saved RNG too


def test_features_are_cached_between_runs(tiny_speech_config, tmp_path):
    train(tiny_speech_config, "train.max_steps=1")
    cached = sorted((tmp_path / "features").rglob("*.npy"))
    assert len(cached) == 20  # 16 training + 4 validation clips
    stamps = [p.stat().st_mtime_ns for p in cached]
    train(tiny_speech_config, "train.max_steps=1", f"out_dir={tmp_path / 'again'}", resume=False)
    assert [p.stat().st_mtime_ns for p in cached] == stamps


def test_loaded_speech_model_carries_its_front_end(tiny_speech_config, tiny_speech, tmp_path):
    train(tiny_speech_config, "train.max_steps=1")
    loaded = load_model(tmp_path / "run" / "checkpoint_last.safetensors")
    assert loaded.src_vocab is None and loaded.front_end is not None
    utt = read_manifest(tiny_speech["valid"])[0]
    from legonn.data.speech import load_audio

    feats = loaded.front_end(load_audio(utt.path))
    assert feats.shape[1] == 80 and abs(float(feats.mean())) < 3  # normalised with the training CMVN


def test_speech_config_mismatches_are_named(tiny_speech_config):
    with pytest.raises(LegoError, match="model.encoder.frontend"):
        build_run(load_config(tiny_speech_config, ["model.encoder.frontend.kind=tokens"]), progress=False)


def test_cli_transcribe_prints_text_rtf_and_wer(tiny_speech_config, tiny_speech, tmp_path):
    from clitools import legonn, one_line_error

    train(tiny_speech_config, "train.max_steps=2")
    ckpt = tmp_path / "run" / "checkpoint_last.safetensors"
    clip = read_manifest(tiny_speech["valid"])[0].path
    proc = legonn("transcribe", clip, "-m", ckpt, "--manifest", tiny_speech["valid"], "--beam", "1",
                  "--json-out", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 5 and lines[0].startswith(f"{clip}\t")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["files"] == 5 and report["real_time_factor"] > 0 and report["wer"] >= 0
    assert "lower-cased" in report["wer_normalisation"] and len(report["ctc_readout_wer"]) == 1
    assert "real_time_factor" in proc.stderr.decode()
    assert "WER normalisation: lower-cased" in proc.stderr.decode()
    one_line_error(legonn("transcribe", tmp_path / "missing.flac", "-m", ckpt), "missing.flac")
    (tmp_path / "de.txt").write_text("Ein Hund.\n")
    one_line_error(legonn("translate", "-m", ckpt, "-i", tmp_path / "de.txt"), "legonn transcribe")


def test_speech_encoder_brick_composes_with_a_decoder_and_transcribes(tiny_speech_config, tiny_speech, tmp_path):
    """Export both modules of a speech LegoNN model, compose them back: same transcripts as the checkpoint."""
    from legonn.bricks import compose, export_brick, load_brick
    from legonn.inference import transcribe
    from legonn.search import SearchOptions

    train(tiny_speech_config, "train.max_steps=2")
    loaded = load_model(tmp_path / "run" / "checkpoint_last.safetensors")
    enc = export_brick(loaded.model, loaded.checkpoint, "encoder", tmp_path / "bricks")
    dec = export_brick(loaded.model, loaded.checkpoint, "decoder", tmp_path / "bricks")
    card = json.loads(enc.read_text())
    assert card["kind"] == "encoder" and card["reads"]["type"] == "features"
    assert card["reads"]["front_end"]["fbank"]["num_bins"] == 80
    assert load_brick(enc).front_end is not None
    compose([enc, dec], tmp_path / "composed")
    clips = [u.path for u in read_manifest(tiny_speech["valid"])]
    opts = SearchOptions(beam_size=2, max_len_b=5)
    from_ckpt = transcribe(loaded, clips, opts)
    from_bricks = transcribe(load_model(tmp_path / "composed"), clips, opts)
    assert from_bricks.hypotheses == from_ckpt.hypotheses and from_bricks.ctc_readouts == from_ckpt.ctc_readouts


def test_speech_encoder_trains_against_a_frozen_decoder_brick(tiny_speech_config, tmp_path):
    """The zero-shot recipe's shape: a decoder brick from one run, a new speech encoder trained for it."""
    from legonn.bricks import export_brick

    train(tiny_speech_config, "train.max_steps=1")
    loaded = load_model(tmp_path / "run" / "checkpoint_last.safetensors")
    dec = export_brick(loaded.model, loaded.checkpoint, "decoder", tmp_path / "bricks")
    train(tiny_speech_config, "train.max_steps=2", f"out_dir={tmp_path / 'new'}", f"init.decoder={dec}",
          "model.encoder.olc.ratio=auto", "train.freeze=decoder", resume=False)
    new = load_checkpoint(tmp_path / "new" / "checkpoint_last.safetensors")
    for key, value in loaded.checkpoint.model.items():
        if key.startswith("decoder."):
            assert torch.equal(new.model[key], value), key  # frozen
    assert new.extra["data"]["length_ratio_auto"]["decoder"] == str(dec)


def test_recipe_scores_a_speech_run_into_a_wer_results_record(tiny_speech_config, tiny_speech, tmp_path):
    """legonn.experiments.systems.score_system on a speech config: WER (not BLEU) on a manifest, the CTC-readout WER of
    the interface, the real-time factor and the size of the training corpus, in the results format."""
    from legonn.evaluation import evaluate_speech
    from legonn.experiments.systems import score_system
    from legonn.search import SearchOptions

    train(tiny_speech_config, "train.max_steps=2")
    opts = SearchOptions(beam_size=1, max_len_b=5)
    tests = {"synthetic-test": (tiny_speech["valid"], None), "also": (tiny_speech["valid"], None)}
    records = score_system(tiny_speech_config, tests, tmp_path / "results", "lego-wemb", opts)
    written = json.loads((tmp_path / "results" / "lego-wemb.json").read_text())
    assert written == records[0].to_dict() and (tmp_path / "results" / "lego-wemb.also.json").is_file()
    assert written["task"] == "asr-en" and written["test_set"] == "synthetic-test" and "bleu" not in written
    assert written["utterances"] == 4 and written["train_utterances"] == 16 and written["real_time_factor"] > 0
    direct = evaluate_speech(tmp_path / "run" / "checkpoint_best.safetensors", tiny_speech["valid"], opts, False)
    assert written["wer"] == direct["wer"] and written["ctc_readout_wer"] == direct["ctc_readout_wer"]
    assert len(written["ctc_readout_wer"]) == 1 and written["valid_wer_greedy"] >= 0
    # the run's own --set train.max_steps=2 ended it, though the config read again now says 6
    assert written["training_finished"] and written["schedule"]["max_steps"] == 2
    # the run's metrics log is kept beside the scores, so its curves survive the run folder
    kept = (tmp_path / "results" / "lego-wemb.metrics.jsonl").read_bytes()
    assert kept == (tmp_path / "run" / "metrics.jsonl").read_bytes() and b"valid_wer" in kept
    # a run cut to the first clips of its manifest records the clips it trained on, not the manifest's
    cut_run = [f"out_dir={tmp_path / 'cut-run'}", "data.train_limit=5"]
    train(tiny_speech_config, "train.max_steps=2", *cut_run)
    cut = score_system(tiny_speech_config, {"synthetic-test": tests["synthetic-test"]}, tmp_path / "cut", "lego-wemb",
                       opts, cut_run)[0]
    assert cut.train_utterances == 5 and cut.train_limit == 5 and "train_limit" not in written


def test_three_module_chain_from_three_trainings_composes_transcribes_and_fine_tunes(
        tiny_speech_config, tiny_speech, tiny_corpus, tiny_vocabs, tmp_path):
    """recipes/asr's chain in small: module B (phonemes → sub-words) trained from text, module A (speech →
    phonemes) with its OLC fitted to B's card, and a decoder from a third training, composed without ever
    being trained together; the chain transcribes, and fine-tunes on speech from the composed folder with
    CTC only at the interface that speaks the transcripts' vocabulary."""
    from clitools import tiny_encoder, tiny_yaml

    from legonn.bricks import compose, export_brick
    from legonn.data.phonemes import phonemize_many
    from legonn.data.speech import Utterance, write_manifest
    from legonn.inference import transcribe
    from legonn.search import SearchOptions
    from legonn.vocab import Vocabulary

    english = tiny_corpus["train.en"].read_text(encoding="utf-8").splitlines()[20:80]
    speech = {split: read_manifest(tiny_speech[split]) for split in ("train", "valid")}
    texts = list(dict.fromkeys(english + [u.text for utts in speech.values() for u in utts]))
    phones = dict(zip(texts, phonemize_many(texts, progress=False)))
    Vocabulary.train(list(phones.values()), 200, model_type="word").save(tmp_path / "ph.model")
    for name, lines in (("b.ph", [phones[t] for t in english]), ("b.en", english)):
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    for split, utts in speech.items():
        write_manifest(tmp_path / f"{split}-a.tsv", [Utterance(u.id, u.path, u.samples, phones[u.text], u.voice)
                                                     for u in utts])

    def trained(config, *overrides):
        Trainer(build_run(load_config(config, list(overrides)), progress=False), resume=False, progress=False).run()
        out_dir = load_config(config, list(overrides)).out_dir
        return load_model(f"{out_dir}/checkpoint_last.safetensors")

    text_model = trained(tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "c", tmp_path / "c.yaml",
                                   train={"max_steps": 2}))
    decoder = export_brick(text_model.model, text_model.checkpoint, "decoder", tmp_path / "bricks")
    b_files = {"train_src": tmp_path / "b.ph", "train_tgt": tmp_path / "b.en", "valid_src": tmp_path / "b.ph",
               "valid_tgt": tmp_path / "b.en", "src_vocab": tmp_path / "ph.model"}
    b_config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "b", tmp_path / "b.yaml", task="phonemes-en",
                         data={**{k: str(v) for k, v in b_files.items()}, "max_len": 400},
                         model={"token_marginals": {"stretch": 1.5},
                                "encoder": tiny_encoder("auto", frontend={"kind": "marginals"})},
                         init={"length_ratio_from": str(decoder)}, train={"max_steps": 2})
    module_b = trained(b_config)
    b_card = export_brick(module_b.model, module_b.checkpoint, "encoder", tmp_path / "bricks")
    module_a = trained(tiny_speech_config, f"data.train_manifest={tmp_path / 'train-a.tsv'}",
                       f"data.valid_manifest={tmp_path / 'valid-a.tsv'}", f"data.tgt_vocab={tmp_path / 'ph.model'}",
                       "data.max_len=400", "model.encoder.olc.ratio=auto", f"init.length_ratio_from={b_card}",
                       f"out_dir={tmp_path / 'a'}", "task=asr-phonemes", "train.max_steps=2")
    a_card = export_brick(module_a.model, module_a.checkpoint, "encoder", tmp_path / "bricks")
    assert json.loads(a_card.read_text())["reads"]["type"] == "features"
    assert module_a.checkpoint.extra["data"]["length_ratio_auto"]["decoder"] == str(b_card)  # α fitted to B

    compose([a_card, b_card, decoder], tmp_path / "chain")
    chain = load_model(tmp_path / "chain")
    clips = [u.path for u in speech["valid"]]
    out = transcribe(chain, clips, SearchOptions(beam_size=2, max_len_b=5))
    assert len(out.hypotheses) == 4 and all(len(r) == 2 for r in out.ctc_readouts)  # phonemes, then sub-words

    train(tiny_speech_config, f"init.composed={tmp_path / 'chain'}", f"out_dir={tmp_path / 'ft'}", "train.max_steps=2",
          resume=False)
    steps = [r for r in map(json.loads, (tmp_path / "ft" / "metrics.jsonl").read_text().splitlines()) if "ctc" in r]
    assert steps and all(len(r["ctc"]) == 1 for r in steps)  # the phoneme interface has no target in English text
    assert len(load_model(tmp_path / "ft" / "checkpoint_last.safetensors").interface_vocabs) == 2


def test_train_limit_keeps_the_first_clips(tiny_speech_config, tiny_speech):
    cfg = load_config(tiny_speech_config, ["data.train_limit=5"])
    data = load_task_data(cfg, cfg.model.task(cfg.task), progress=False)
    clips = read_manifest(tiny_speech["train"], check_files=False)
    assert len(data.pairs.src) == 5
    assert [data.tgt_vocab.decode(t.tolist()) for t in data.pairs.tgt] == [
        data.tgt_vocab.decode(data.tgt_vocab.encode(u.text)) for u in clips[:5]]
