"""Modules: OLC lengths, TextEncoder marginals, ingestors (WEmb / BeamConv), Decoder, LegoModel, Baseline."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from torch import nn

from legonn.interface import Marginals, VocabId, VocabMismatch
from legonn.losses import label_smoothed_ce
from legonn.config import build_section
from legonn.errors import LegoError
from legonn.model import LegoModel, ModelConfig, build_model
from legonn.modules import (
    INGESTORS,
    Baseline,
    BaselineConfig,
    BeamConv,
    BeamConvConfig,
    DecoderConfig,
    EncoderConfig,
    InterfaceEncoder,
    OLCConfig,
    OutputLengthController,
    WeightedEmbedding,
    build_decoder,
    build_encoder,
)
from legonn.length_stats import controlled_lengths
from legonn.nn import Dropout, MultiHeadAttention

DIM, HEADS, FF = 16, 2, 32
SRC_V, TGT_V = 40, 30
VOCAB = VocabId("e" * 64, TGT_V, 0)
SRC_VOCAB = VocabId("s" * 64, SRC_V, 0)
OTHER = VocabId("f" * 64, TGT_V, 0)


def tokens_batch(lengths: list[int], vocab_size: int = SRC_V, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random non-special ids (4..V-1), 0-padded, B × max(lengths)."""
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    x = torch.randint(4, vocab_size, (len(lengths), t), generator=g)
    for i, n in enumerate(lengths):
        x[i, n:] = 0
    return x, torch.tensor(lengths)


def random_marginals(b: int, k: int, lengths: list[int], vocab: VocabId = VOCAB, seed: int = 0) -> Marginals:
    g = torch.Generator().manual_seed(seed)
    lp = (3 * torch.randn(b, k, vocab.size, generator=g)).log_softmax(-1)
    return Marginals(lp, torch.tensor(lengths), vocab)


SIZES = {"dim": DIM, "heads": HEADS, "ff_dim": FF}


def encoder_config(ratio: float = 2.0, dropout: float = 0.0) -> EncoderConfig:
    return EncoderConfig(**SIZES, dropout=dropout, layers=1, olc=OLCConfig(ratio=ratio, layers=1, max_positions=64))


def decoder_config(ingestor: str = "wemb", dropout: float = 0.0) -> DecoderConfig:
    return DecoderConfig(ingestor=INGESTORS[ingestor](), **SIZES, dropout=dropout, layers=1, ar_layers=1)


def text_encoder(ratio: float = 2.0, seed: int = 0, emits: VocabId = VOCAB) -> InterfaceEncoder:
    torch.manual_seed(seed)
    return build_encoder(encoder_config(ratio), reads=SRC_VOCAB, emits=emits).eval()


def lego(ingestor: str = "wemb", seed: int = 0, dropout: float = 0.0) -> LegoModel:
    torch.manual_seed(seed)
    cfg = ModelConfig(encoder=encoder_config(dropout=dropout), decoder=decoder_config(ingestor, dropout))
    return build_model(cfg, SRC_VOCAB, VOCAB)


# --- Output Length Controller -------------------------------------------------------------------


@pytest.mark.parametrize(
    "ratio, lengths, expected",
    [
        (1.5, [4, 3, 1], [6, 5, 2]),  # 1.5·4 = 6 exactly must not become 7
        (0.5, [4, 3, 1], [2, 2, 1]),  # ceil(0.5) = 1
        (2.0, [5, 1], [10, 2]),
        (0.1, [30, 11], [3, 2]),  # 0.1·30 = 3.0000000000000004 in floating point
        (1.1, [10, 20], [11, 22]),  # 1.1·10 = 11.000000000000002
    ],
)
def test_controlled_lengths(ratio, lengths, expected):
    out = controlled_lengths(torch.tensor(lengths), ratio)
    assert out.tolist() == expected
    exact = [max(1, math.ceil(Fraction(str(ratio)) * t)) for t in lengths]
    assert out.tolist() == exact


def test_controlled_lengths_matches_exact_ceil_over_range():
    t = torch.arange(1, 200)
    for ratio in (0.3, 0.5, 0.7, 1.2, 1.5, 2.0, 2.5, 3.3):
        exact = [math.ceil(Fraction(str(ratio)) * int(n)) for n in t]
        assert controlled_lengths(t, ratio).tolist() == exact, ratio


