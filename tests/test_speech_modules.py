"""Speech encoders and encoders that read marginals: shapes, lengths, masking, vocabulary checks, and a chain of three
modules (speech → phonemes → sub-words → decoder) whose every hand-over is a checked `Marginals`."""

from __future__ import annotations

import json

import pytest
import torch

from legonn.interface import Marginals, VocabId, VocabMismatch
from legonn.model import LegoModel
from legonn.modules import (INGESTORS, DecoderConfig, EncoderConfig, FilterbankSubsampling, InterfaceEncoder,
                            MarginalIngest, OLCConfig, build_decoder, build_encoder)
from legonn.nn import Conv2dSubsampling, subsampled_lengths

PHONES = VocabId("phones-fingerprint", 50)
WORDS = VocabId("words-fingerprint", 120)
SMALL = dict(dim=32, heads=2, ff_dim=64, layers=1, dropout=0.0)
SPEECH = FilterbankSubsampling.Config(feature_dim=80, channels=8)


def speech_encoder(length_ratio: float = 0.5) -> InterfaceEncoder:
    cfg = EncoderConfig(frontend=SPEECH, **SMALL, olc=OLCConfig(ratio=length_ratio))
    return build_encoder(cfg, reads=None, emits=PHONES).eval()


def marginal_encoder(reads: VocabId, emits: VocabId, ingestor: str = "wemb", length_ratio: float = 1.0):
    frontend = MarginalIngest.Config(ingestor=INGESTORS[ingestor]())
    return build_encoder(EncoderConfig(frontend=frontend, **SMALL, olc=OLCConfig(ratio=length_ratio)),
                         reads=reads, emits=emits)


# the tiny config's encoder turned into one that reads token marginals of the source
TOKEN_MARGINALS = ["model.token_marginals={}", "model.encoder.frontend.kind=marginals"]


def test_subsampling_lengths_match_the_convolutions():
    sub = Conv2dSubsampling(80, 16, channels=4)
    for t in (7, 8, 9, 10, 50, 101):
        out, lengths = sub(torch.randn(1, t, 80), torch.tensor([t]))
        assert out.shape == (1, int(lengths), 16) and int(lengths) == int(subsampled_lengths(torch.tensor(t)))
    assert int(subsampled_lengths(torch.tensor(100))) == 24  # ≈ T/4


def test_speech_encoder_emits_marginals_of_olc_length():
    enc = speech_encoder(length_ratio=0.5)
    feats, lengths = torch.randn(3, 120, 80), torch.tensor([120, 90, 40])
    m = enc(feats, lengths)
    sub = subsampled_lengths(lengths)
    assert m.vocab == PHONES and m.log_probs.shape[:2] == (3, int(torch.ceil(sub.max() * 0.5)))
    assert torch.equal(m.lengths, torch.ceil(sub * 0.5).long())
    assert torch.allclose(m.log_probs.exp().sum(-1), torch.ones(3, m.log_probs.size(1)), atol=1e-5)


def test_speech_encoder_ignores_padding():
    enc = speech_encoder()
    feats = torch.randn(1, 60, 80)
    alone = enc(feats, torch.tensor([60]))
    padded = enc(torch.cat([feats, torch.randn(1, 40, 80)], 1), torch.tensor([60]))
    k = int(alone.lengths[0])
    assert torch.allclose(alone.log_probs[0, :k], padded.log_probs[0, :k], atol=1e-5)


def test_speech_encoder_refuses_too_short_input():
    with pytest.raises(ValueError, match="too short"):
        speech_encoder()(torch.randn(1, 6, 80), torch.tensor([6]))


