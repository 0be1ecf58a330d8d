"""Training from bricks: a new encoder against a frozen decoder, `length_ratio: auto`, frozen modules."""

from __future__ import annotations

import pytest
import torch
from clitools import tiny_encoder, tiny_yaml

from legonn.bricks import export_brick, load_brick
from legonn.checkpoint import load_checkpoint
from legonn.config import load_config
from legonn.errors import LegoError
from legonn.inference import load_model
from legonn.length_stats import auto_ratio, ratio_stats
from legonn.assemble import build_run
from legonn.train import Trainer

TRAIN = {"max_tokens": 800, "max_steps": 4, "max_epochs": 1, "save_every": 4, "log_every": 2}


def run(config, *overrides):
    return Trainer(build_run(load_config(config, list(overrides)), progress=False), progress=False).run()


@pytest.fixture(scope="module")
def decoder_brick(tiny_corpus, tiny_vocabs, tmp_path_factory):
    """A tiny De→En LegoNN model trained a few steps, its decoder exported as a brick."""
    d = tmp_path_factory.mktemp("parent")
    run(tiny_yaml(tiny_corpus, tiny_vocabs, d / "run", d / "tiny.yaml", train=TRAIN))
    loaded = load_model(d / "run" / "checkpoint_last.safetensors")
    return export_brick(loaded.model, loaded.checkpoint, "decoder", d / "bricks")


def test_new_encoder_against_frozen_decoder(decoder_brick, tiny_corpus, tiny_vocabs, tmp_path):
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "c.yaml", train=TRAIN,
                       init={"decoder": str(decoder_brick)}, model={"encoder": tiny_encoder("auto")})
    run(config, "train.freeze=decoder", "train.seed=7")
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors")
    brick = load_brick(decoder_brick)
    for name, value in brick.module.state_dict().items():
        assert torch.equal(ckpt.model[f"decoder.{name}"], value), f"frozen decoder changed: {name}"
    # α was fitted so that K/L on this data matches the decoder's mean K/L
    note = ckpt.extra["data"]["length_ratio_auto"]
    src_vocab = load_model(tmp_path / "run" / "checkpoint_last.safetensors").src_vocab
    src = [len(src_vocab.encode(s)) for s in tiny_corpus["train.de"].read_text().splitlines()]
    tgt = [len(brick.emits.encode(s)) for s in tiny_corpus["train.en"].read_text().splitlines()]
    alpha = ckpt.config.model.encoder.olc.ratio
    assert alpha == auto_ratio(brick.card["length_ratio"], src, tgt) == note["alpha"]
    assert ratio_stats(src, tgt, alpha)["mean"] == pytest.approx(brick.card["length_ratio"]["mean"], abs=0.01)
    assert ckpt.extra["data"]["length_ratio"]["alpha"] == note["alpha"]


def test_frozen_encoder_keeps_its_weights(decoder_brick, tiny_corpus, tiny_vocabs, tmp_path):
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "c.yaml", train=TRAIN)
    trainer = Trainer(build_run(load_config(config, ["train.freeze=encoder"]), progress=False), progress=False)
    before = {k: v.clone() for k, v in trainer.model.encoders[0].state_dict().items()}
    decoder_before = {k: v.clone() for k, v in trainer.model.decoder.state_dict().items()}
    trainer.run()
    assert all(torch.equal(v, trainer.model.encoders[0].state_dict()[k]) for k, v in before.items())
    assert any(not torch.equal(v, trainer.model.decoder.state_dict()[k]) for k, v in decoder_before.items())


@pytest.mark.parametrize("overrides, needle", [
    (["model.encoder.olc.ratio=auto"], "needs init.decoder"),
    (["train.freeze=encoder,decoder"], "nothing would train"),
    (["train.freeze=middle"], "train.freeze"),
])
def test_config_errors(tiny_corpus, tiny_vocabs, tmp_path, overrides, needle):
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "c.yaml", train=TRAIN)
    with pytest.raises(LegoError, match=needle):
        run(config, *overrides)