@pytest.mark.parametrize("ratio, lengths, expected", [(1.5, [4, 3, 1], [6, 5, 2]), (0.5, [4, 3, 1], [2, 2, 1])])
def test_olc_output_shape_lengths_and_mask(ratio, lengths, expected):
    torch.manual_seed(0)
    olc = OutputLengthController(DIM, HEADS, FF, 1, ratio, max_positions=32, dropout=0.0).eval()
    x = torch.randn(len(lengths), max(lengths), DIM)
    y, out_lengths = olc(x, torch.tensor(lengths))
    assert out_lengths.tolist() == expected
    assert y.shape == (len(lengths), max(expected), DIM)
    assert torch.isfinite(y).all()


def test_olc_valid_outputs_ignore_padded_inputs():
    torch.manual_seed(0)
    olc = OutputLengthController(DIM, HEADS, FF, 2, 1.5, max_positions=32, dropout=0.0).eval()
    x = torch.randn(2, 5, DIM)
    lengths = torch.tensor([5, 3])
    with torch.no_grad():
        y1, _ = olc(x, lengths)
        x2 = x.clone()
        x2[1, 3:] = 100 * torch.randn(2, DIM)  # garbage in the padding
        y2, _ = olc(x2, lengths)
    assert torch.allclose(y1[1, :5], y2[1, :5], atol=1e-5)  # K = ceil(1.5·3) = 5 valid outputs


def test_olc_rejects_too_long_and_bad_ratio():
    olc = OutputLengthController(DIM, HEADS, FF, 1, 2.0, max_positions=8, dropout=0.0)
    with pytest.raises(ValueError, match="max_positions"):
        olc(torch.randn(1, 5, DIM), torch.tensor([5]))
    with pytest.raises(ValueError, match="positive"):
        OutputLengthController(DIM, HEADS, FF, 1, 0.0)


# --- TextEncoder --------------------------------------------------------------------------------


def test_text_encoder_emits_normalised_marginals():
    enc = text_encoder(ratio=1.5)
    tokens, lengths = tokens_batch([4, 3, 1])
    with torch.no_grad():
        m = enc(tokens, lengths)
    assert isinstance(m, Marginals)
    assert m.vocab == VOCAB
    assert m.log_probs.shape == (3, 6, TGT_V)
    assert m.log_probs.dtype == torch.float32
    assert m.lengths.tolist() == [6, 5, 2]
    assert torch.allclose(m.log_probs.logsumexp(-1), torch.zeros(3, 6), atol=1e-5)
    assert m.padding_mask.tolist()[2] == [False, False, True, True, True, True]


def test_text_encoder_valid_positions_do_not_depend_on_padding():
    enc = text_encoder(ratio=2.0)
    long, _ = tokens_batch([7], seed=1)
    short, _ = tokens_batch([3], seed=2)
    batch = torch.zeros(2, 7, dtype=torch.long)
    batch[0], batch[1, :3] = long[0], short[0]
    with torch.no_grad():
        both = enc(batch, torch.tensor([7, 3]))
        alone = enc(short, torch.tensor([3]))
    assert both.lengths.tolist() == [14, 6]
    assert alone.log_probs.shape == (1, 6, TGT_V)
    assert torch.allclose(both.log_probs[1, :6], alone.log_probs[0], atol=1e-5)


def test_text_encoder_same_in_grad_and_no_grad_paths():
    """Training uses a plain-math attention, inference SDPA: both must agree."""
    enc = text_encoder()
    tokens, lengths = tokens_batch([5, 2])
    with torch.no_grad():
        a = enc(tokens, lengths).log_probs
    b = enc(tokens, lengths).log_probs.detach()
    valid = ~enc(tokens, lengths).padding_mask
    assert torch.allclose(a[valid], b[valid], atol=1e-5)


# --- layers -------------------------------------------------------------------------------------


def test_dropout_eval_is_identity_and_train_rescales():
    torch.manual_seed(0)
    d = Dropout(0.25)
    x = torch.ones(200_000)
    y = d(x)
    kept = (y != 0).float().mean().item()
    assert kept == pytest.approx(0.75, abs=0.01)
    assert y.mean().item() == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the expectation
    assert torch.equal(d.eval()(x), x)
    assert torch.equal(Dropout(0.0)(x), x)
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_attention_math_and_sdpa_agree_with_masks():
    torch.manual_seed(0)
    mha = MultiHeadAttention(DIM, HEADS)
    x, mem = torch.randn(2, 5, DIM), torch.randn(2, 4, DIM)
    kpm = torch.tensor([[False] * 4, [False, False, True, True]])
    for kwargs in ({"causal": True}, {"memory": mem, "key_padding_mask": kpm}):
        grad_path = mha(x, **kwargs).detach()
        with torch.no_grad():
            sdpa_path = mha(x, **kwargs)
        assert torch.allclose(grad_path, sdpa_path, atol=1e-5)


def test_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)


