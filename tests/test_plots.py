"""Plots: curves from a metrics log and a marginals heat map are written as real PNG files."""

import json

import pytest
import torch

from legonn.errors import LegoError
from legonn.interface import Marginals
from legonn.plots import _metrics_and_label, marginals_heatmap, training_curves
from legonn.vocab import Vocabulary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_training_curves_writes_png(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    records = [{"step": s, "loss": 5.0 / s, "nll": 4.0 / s, "ctc": [3.0 / s]} for s in range(1, 6)]
    records += [{"step": 5, "epoch": 1, "valid_bleu": 3.0, "valid_ctc0_bleu": 1.0}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    out = tmp_path / "curves.png"
    training_curves([run], out)
    assert out.read_bytes().startswith(PNG_MAGIC)


def test_training_curves_read_a_metrics_log_kept_beside_the_results(tmp_path):
    log = tmp_path / "lego-wemb.metrics.jsonl"
    log.write_text(json.dumps({"step": 1, "loss": 2.0, "nll": 1.5}) + "\n"
                   + json.dumps({"step": 1, "epoch": 1, "valid_bleu": 3.0}) + "\n")
    assert _metrics_and_label(log) == (log, "lego-wemb")
    assert _metrics_and_label(tmp_path) == (tmp_path / "metrics.jsonl", tmp_path.name)
    out = tmp_path / "curves.png"
    training_curves([log], out)
    assert out.read_bytes().startswith(PNG_MAGIC)


def _log(path, valid: dict):
    path.write_text(json.dumps({"step": 1, "loss": 2.0, "nll": 1.5, "ctc": [1.0]}) + "\n"
                    + json.dumps({"step": 1, "epoch": 1, **valid}) + "\n")
    return path


def test_training_curves_plot_wer_for_speech_runs_and_refuse_to_mix_it_with_bleu(tmp_path):
    speech = _log(tmp_path / "lego-wemb.metrics.jsonl", {"valid_wer": 52.9, "valid_ctc0_wer": 42.4})
    chain = _log(tmp_path / "speech-to-phonemes.metrics.jsonl", {"valid_wer": 80.0, "valid_ctc0_wer": 60.0})
    out = tmp_path / "curves.png"
    assert training_curves([speech, chain], out) == "WER"
    assert out.read_bytes().startswith(PNG_MAGIC)
    text = _log(tmp_path / "de-en.metrics.jsonl", {"valid_bleu": 30.0, "valid_ctc1_bleu": 20.0})
    assert training_curves([text], out) == "BLEU"
    with pytest.raises(LegoError, match=r"mix BLEU \(de-en\) and WER \(lego-wemb, speech-to-phonemes\)"):
        training_curves([speech, text, chain], out)


def test_training_curves_names_bad_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\nnot json\n')
    with pytest.raises(LegoError, match=r"metrics.jsonl:2"):
        training_curves([tmp_path], tmp_path / "x.png")


def test_marginals_heatmap_writes_png(tiny_vocabs, tmp_path):
    vocab = Vocabulary.load(tiny_vocabs["en"])
    log_probs = torch.randn(2, 7, len(vocab)).log_softmax(-1)
    m = Marginals(log_probs, torch.tensor([7, 4]), vocab.id)
    out = tmp_path / "m.png"
    marginals_heatmap(m, vocab, out, row=1, title="test")
    assert out.read_bytes().startswith(PNG_MAGIC)
