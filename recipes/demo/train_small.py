"""`make demo-train`: train a small De→En LegoNN model from scratch, then show what each module says.

Trains (or resumes) recipes/demo/demo.yaml for a few minutes on 2 cores, translates five
test_2016_flickr sentences showing the source, the encoder's CTC readout (what the encoder alone
"translates" through the interface) and the decoder's output, and prints BLEU on a test subset.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from run import show_translations  # recipes/demo/run.py: beside this script, so first on Python's path

from legonn.allocator import reexec_with_jemalloc
from legonn.checkpoint import load_checkpoint
from legonn.config import load_config
from legonn.data.text import read_lines, read_parallel
from legonn.datasets import data_root, display
from legonn.experiments.systems import train_system
from legonn.inference import translate
from legonn.model import build_model
from legonn.score import bleu_chrf
from legonn.search import SearchOptions
from legonn.vocab import Vocabulary

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "recipes/demo/demo.yaml"
TEST = data_root() / "multi30k" / "test_2016_flickr"
SUBSET = 300


def main() -> None:
    reexec_with_jemalloc()
    os.chdir(ROOT)  # the config's paths are relative to the repository root
    torch.set_num_threads(2)
    start = time.time()
    cfg = load_config(CONFIG)
    print("== 1/3 vocabularies, then a small De→En LegoNN model (TextEncoder → Marginals → WEmb Decoder) ==")
    for side, path in (("src", cfg.data.src_vocab), ("tgt", cfg.data.tgt_vocab)):
        if not Path(path).exists():
            text = cfg.data.train_src if side == "src" else cfg.data.train_tgt
            Vocabulary.train(read_lines(text), 1000).save(path)
            print(f"   trained {path} (1,000 units) from {display(text)}")
    train_system(CONFIG)
    ckpt = load_checkpoint(Path(cfg.out_dir) / "checkpoint_last.safetensors")
    model = build_model(ckpt.config.model, ckpt.src_vocab.id, ckpt.tgt_vocab.id)
    model.load_state_dict(ckpt.model)
    print(f"   {sum(v.numel() for v in ckpt.model.values()):,} parameters, {ckpt.state.step} updates, "
          f"{ckpt.state.train_seconds / 60:.1f} min of training")

    data = read_parallel(f"{TEST}.de.gz", f"{TEST}.en.gz")
    opts = SearchOptions(beam_size=4)
    print("\n== 2/3 five test sentences: source, interface CTC readout, decoder output ==")
    show_translations(translate(model, ckpt.src_vocab, ckpt.tgt_vocab, data.src[:5], opts), data.tgt[:5])

    print(f"== 3/3 sacreBLEU on the first {SUBSET} sentences of test_2016_flickr (beam 4) ==")
    outs = translate(model, ckpt.src_vocab, ckpt.tgt_vocab, data.src[:SUBSET], opts)
    decoder = bleu_chrf([o.hypothesis for o in outs], data.tgt[:SUBSET])
    readout = bleu_chrf([o.ctc_readouts[0] for o in outs], data.tgt[:SUBSET])
    print(f"  decoder      BLEU {decoder.bleu:5.1f}  chrF {decoder.chrf:5.1f}")
    print(f"  CTC readout  BLEU {readout.bleu:5.1f}  chrF {readout.chrf:5.1f}   (the encoder alone, no decoder)")
    print(f"  {decoder.signature}")
    print(f"\ndemo finished in {(time.time() - start) / 60:.1f} min. Full-size results: docs/results.md")


if __name__ == "__main__":
    main()