# --- WeightedEmbedding --------------------------------------------------------------------------


def test_wemb_rf1_is_expected_embedding():
    torch.manual_seed(0)
    wemb = WeightedEmbedding(TGT_V, DIM, 1)
    m = random_marginals(2, 5, [5, 3])
    h = wemb(m)
    assert h.shape == (2, 5, DIM)
    expected = m.log_probs.exp() @ wemb.embed * math.sqrt(DIM)  # probs @ E, scaled like a token embedding
    assert torch.allclose(h, expected, atol=1e-6)


def test_wemb_one_hot_marginals_select_embedding_rows():
    torch.manual_seed(0)
    wemb = WeightedEmbedding(TGT_V, DIM, 1)
    ids = torch.tensor([[5, 7, 0]])
    lp = torch.full((1, 3, TGT_V), -1e4)
    lp.scatter_(-1, ids.unsqueeze(-1), 0.0)
    h = wemb(Marginals(lp.log_softmax(-1), torch.tensor([3]), VOCAB))
    assert torch.allclose(h[0], wemb.embed[ids[0]] * math.sqrt(DIM), atol=1e-5)


@pytest.mark.parametrize("rf", [1, 3])
def test_wemb_is_differentiable_wrt_marginals(rf):
    torch.manual_seed(0)
    wemb = WeightedEmbedding(TGT_V, DIM, rf)
    logits = torch.randn(2, 5, TGT_V, requires_grad=True)
    m = Marginals(logits.log_softmax(-1), torch.tensor([5, 3]), VOCAB)
    (wemb(m) * torch.randn(2, 5, DIM)).sum().backward()
    assert logits.grad is not None
    assert logits.grad[0].abs().sum() > 0 and logits.grad[1, :3].abs().sum() > 0


def test_wemb_rf3_zeroes_padding():
    torch.manual_seed(0)
    wemb = WeightedEmbedding(TGT_V, DIM, 3)
    m = random_marginals(2, 6, [6, 3])
    h = wemb(m)
    assert h.shape == (2, 6, DIM)
    lp2 = m.log_probs.clone()
    lp2[1, 3:] = (10 * torch.randn(3, TGT_V)).log_softmax(-1)  # different garbage in the padding
    h2 = wemb(Marginals(lp2, m.lengths, VOCAB))
    assert torch.allclose(h[1, :3], h2[1, :3], atol=1e-6)
    # the last valid position sees zeros to its right, exactly like a sequence of length 3 alone
    alone = wemb(Marginals(m.log_probs[1:, :3], torch.tensor([3]), VOCAB))
    assert torch.allclose(h[1, :3], alone[0], atol=1e-6)
    # and it is a real width-3 convolution: position 1 differs from a width-1 reading of the same input
    probs = m.log_probs[0].exp()
    w = wemb.conv.weight  # D × V × 3
    manual = sum(probs[1 + j - 1] @ w[:, :, j].t() for j in range(3)) * math.sqrt(DIM)
    assert torch.allclose(h[0, 1], manual, atol=1e-5)


@pytest.mark.parametrize("rf", [0, 2, -1])
def test_wemb_rejects_even_or_nonpositive_rf(rf):
    with pytest.raises(ValueError, match="receptive_field"):
        WeightedEmbedding(TGT_V, DIM, rf)


# --- BeamConv -----------------------------------------------------------------------------------


def test_beamconv_shape_and_depends_only_on_top_p_indices():
    torch.manual_seed(0)
    bc = BeamConv(TGT_V, DIM, beam=4, kernel=3)
    m = random_marginals(2, 5, [5, 5])
    h = bc(m)
    assert h.shape == (2, 5, DIM)
    # a monotone transform keeps every rank: same output
    sharpened = Marginals((3 * m.log_probs).log_softmax(-1), m.lengths, VOCAB)
    assert torch.allclose(bc(sharpened), h, atol=1e-6)
    # swapping the top-1 and top-2 classes at one position changes the output
    lp = m.log_probs.clone()
    top = lp[0, 2].topk(2).indices
    lp[0, 2, top[0]], lp[0, 2, top[1]] = lp[0, 2, top[1]].clone(), lp[0, 2, top[0]].clone()
    assert not torch.allclose(bc(Marginals(lp, m.lengths, VOCAB))[0, 2], h[0, 2], atol=1e-4)


def test_beamconv_passes_no_gradient_to_marginals():
    torch.manual_seed(0)
    bc = BeamConv(TGT_V, DIM, beam=3, kernel=3)
    logits = torch.randn(2, 5, TGT_V, requires_grad=True)
    out = bc(Marginals(logits.log_softmax(-1), torch.tensor([5, 2]), VOCAB))
    out.sum().backward()
    assert logits.grad is None
    assert bc.embed.weight.grad is not None and bc.embed.weight.grad.abs().sum() > 0