@pytest.mark.parametrize("ingestor", ["wemb", "beamconv"])
def test_marginal_encoder_maps_between_vocabularies(ingestor):
    enc = marginal_encoder(PHONES, WORDS, ingestor, length_ratio=0.75).eval()
    upstream = Marginals(torch.randn(2, 20, 50).log_softmax(-1), torch.tensor([20, 12]), PHONES)
    out = enc(upstream, upstream.lengths)
    assert out.vocab == WORDS and out.log_probs.shape == (2, 15, 120)
    assert torch.equal(out.lengths, torch.tensor([15, 9]))
    with pytest.raises(VocabMismatch):
        words = Marginals(torch.randn(2, 20, 120).log_softmax(-1), torch.tensor([20, 12]), WORDS)
        enc(words, words.lengths)


def test_three_module_chain_trains_end_to_end_through_wemb():
    speech = speech_encoder()
    middle = marginal_encoder(PHONES, WORDS)
    decoder = build_decoder(DecoderConfig(dim=32, heads=2, ff_dim=64, layers=1, ar_layers=1, dropout=0.0),
                            reads=WORDS, emits=WORDS)
    model = LegoModel([speech, middle], decoder).train()
    logits, interfaces = model(torch.randn(2, 80, 80), torch.tensor([80, 64]), torch.randint(4, 120, (2, 5)))
    assert logits.shape == (2, 5, 120) and [m.vocab for m in interfaces] == [PHONES, WORDS]
    logits.sum().backward()
    assert speech.frontend.subsample.proj.weight.grad is not None  # WEmb hand-overs are differentiable end to end
    words_to_words = marginal_encoder(WORDS, WORDS)
    with pytest.raises(VocabMismatch):
        LegoModel([speech, words_to_words], decoder)  # the speech encoder emits phonemes


@pytest.mark.parametrize("arch", ["lego", "baseline"])
def test_build_model_for_speech_input(arch):
    from legonn.config import build_section
    from legonn.errors import LegoError
    from legonn.model import ModelConfig, build_model

    sizes = {"dim": 32, "heads": 2, "ff_dim": 64, "dropout": 0.0}
    speech = {"kind": "speech", "feature_dim": 80, "channels": 8}
    section = ({"arch": "baseline", "baseline": {"frontend": speech, **sizes, "encoder_layers": 1, "decoder_layers": 1}}
               if arch == "baseline" else
               {"encoder": {"frontend": speech, **sizes, "layers": 1, "olc": {"ratio": 0.5}},
                "decoder": {**sizes, "ar_layers": 1}})
    model = build_model(build_section(ModelConfig, section, "model"), None, WORDS).eval()
    logits, interfaces = model(torch.randn(2, 60, 80), torch.tensor([60, 44]), torch.randint(4, 120, (2, 3)))
    assert logits.shape == (2, 3, 120) and len(interfaces) == (1 if arch == "lego" else 0)
    assert model.source_stride == 4
    with pytest.raises(LegoError, match="model.encoder.frontend.kind': unknown kind 'video'"):
        build_section(ModelConfig, {"encoder": {"frontend": {"kind": "video"}}}, "model")


def test_token_marginals_look_like_a_perfect_ctc_encoder():
    from legonn.modules import TokenMarginals, TokenMarginalsConfig

    tm = TokenMarginals(TokenMarginalsConfig(stretch=2.0, smoothing=0.1), PHONES)
    tokens, lengths = torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2])
    for mode in (tm.eval(), tm.train()):
        m = mode(tokens, lengths)
        assert m.vocab == PHONES and torch.equal(m.lengths, torch.tensor([6, 4]))
        assert m.greedy() == [[5, 6, 7], [8, 9]]  # the CTC readout is the input
        assert torch.allclose(m.log_probs.exp().sum(-1), torch.ones(2, 6))
        assert float(m.log_probs.exp().max()) == pytest.approx(0.9 + 0.1 / 50)
    with pytest.raises(ValueError, match="stretch"):
        TokenMarginals(TokenMarginalsConfig(stretch=0.5), PHONES)


