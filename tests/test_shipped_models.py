"""The pretrained bricks under models/ load (hashes and vocabularies check out) and stay small."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from legonn.bricks import KINDS, load_brick

MODELS = Path(__file__).resolve().parents[1] / "models"


def _shipped_files() -> list[Path]:
    """The files under models/ that ship: those git does not ignore. Recipes also export bricks that stay out
    of git (.gitignore: the BeamConv encoders), and those must neither count against the budget nor be
    mistaken for shipped ones; outside a git checkout every file counts."""
    files = [f for f in MODELS.rglob("*") if f.is_file()]
    try:
        ignored = subprocess.run(["git", "check-ignore", "--stdin"], input="\n".join(map(str, files)),
                                 capture_output=True, text=True, cwd=MODELS.parent, check=False).stdout
    except FileNotFoundError:  # no git on this machine
        return files
    dropped = {Path(line) for line in ignored.splitlines()}
    return [f for f in files if f not in dropped]


SHIPPED = _shipped_files()
CARDS = sorted(f for f in SHIPPED if f.suffix == ".json" and f.parent.parent == MODELS)


def test_models_stay_within_the_size_budget():
    # 60 MB for the translation bricks (issue #3) plus one English speech encoder (issue #4, 14 MB in fp16)
    total = sum(f.stat().st_size for f in SHIPPED)
    assert total <= 75 * 2**20, f"models/ holds {total / 2**20:.1f} MB (budget 75 MB)"


@pytest.mark.parametrize("card", CARDS, ids=[f"{c.parent.name}/{c.stem}" for c in CARDS])
def test_shipped_brick_loads_with_its_card_and_vocabularies(card):
    brick = load_brick(card)
    assert brick.card["metrics"], f"{card}: shipped without metrics"
    assert brick.card["kind"] in KINDS
    assert brick.emits is not None and len(brick.emits) > 0


def test_the_demo_composes_shipped_bricks_trained_on_different_tasks(tmp_path):
    """`make demo` (recipes/demo/run.py) composes its default bricks: they ship, and they pass compose's checks."""
    from legonn.bricks import compose

    encoder, decoder = MODELS / "fr-en-wemb" / "fr-en.encoder.json", MODELS / "de-en-wemb" / "de-en.decoder.json"
    demo = (MODELS.parent / "recipes" / "demo" / "run.py").read_text(encoding="utf-8")
    assert f'"models/{encoder.parent.name}/{encoder.name}"' in demo and f'"models/{decoder.parent.name}/{decoder.name}"' in demo
    _, notes = compose([encoder, decoder], tmp_path / "zero-shot")
    assert notes == [], notes  # the encoder's α was fitted to this decoder (length_ratio: auto)
    tasks = [load_brick(card).card["training"]["task"] for card in (encoder, decoder)]
    assert tasks == ["fr-en", "de-en"]


def test_the_demo_speech_chain_composes_a_speech_encoder_with_the_translation_decoder(tmp_path):
    """The speech half of `make demo`: the shipped English speech encoder and the De→En decoder, trained apart."""
    from legonn.bricks import compose

    encoder, decoder = MODELS / "asr-en-wemb" / "asr-en.encoder.json", MODELS / "de-en-wemb" / "de-en.decoder.json"
    demo = (MODELS.parent / "recipes" / "demo" / "run.py").read_text(encoding="utf-8")
    assert f'"models/{encoder.parent.name}/{encoder.name}"' in demo
    _, notes = compose([encoder, decoder], tmp_path / "speech")
    assert notes == [], notes  # the speech encoder's α was fitted to this decoder (length_ratio: auto)
    cards = [load_brick(card).card for card in (encoder, decoder)]
    assert [c["training"]["task"] for c in cards] == ["asr-en", "de-en"]
    assert cards[0]["kind"] == "encoder" and cards[0]["reads"]["type"] == "features"
