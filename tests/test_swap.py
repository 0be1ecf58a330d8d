"""The seed-swap ablation (recipes/multi30k/swap.py): a swapped checkpoint holds one model's encoder and the
other's decoder, for LegoNN models and for monolithic baselines alike, and it loads and translates."""

from __future__ import annotations


import pytest
import torch
from clitools import tiny_yaml
from recipe_scripts import load_script

from legonn.checkpoint import load_checkpoint
from legonn.config import load_config
from legonn.inference import load_model, translate
from legonn.search import SearchOptions
from legonn.assemble import build_run
from legonn.train import Trainer

swap = load_script("recipes/multi30k/swap.py")
decoder_keys, swapped_checkpoint = swap.decoder_keys, swap.swapped_checkpoint

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

    best = tmp_path / "run1" / "checkpoint_best.safetensors"
    assert swap.train_minutes(best) == round(ckpts[0].state.train_seconds / 60, 1)


def test_a_shorter_schedule_trains_every_model_of_a_pair_alike_in_its_own_folder():
    PAIRS, schedule_overrides = swap.PAIRS, swap.schedule_overrides
    one, two = (load_config(c, schedule_overrides(c, 10, 400)) for c in PAIRS["lego-wemb"])
    assert (one.train.max_epochs, one.train.warmup_steps) == (two.train.max_epochs, two.train.warmup_steps) == (10, 400)
    assert (one.train.seed, two.train.seed) == (1, 2)
    assert one.out_dir == "runs/multi30k-swap/e10/lego-wemb" and two.out_dir == "runs/multi30k-swap/e10/lego-wemb-seed2"
    assert schedule_overrides(PAIRS["lego-wemb"][0], None, None) == []