def test_beamconv_valid_positions_ignore_padding():
    torch.manual_seed(0)
    bc = BeamConv(TGT_V, DIM, beam=4, kernel=3)
    m = random_marginals(2, 6, [6, 3])
    alone = bc(Marginals(m.log_probs[1:, :3], torch.tensor([3]), VOCAB))
    assert torch.allclose(bc(m)[1, :3], alone[0], atol=1e-6)


def test_build_ingestor_kinds():
    assert isinstance(INGESTORS["wemb"]().build(vocab_size=TGT_V, dim=DIM), WeightedEmbedding)
    assert isinstance(BeamConvConfig(beam=4, kernel=3).build(vocab_size=TGT_V, dim=DIM), BeamConv)
    with pytest.raises(LegoError, match=r"model.decoder.ingestor.kind': unknown kind 'attention' \(known: wemb, beamconv"):
        build_section(ModelConfig, {"decoder": {"ingestor": {"kind": "attention"}}}, "model")
    with pytest.raises(ValueError, match="kernel"):
        BeamConv(TGT_V, DIM, 4, 2)


# --- gradient isolation through the whole model (the key property of BeamConv) -----------------


def _decoder_ce_backward(model: LegoModel) -> None:
    tokens, lengths = tokens_batch([6, 4], seed=3)
    g = torch.Generator().manual_seed(4)
    y = torch.randint(4, TGT_V, (2, 5), generator=g)
    y[1, 3:] = 0
    prev = torch.cat([torch.full((2, 1), 2), y[:, :-1]], 1)
    logits, interfaces = model(tokens, lengths, prev)
    assert len(interfaces) == 1 and interfaces[0].log_probs.requires_grad
    ce, _ = label_smoothed_ce(logits, y, 0.1)
    ce.backward()


def _grad_norm(params) -> float:
    return sum(float(p.grad.abs().sum()) for p in params if p.grad is not None)


def test_beamconv_decoder_loss_never_reaches_encoder():
    model = lego("beamconv")
    _decoder_ce_backward(model)
    encoder = model.encoders[0]
    for name, p in encoder.named_parameters():
        assert p.grad is None or not p.grad.any(), f"encoder parameter {name} got gradient through BeamConv"
    for name, p in model.decoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"decoder parameter {name} got no gradient"


def test_wemb_decoder_loss_reaches_encoder():
    model = lego("wemb")
    _decoder_ce_backward(model)
    encoder = model.encoders[0]
    assert _grad_norm(encoder.parameters()) > 0
    # it reaches all the way down: interface head, OLC and the source embedding
    assert encoder.head.proj.weight.grad.abs().sum() > 0
    assert _grad_norm(encoder.olc.parameters()) > 0
    assert encoder.frontend.embed.weight.grad.abs().sum() > 0
    assert _grad_norm(model.decoder.parameters()) > 0


# --- Decoder / LegoModel / Baseline -------------------------------------------------------------


def test_decoder_encode_rejects_other_vocab():
    torch.manual_seed(0)
    dec = build_decoder(decoder_config(), reads=VOCAB, emits=VOCAB)
    with pytest.raises(VocabMismatch, match="decoder input"):
        dec.encode(random_marginals(1, 4, [4], vocab=OTHER))
    with pytest.raises(VocabMismatch):
        dec(random_marginals(1, 4, [4], vocab=OTHER), torch.tensor([[2, 5]]))
    enc = dec.encode(random_marginals(1, 4, [4]))
    assert enc.memory.shape == (1, 4, DIM)


def test_decoder_rejects_marginals_of_other_size():
    dec = build_decoder(decoder_config(), reads=VOCAB, emits=VOCAB)
    bigger = VocabId(VOCAB.fingerprint, TGT_V + 1, 0)
    with pytest.raises(VocabMismatch):
        dec.encode(random_marginals(1, 4, [4], vocab=bigger))


def test_lego_model_rejects_vocab_mismatch():
    torch.manual_seed(0)
    enc = text_encoder(emits=OTHER)
    dec = build_decoder(decoder_config(), reads=VOCAB, emits=VOCAB)
    with pytest.raises(VocabMismatch) as info:
        LegoModel([enc], dec)
    msg = str(info.value)
    assert "link 0 → 1" in msg
    assert OTHER.fingerprint[:12] in msg and VOCAB.fingerprint[:12] in msg
    # matching vocabularies compose
    ok = LegoModel([text_encoder()], dec)
    assert ok.ar is dec.ar


