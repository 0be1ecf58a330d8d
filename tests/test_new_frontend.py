"""A new front end is one class plus one row in `FRONTENDS`: nothing else in the library changes.

The toy here is a linear projection of each feature vector (no subsampling). Registered from this file
alone, it trains through the `legonn train` command, exports as a brick and loads back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
from click.testing import CliRunner
from torch import Tensor, nn

from legonn.bricks import export_brick, load_brick
from legonn.cli import main
from legonn.inference import load_model
from legonn.modules import FRONTENDS


class LinearFeatures(nn.Module):
    """Feature vectors B × T × F → B × T × D by one linear map; T' = T."""

    @dataclass(frozen=True)
    class Config:
        kind: str = "linear"
        feature_dim: int = 80
        reads: ClassVar[str] = "features"

        def output_lengths(self, lengths: Tensor) -> Tensor:
            return lengths

        def build(self, *, dim: int, dropout: float, vocab=None) -> "LinearFeatures":
            return LinearFeatures(self, dim)

    stride = 1
    in_vocab = None

    def __init__(self, cfg: Config, dim: int):
        super().__init__()
        self.cfg = cfg
        self.proj = nn.Linear(cfg.feature_dim, dim)

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.proj(features), lengths


@pytest.fixture
def linear_frontend(monkeypatch):
    monkeypatch.setitem(FRONTENDS, "linear", LinearFeatures.Config)  # the one table row


def test_a_registered_front_end_trains_through_the_cli_and_round_trips_as_a_brick(linear_frontend,
                                                                                   tiny_speech_config, tmp_path):
    result = CliRunner().invoke(main, ["train", str(tiny_speech_config), "--quiet", "--set",
                                       "model.encoder.frontend.kind=linear", "--set", "train.max_steps=3"])
    assert result.exit_code == 0, result.output
    assert "done: 3 steps" in result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["encoder"]["frontend"] == {"kind": "linear", "feature_dim": 80}
    loaded = load_model(tmp_path / "run" / "checkpoint_last.safetensors")
    encoder = loaded.model.encoders[0]
    assert isinstance(encoder.frontend, LinearFeatures) and loaded.task.speech
    # frames are not subsampled: the OLC reads T positions, so K = ⌈α·T⌉ with α = 1 is T
    summary = loaded.checkpoint.extra["data"]
    assert summary["length_ratio"]["source_per_target"] == pytest.approx(summary["frames"] / summary["tgt_tokens"],
                                                                         abs=1e-3)
    card = export_brick(loaded.model, loaded.checkpoint, "encoder", tmp_path / "bricks")
    brick = load_brick(card)
    assert brick.card["config"]["frontend"]["kind"] == "linear" and brick.card["reads"]["type"] == "features"
    assert isinstance(brick.module.frontend, LinearFeatures) and brick.front_end is not None


def test_an_unregistered_front_end_is_a_one_line_config_error(tiny_speech_config):
    result = CliRunner().invoke(main, ["train", str(tiny_speech_config), "--quiet", "--set",
                                       "model.encoder.frontend.kind=linear"])
    assert result.exit_code == 1
    assert "model.encoder.frontend.kind': unknown kind 'linear' (known: tokens, speech, marginals)" in result.output
