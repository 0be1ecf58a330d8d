"""The seed-swap ablation (recipes/multi30k/swap.py): a swapped checkpoint holds one model's encoder and the
other's decoder, for LegoNN models and for monolithic baselines alike, and it loads and translates."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from clitools import tiny_yaml

from legonn.checkpoint import load_checkpoint
from legonn.config import load_config
from legonn.inference import load_model, translate
from legonn.search import SearchOptions
from legonn.assemble import build_run
from legonn.train import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "multi30k"))
from swap import decoder_keys, swapped_checkpoint  # noqa: E402

BASELINE = {"arch": "baseline"}  # the tiny config's baseline section


@pytest.mark.parametrize("model", [{}, BASELINE], ids=["lego", "baseline"])
def test_swapped_checkpoint_mixes_encoder_of_one_with_decoder_of_the_other(tiny_corpus, tiny_vocabs, tmp_path, model):
    ckpts = []
    for seed in (1, 2):
        config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / f"run{seed}", tmp_path / f"s{seed}.yaml",
                           model=model, train={"seed": seed})
        Trainer(build_run(load_config(config, []), progress=False), resume=False, progress=False).run()
        ckpts.append(load_checkpoint(tmp_path / f"run{seed}" / "checkpoint_last.safetensors"))
    one, two = (tmp_path / f"run{s}" / "checkpoint_last.safetensors" for s in (1, 2))
    mixed = load_checkpoint(swapped_checkpoint(one, two, tmp_path / "mixed.safetensors")).model

    dec = set(decoder_keys(mixed))
    assert dec and dec < set(mixed)
    assert all(k.startswith("ar." if model else "decoder.") for k in dec)
    for key, value in mixed.items():
        source = ckpts[1] if key in dec else ckpts[0]
        assert torch.equal(value, source.model[key]), key
    assert not all(torch.equal(ckpts[0].model[k], ckpts[1].model[k]) for k in dec)  # the seeds differ

    loaded = load_model(tmp_path / "mixed.safetensors")
    out = translate(loaded.model, loaded.src_vocab, loaded.tgt_vocab, ["ein Hund läuft ."], SearchOptions(beam_size=2))
    assert len(out) == 1 and isinstance(out[0].hypothesis, str)

    from swap import train_minutes
    best = tmp_path / "run1" / "checkpoint_best.safetensors"
    assert train_minutes(best) == round(ckpts[0].state.train_seconds / 60, 1)


def test_a_shorter_schedule_trains_every_model_of_a_pair_alike_in_its_own_folder():
    from swap import PAIRS, schedule_overrides

    one, two = (load_config(c, schedule_overrides(c, 10, 400)) for c in PAIRS["lego-wemb"])
    assert (one.train.max_epochs, one.train.warmup_steps) == (two.train.max_epochs, two.train.warmup_steps) == (10, 400)
    assert (one.train.seed, two.train.seed) == (1, 2)
    assert one.out_dir == "runs/multi30k-swap/e10/lego-wemb" and two.out_dir == "runs/multi30k-swap/e10/lego-wemb-seed2"
    assert schedule_overrides(PAIRS["lego-wemb"][0], None, None) == []


def test_swap_rows_say_which_schedule_the_models_trained_on():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))
    from results_table import swap_table

    scores = {k: {"bleu": b} for k, b in zip(("enc1+dec1", "enc2+dec2", "enc1+dec2", "enc2+dec1"), (36.0, 35.2, 35.5, 34.5))}
    record = {"pair": "lego-wemb", "seeds": [1, 2], "scores": scores, "bleu_lost": 0.5, "commit": "c"}
    short, configured = swap_table([{**record, "epochs": 10, "warmup_steps": 400}, record])[2:]
    assert "| lego-wemb (seeds 1, 2) | 10 epochs, warm-up 400 | 36.0 | 35.2 | 35.5 | 34.5 | **0.50** | – |" in short
    assert "| as configured |" in configured
    timed = swap_table([{**record, "train_minutes": [27.5, 28.25]}])[2]
    assert "| **0.50** | 27.5 + 28.2 | c |" in timed


def _swap_record(pair: str, trained: float, swapped: float) -> dict:
    return {"pair": pair, "mean_trained_bleu": trained, "mean_swapped_bleu": swapped,
            "bleu_lost": round(trained - swapped, 2)}


def test_swap_targets_judge_each_lego_pair_and_list_the_unmeasured():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))
    from results_table import swap_target_table

    rows = swap_target_table([_swap_record("lego-wemb", 30.0, 29.4), _swap_record("baseline", 31.0, 0.5)])[2:]
    assert rows == ["| lego-wemb swapped loses ≤ 1.0 BLEU | 0.60 lost | met |",
                    "| lego-beamconv swapped loses ≤ 1.0 BLEU | not measured | – |"]
    missed = swap_target_table([_swap_record("lego-beamconv", 30.0, 28.5)])[3]
    assert missed == "| lego-beamconv swapped loses ≤ 1.0 BLEU | 1.50 lost | missed by 0.50 |"


def test_swap_reading_names_the_ingestor_that_loses_less_and_the_contrasts():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))
    from results_table import swap_reading

    text = swap_reading([_swap_record("lego-wemb", 30.0, 29.4), _swap_record("lego-beamconv", 29.0, 28.8),
                         _swap_record("lego-wemb-noctc", 30.5, 3.0)])
    assert "lego-wemb 0.60 BLEU and lego-beamconv 0.20 BLEU (lego-beamconv loses less)" in text
    assert "trained without the CTC loss lose 27.50 (as trained 30.5, swapped 3.0, 90 % of it). One" in text
    weaker = swap_reading([_swap_record("lego-wemb", 30.0, 29.4), _swap_record("lego-wemb-noctc", 10.0, 2.0)])
    assert "(as trained 10.0, swapped 2.0, 80 % of it), and train to less BLEU than with it (10.0 against 30.0" in weaker
    assert "monolithic" not in text  # the baseline pair is not in yet
    assert swap_reading([]) == ""
