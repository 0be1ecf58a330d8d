"""Every recipe config loads, and names data in the data root (or made from it) and vocabularies that ship
with the repository; the recipes' shared helpers (legonn.experiments) describe the machine a result came from."""

import json
from pathlib import Path

import pytest

from legonn.config import load_config

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("data/speech/", "data/ro-en/")  # made by recipes/asr and recipes/ro-en prepare_data.py
CONFIGS = sorted(p for p in (ROOT / "recipes").rglob("*.yaml") if p.name != "common.yaml")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_recipe_config_loads_and_its_files_exist(config, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = load_config(config)
    assert cfg.out_dir.startswith("runs/")

    def exists(path: str) -> bool:  # what the prepare_data.py scripts make is not shipped; $LEGONN_DATA/… is expanded
        return path.startswith(GENERATED) or (ROOT / path).is_file()

    if cfg.data.train_manifest:  # speech (a composition to fine-tune has no model section of its own)
        assert cfg.data.train_manifest.startswith(GENERATED) and cfg.data.valid_manifest.startswith(GENERATED)
        assert exists(cfg.data.tgt_vocab)
        return
    for field in ("train_src", "train_tgt", "valid_src", "valid_tgt"):
        assert exists(getattr(cfg.data, field)), f"{config}: data.{field}"
    if cfg.name != "demo":  # the demo trains its own small vocabularies first
        assert exists(cfg.data.src_vocab) and exists(cfg.data.tgt_vocab)


@pytest.mark.parametrize("flags, isa", [({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}, "(AMX)"),
                                        ({"avx2", "avx512f", "avx512_bf16"}, "(AVX-512 BF16)"),
                                        ({"avx2", "avx512f"}, "(AVX-512)"), ({"avx2"}, "(AVX2)")])
def test_hardware_names_the_widest_vector_extension(flags, isa, monkeypatch):
    """Results from one CPU model with and without bf16 in hardware differ 2-5× in speed: say which."""
    from legonn.experiments import provenance

    monkeypatch.setattr(provenance, "cpu_flags", lambda: flags)
    described = provenance.hardware()
    assert isa in described and "cores, torch" in described
    monkeypatch.setattr(provenance, "cpu_flags", lambda: set())
    assert "AVX" not in provenance.hardware() and "AMX" not in provenance.hardware()  # no flags known (e.g. macOS)


def test_a_fine_tuned_run_names_the_bricks_it_started_from(tmp_path):
    """A fine-tuned pair names init.encoder and init.decoder; a fine-tuned chain, every module of the
    composed folder it started from, in chain order (the results table's 'modules trained on')."""
    from legonn.config import InitConfig
    from legonn.experiments.systems import start_cards

    assert start_cards(InitConfig()) == []
    pair = InitConfig(encoder="models/x/a.encoder.json", decoder="models/y/b.decoder.json")
    assert start_cards(pair) == [Path("models/x/a.encoder.json"), Path("models/y/b.decoder.json")]
    modules = ["asr-phonemes.encoder.json", "phonemes-en.encoder.json", "de-en.decoder.json"]
    (tmp_path / "composition.json").write_text(json.dumps({"format": "legonn-composition-1", "modules": modules}))
    assert start_cards(InitConfig(composed=str(tmp_path))) == [tmp_path / m for m in modules]