def test_brick_must_match_model_section(decoder_brick, tiny_corpus, tiny_vocabs, tmp_path):
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "c.yaml", train=TRAIN,
                       init={"decoder": str(decoder_brick)})
    with pytest.raises(LegoError, match=r"\(ar_layers: config 2, brick 1\)"):
        run(config, "model.decoder.ar_layers=2")


def test_brick_must_speak_the_run_vocabulary(decoder_brick, tiny_corpus, tiny_vocabs, tmp_path):
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "c.yaml", train=TRAIN,
                       init={"decoder": str(decoder_brick)})
    # the German vocabulary as target: the brick reads English marginals
    with pytest.raises(LegoError, match=r"brick reads vocabulary .* but data.tgt_vocab"):
        run(config, f"data.tgt_vocab={tiny_vocabs['de']}", f"data.train_tgt={tiny_corpus['train.de']}",
            f"data.valid_tgt={tiny_corpus['val.de']}")


def test_baseline_cannot_start_from_bricks(decoder_brick, tiny_corpus, tiny_vocabs, tmp_path):
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "c.yaml", train=TRAIN,
                       init={"decoder": str(decoder_brick)})
    with pytest.raises(LegoError, match="baseline"):
        run(config, "model.arch=baseline")


def test_auto_ratio_from_a_decoder_it_does_not_start_from(decoder_brick, tiny_corpus, tiny_vocabs, tmp_path):
    """An X→En model with its own fresh decoder, α fitted to the De→En decoder it will later feed."""
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "c.yaml", train=TRAIN,
                       init={"length_ratio_from": str(decoder_brick)}, model={"encoder": tiny_encoder("auto")})
    trainer = Trainer(build_run(load_config(config), progress=False), progress=False)
    brick = load_brick(decoder_brick)
    assert isinstance(trainer.cfg.model.encoder.olc.ratio, float)
    assert trainer.spec.extra["data"]["length_ratio_auto"]["decoder"] == str(decoder_brick)
    fresh = trainer.model.decoder.state_dict()
    assert any(not torch.equal(v, fresh[k]) for k, v in brick.module.state_dict().items())


def test_fine_tune_a_composition_with_a_module_frozen(tiny_corpus, tiny_vocabs, tmp_path):
    """init.composed: the whole chain of a `legonn compose` folder trains on; its checkpoint rebuilds it."""
    from legonn.bricks import compose

    first = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "a", tmp_path / "a.yaml")
    Trainer(build_run(load_config(first, []), progress=False), resume=False, progress=False).run()
    loaded = load_model(tmp_path / "a" / "checkpoint_last.safetensors")
    cards = [export_brick(loaded.model, loaded.checkpoint, m, tmp_path / "bricks") for m in ("encoder", "decoder")]
    compose(cards, tmp_path / "composed")
    tuned = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "b", tmp_path / "b.yaml", init={"composed": str(tmp_path / "composed")},
                      train={"max_steps": 2, "freeze": ["module1"]})
    Trainer(build_run(load_config(tuned, []), progress=False), resume=False, progress=False).run()
    ckpt = load_checkpoint(tmp_path / "b" / "checkpoint_last.safetensors")
    assert [d["kind"] for d in ckpt.extra["composition"]] == ["encoder", "decoder"]
    before = loaded.checkpoint.model
    assert all(torch.equal(ckpt.model[k], before[k]) for k in before if k.startswith("decoder."))  # frozen
    assert any(not torch.equal(ckpt.model[k], before[k]) for k in before if k.startswith("encoders."))
    again = load_model(tmp_path / "b" / "checkpoint_last.safetensors")  # rebuilt from the stored composition
    assert all(torch.equal(v, ckpt.model[k]) for k, v in again.model.state_dict().items())
    with pytest.raises(LegoError, match="init.composed"):
        load_config(tuned, ["init.decoder=x.json"])
