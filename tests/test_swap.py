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
from legonn.train import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "multi30k"))
from swap import decoder_keys, swapped_checkpoint  # noqa: E402

BASELINE = {"arch": "baseline", "encoder_layers": 1, "decoder_layers": 1}


@pytest.mark.parametrize("model", [{}, BASELINE], ids=["lego", "baseline"])
def test_swapped_checkpoint_mixes_encoder_of_one_with_decoder_of_the_other(tiny_corpus, tiny_vocabs, tmp_path, model):
    ckpts = []
    for seed in (1, 2):
        config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / f"run{seed}", tmp_path / f"s{seed}.yaml",
                           model=model, train={"seed": seed})
        Trainer(load_config(config, []), resume=False, progress=False).run()
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
