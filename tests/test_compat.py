"""Files written before encoders became compositions still load and compute the same.

tests/fixtures/v1 was written by legonn at 3816ae0 (tests/fixtures/v1/make_v1.py): a LegoNN checkpoint
(format legonn-checkpoint-1: flat model section, best_bleu) and the two bricks exported from it
(legonn-brick-1: per-input encoder kinds, flat constructor configs, front-end weights at the top
level), with the logits and interface marginals that code computed on a fixed input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from legonn.bricks import BRICK_FORMAT, export_brick, load_brick, read_card
from legonn.checkpoint import load_checkpoint
from legonn.inference import load_model
from legonn.model import LegoModel

V1 = Path(__file__).parent / "fixtures" / "v1"
EXPECTED = json.loads((V1 / "expected.json").read_text())


def outputs(model) -> tuple[torch.Tensor, torch.Tensor]:
    model.eval()
    with torch.no_grad():
        logits, interfaces = model(torch.tensor(EXPECTED["tokens"]), torch.tensor(EXPECTED["lengths"]),
                                   torch.tensor(EXPECTED["prev"]))
    return logits, interfaces[0].log_probs


def assert_same_outputs(model) -> None:
    logits, log_probs = outputs(model)
    assert torch.allclose(logits, torch.tensor(EXPECTED["logits"]), atol=1e-5)
    assert torch.allclose(log_probs, torch.tensor(EXPECTED["interface_log_probs"]), atol=1e-5)


def test_a_v1_checkpoint_loads_into_the_nested_config_and_one_best():
    ckpt = load_checkpoint(V1 / "checkpoint.safetensors")
    model = ckpt.config.model
    assert model.encoder.frontend.kind == "tokens" and model.encoder.layers == 1
    assert (model.encoder.olc.ratio, model.encoder.olc.layers, model.encoder.olc.max_positions) == (1.5, 1, 64)
    assert model.decoder.ingestor.kind == "beamconv" and model.decoder.ingestor.beam == 2
    assert (model.decoder.layers, model.decoder.ar_layers, model.encoder.dim) == (1, 1, 16)
    assert ckpt.state.best == 12.5 and ckpt.state.best_on == "valid_bleu" and ckpt.state.step == 7
    assert ckpt.task.input == "text" and ckpt.task.metric == "bleu"
    assert any(k.startswith("encoders.0.frontend.embed.") for k in ckpt.model)
    assert any(k.startswith("decoder.frontend.ingestor.") for k in ckpt.model)
    assert "decoder.ar.embed.weight" in ckpt.model  # the autoregressive decoder's own embedding stays put


def test_a_v1_checkpoint_computes_what_it_computed_when_written():
    assert_same_outputs(load_model(V1 / "checkpoint.safetensors").model)


def test_v1_bricks_load_converted_with_their_weight_hashes_checked_and_compose_to_the_same_model():
    encoder, decoder = load_brick(V1 / "bricks" / "enc.json"), load_brick(V1 / "bricks" / "dec.json")
    assert encoder.card["kind"] == "encoder" and encoder.card["converted_from"] == "legonn-brick-1"
    assert encoder.card["config"]["frontend"] == {"kind": "tokens"}
    assert encoder.card["config"]["olc"] == {"ratio": 1.5, "layers": 1, "max_positions": 64}
    assert decoder.card["config"]["ingestor"] == {"kind": "beamconv", "beam": 2, "kernel": 3}
    assert encoder.card["metrics"]["best"] == 12.5 and "valid_bleu_greedy" not in encoder.card["metrics"]
    assert_same_outputs(LegoModel([encoder.module], decoder.module))


def test_a_v1_brick_with_a_corrupted_weight_file_still_fails_its_hash(tmp_path):
    for f in (V1 / "bricks").iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    weights = tmp_path / "enc.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(Exception, match="SHA-256"):
        load_brick(tmp_path / "enc.json")


def test_a_brick_exported_from_a_v1_checkpoint_is_written_in_the_new_format(tmp_path):
    loaded = load_model(V1 / "checkpoint.safetensors")
    card_path = export_brick(loaded.model, loaded.checkpoint, "encoder", tmp_path)
    card = json.loads(card_path.read_text())
    assert card["format"] == BRICK_FORMAT and card["kind"] == "encoder" and "converted_from" not in card
    assert card["config"] == read_card(V1 / "bricks" / "enc.json")["config"]
    assert card["training"]["input"] == "text"
    rebuilt = load_brick(card_path)
    assert all(k.startswith(("frontend.", "group1.", "olc.", "norm1.", "head.")) for k in rebuilt.module.state_dict())


def test_legonn_convert_rewrites_a_v1_checkpoint_and_bricks_that_compute_the_same(tmp_path):
    from clitools import legonn

    converted = tmp_path / "checkpoint.safetensors"
    proc = legonn("convert", V1 / "checkpoint.safetensors", "-o", converted)
    assert proc.returncode == 0, proc.stderr
    from safetensors import safe_open

    with safe_open(str(converted), "pt") as f:
        assert f.metadata()["format"] == "legonn-checkpoint-2"
    assert_same_outputs(load_model(converted).model)
    for name in ("enc", "dec"):
        proc = legonn("convert", V1 / "bricks" / f"{name}.json", "-o", tmp_path / "bricks")
        assert proc.returncode == 0, proc.stderr
    card = json.loads((tmp_path / "bricks" / "enc.json").read_text())
    assert card["format"] == BRICK_FORMAT and card["converted_from"] == "legonn-brick-1"
    encoder, decoder = load_brick(tmp_path / "bricks" / "enc.json"), load_brick(tmp_path / "bricks" / "dec.json")
    assert_same_outputs(LegoModel([encoder.module], decoder.module))
    again = legonn("convert", tmp_path / "bricks" / "enc.json", "-o", tmp_path / "again")
    assert again.returncode == 1 and "already a legonn-brick-2 card" in again.stderr.decode()