@pytest.mark.parametrize("ingestor", ["wemb", "beamconv"])
def test_lego_model_forward_shapes(ingestor):
    model = lego(ingestor).eval()
    tokens, lengths = tokens_batch([5, 3])
    prev = torch.tensor([[2, 5, 6, 7], [2, 8, 0, 0]])
    with torch.no_grad():
        logits, interfaces = model(tokens, lengths, prev)
        enc = model.encode(tokens, lengths)
    assert logits.shape == (2, 4, TGT_V)
    assert torch.isfinite(logits).all()
    (m,) = interfaces
    assert m.log_probs.shape == (2, 10, TGT_V) and m.lengths.tolist() == [10, 6]
    assert enc.memory.shape == (2, 10, DIM)
    assert enc.padding_mask.tolist()[1] == [False] * 6 + [True] * 4
    assert len(enc.interfaces) == 1


@pytest.mark.parametrize("ingestor", ["wemb", "beamconv"])
def test_lego_model_logits_do_not_depend_on_batch_padding(ingestor):
    model = lego(ingestor, seed=1).eval()
    long, _ = tokens_batch([7], seed=5)
    short, _ = tokens_batch([3], seed=6)
    batch = torch.zeros(2, 7, dtype=torch.long)
    batch[0], batch[1, :3] = long[0], short[0]
    prev = torch.tensor([[2, 5, 6, 7], [2, 8, 9, 0]])
    with torch.no_grad():
        both, _ = model(batch, torch.tensor([7, 3]), prev)
        alone, _ = model(short, torch.tensor([3]), prev[1:, :3])
    assert torch.allclose(both[1, :3], alone[0], atol=1e-5)


def test_build_model_baseline_and_unknown_arch():
    torch.manual_seed(0)
    base = build_model(ModelConfig(arch="baseline", baseline=baseline_config()), SRC_VOCAB, VOCAB)
    assert isinstance(base, Baseline)
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model(ModelConfig(arch="rnn"), SRC_VOCAB, VOCAB)


def baseline_config(**kw) -> BaselineConfig:
    return BaselineConfig(**SIZES, dropout=0.0, encoder_layers=1, decoder_layers=1, **kw)


def test_baseline_forward_shapes_and_padding_independence():
    torch.manual_seed(0)
    base = Baseline(baseline_config(), src_vocab=SRC_VOCAB, tgt_vocab=VOCAB).eval()
    tokens, lengths = tokens_batch([6, 2])
    prev = torch.tensor([[2, 5, 6], [2, 7, 8]])
    with torch.no_grad():
        logits, interfaces = base(tokens, lengths, prev)
        alone, _ = base(tokens[1:, :2], lengths[1:], prev[1:])
    assert logits.shape == (2, 3, TGT_V)
    assert interfaces == []
    assert torch.allclose(logits[1], alone[0], atol=1e-5)
    enc = base.encode(tokens, lengths)
    assert enc.memory.shape == (2, 6, DIM) and enc.interfaces == []


def test_baseline_encoder_ctc_head_reads_out_the_target_vocabulary():
    torch.manual_seed(0)
    base = build_model(ModelConfig(arch="baseline", baseline=baseline_config(encoder_ctc=True)), SRC_VOCAB,
                       VOCAB).eval()
    tokens, lengths = tokens_batch([6, 2])
    with torch.no_grad():
        logits, interfaces = base(tokens, lengths, torch.tensor([[2, 5, 6], [2, 7, 8]]))
    (head,) = interfaces
    assert head.vocab == VOCAB and head.log_probs.shape == (2, 6, TGT_V)
    assert torch.equal(head.lengths, lengths)
    assert torch.allclose(head.log_probs.exp().sum(-1), torch.ones(2, 6), atol=1e-5)
    assert logits.shape == (2, 3, TGT_V)
    with pytest.raises(TypeError):  # the vocabularies are keyword-only and required: the head cannot lack one
        Baseline(baseline_config(encoder_ctc=True))


def test_output_projection_is_tied_to_embedding():
    model = lego()
    ar = model.ar
    assert isinstance(ar.embed, nn.Embedding)
    x = torch.randn(1, 2, DIM)
    assert torch.allclose(ar._project(x), ar.norm(x) @ ar.embed.weight.t())


def test_wemb_with_receptive_field_has_no_unused_embedding():
    """Every parameter must get a gradient (DDP insists): RF > 1 uses only its convolution."""
    from legonn.modules.ingestors import WeightedEmbedding
    names = {n for n, _ in WeightedEmbedding(20, 8, receptive_field=3).named_parameters()}
    assert names == {"conv.weight"}
