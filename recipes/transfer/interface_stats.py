"""Issue #3 diagnostic: what the marginals handed to the De→En WEmb decoder look like, encoder by encoder.

    python recipes/transfer/interface_stats.py        # every encoder below that is there
    python recipes/transfer/interface_stats.py --limit 200

For the shipped Fr→En, Cs→En and Ro→En WEmb encoders (models/X-en-wemb/) on their validation sets, and
for De→En WEmb encoders on Multi30k val (the kind of encoder the decoder was trained with: the swap
recipe's two seeds, and runs/multi30k/lego-wemb where it exists), `legonn.interface_stats` figures:
positions per target token, blank and repeat shares of the best class, entropy, top-1 probability.
Set beside each language's zero-shot loss to its own decoder (docs/results.md) they show whether the
reused decoder is reading marginals of another style. Writes results/interface-stats.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from legonn.bricks import load_brick
from legonn.datasets import data_root, display
from legonn.experiments.provenance import ROOT, git_commit, hardware
from legonn.experiments.records import InterfaceStatsRecord
from legonn.inference import load_model
from legonn.interface_stats import interface_statistics_on

M30K, ROEN = data_root() / "multi30k", Path("data/ro-en")  # data/ro-en: made by recipes/ro-en/prepare_data.py
DE_VAL = (M30K / "val.de.gz", M30K / "val.en.gz")
# (label, model: a checkpoint or an encoder brick card, source, reference)
ENCODERS = [
    ("de-en lego-wemb (the decoder's own run)", "runs/multi30k/lego-wemb/checkpoint_best.safetensors", *DE_VAL),
    ("de-en lego-wemb, 10 epochs, seed 1", "runs/multi30k-swap/e10/lego-wemb/checkpoint_best.safetensors", *DE_VAL),
    ("de-en lego-wemb, 10 epochs, seed 2", "runs/multi30k-swap/e10/lego-wemb-seed2/checkpoint_best.safetensors",
     *DE_VAL),
    ("fr-en encoder", "models/fr-en-wemb/fr-en.encoder.json", M30K / "val.fr.gz", M30K / "val.en.gz"),
    ("cs-en encoder", "models/cs-en-wemb/cs-en.encoder.json", M30K / "val.cs.gz", M30K / "val.en.gz"),
    ("ro-en encoder", "models/ro-en-wemb/ro-en.encoder.json", ROEN / "RO-STS.dev.ro", ROEN / "RO-STS.dev.en"),
]


def encoder_and_vocabs(model: Path):
    """(a LegoModel or a lone encoder, source vocabulary, target vocabulary, longest source)."""
    if model.suffix == ".json":
        brick = load_brick(model)
        return brick.module, brick.reads, brick.emits, 200
    loaded = load_model(model)
    return loaded.model, loaded.src_vocab, loaded.tgt_vocab, loaded.max_len


def main() -> None:
    os.chdir(ROOT)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only the first N sentence pairs of each set")
    args = parser.parse_args()
    if not (ROEN / "RO-STS.dev.ro").is_file():  # normalised from the data root's copy, once
        subprocess.run([sys.executable, str(ROOT / "recipes" / "ro-en" / "prepare_data.py")], check=True)
    rows = []
    for label, model, src, ref in ENCODERS:
        if not Path(model).exists():
            print(f"skipping {label}: {model} is not there")
            continue
        encoder, src_vocab, tgt_vocab, max_len = encoder_and_vocabs(Path(model))
        (stats,) = interface_statistics_on(encoder, src_vocab, tgt_vocab, src, ref, max_len, args.limit)
        rows.append({"encoder": label, "model": model, "src": display(src), **stats.as_dict()})
        print(label, rows[-1])
    out = ROOT / "results" / "interface-stats.json"
    InterfaceStatsRecord(rows=rows, hardware=hardware(), commit=git_commit()).write(out)
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
