"""Every recipe config loads, and names data and vocabularies that ship with the repository."""

from pathlib import Path

import pytest

from legonn.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "recipes").rglob("*.yaml") if p.name != "common.yaml")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_recipe_config_loads_and_its_files_exist(config, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = load_config(config)
    assert cfg.out_dir.startswith("runs/")
    if cfg.model.input == "speech":  # the audio is synthesised by recipes/asr/prepare_data.py, not shipped
        assert cfg.data.train_manifest.startswith("data/speech/") and cfg.data.valid_manifest.startswith("data/speech/")
        assert (ROOT / cfg.data.tgt_vocab).is_file()
        return
    for field in ("train_src", "train_tgt", "valid_src", "valid_tgt"):
        assert (ROOT / getattr(cfg.data, field)).is_file(), f"{config}: data.{field}"
    if cfg.name != "demo":  # the demo trains its own small vocabularies first
        assert (ROOT / cfg.data.src_vocab).is_file() and (ROOT / cfg.data.tgt_vocab).is_file()