def test_middle_of_a_chain_trains_from_text_and_exports_as_a_marginal_encoder(tiny_config, tmp_path):
    """model.token_marginals — TokenMarginals → an encoder reading marginals → Decoder; CTC only where the
    interface speaks the target vocabulary; the exported brick is an encoder reading the source vocabulary's
    marginals."""
    import json as _json

    from legonn.bricks import export_brick, load_brick
    from legonn.checkpoint import load_checkpoint
    from legonn.config import load_config
    from legonn.inference import load_model
    from legonn.assemble import build_run
    from legonn.train import Trainer

    cfg = load_config(tiny_config, [*TOKEN_MARGINALS, "model.token_marginals.stretch=2.0",
                                    "model.encoder.olc.ratio=1.0", "train.log_every=1", "train.max_steps=4",
                                    "train.valid_max_sentences=4"])
    trainer = Trainer(build_run(cfg, progress=False), resume=False, progress=False)
    trainer.run()
    records = [_json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "ctc" in r]
    assert steps and all(len(r["ctc"]) == 1 for r in steps)  # interface 0 (source tokens) has no CTC target
    validation = trainer.validate()
    assert "valid_ctc1_bleu" in validation and "valid_ctc0_bleu" not in validation
    loaded = load_model(tmp_path / "run" / "checkpoint_last.safetensors")
    assert [v.id for v in loaded.interface_vocabs] == [loaded.src_vocab.id, loaded.tgt_vocab.id]
    card = export_brick(loaded.model, loaded.checkpoint, "encoder", tmp_path / "bricks")
    brick = load_brick(card)
    assert brick.card["kind"] == "encoder" and brick.card["reads"]["type"] == "marginals"
    assert brick.card["config"]["frontend"] == {"kind": "marginals", "ingestor": {"kind": "wemb", "receptive_field": 1}}
    assert brick.reads.id == loaded.src_vocab.id and brick.emits.id == loaded.tgt_vocab.id
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors")
    assert ckpt.extra["data"]["length_ratio"]["alpha"] == 1.0


def test_upstream_encoder_fits_its_length_ratio_to_a_marginal_encoder_card(tiny_config, tiny_corpus, tiny_vocabs,
                                                                           tmp_path):
    """Chains: the module feeding an encoder of marginals gets α from its card's input_length_ratio (K_in per token)."""
    from clitools import TINY, tiny_yaml

    from legonn.bricks import export_brick
    from legonn.config import load_config
    from legonn.inference import load_model
    from legonn.length_stats import auto_ratio
    from legonn.assemble import build_run
    from legonn.train import Trainer

    cfg = load_config(tiny_config, [*TOKEN_MARGINALS, "model.token_marginals.stretch=2.5", "model.encoder.olc.ratio=1.0",
                                    "train.max_steps=1"])
    Trainer(build_run(cfg, progress=False), resume=False, progress=False).run()
    loaded = load_model(tmp_path / "run" / "checkpoint_last.safetensors")
    card_path = export_brick(loaded.model, loaded.checkpoint, "encoder", tmp_path / "bricks")
    stats = json.loads(card_path.read_text())["input_length_ratio"]
    assert stats["alpha"] == 2.5 and 2.5 <= stats["mean"] < 3.0  # ceil(2.5·T)/T
    # the upstream module: German → German "phonemes" here (its target vocabulary is what B reads)
    upstream = tiny_yaml({**tiny_corpus, "train.en": tiny_corpus["train.de"], "val.en": tiny_corpus["val.de"]},
                         {**tiny_vocabs, "en": tiny_vocabs["de"]}, tmp_path / "up", tmp_path / "up.yaml",
                         model={"encoder": {**TINY, "layers": 1, "olc": {"ratio": "auto"}}},
                         init={"length_ratio_from": str(card_path)})
    trainer = Trainer(build_run(load_config(upstream, []), progress=False), resume=False, progress=False)
    src = [len(s) for s in trainer.pairs.src]
    assert trainer.cfg.model.encoder.olc.ratio == auto_ratio(stats, src, [len(t) for t in trainer.pairs.tgt])
