"""`make demo`: LegoNN's main trick with the bricks that ship in models/, no training.

Composes the Fr→En encoder (trained with its own decoder on Multi30k Fr→En) with the De→En decoder
(trained with another encoder on Multi30k De→En): two modules that were never trained together.
`compose` checks the hand-over first (vocabulary fingerprints, weight hashes, length ratios). The
demo then translates five test_2016_flickr sentences, showing the source, the encoder's CTC readout
(what the encoder alone says through the interface) and the decoder's output, and prints sacreBLEU
of both on the whole test set. About 20 s on 2 cores; `make demo-train` trains a small model
from scratch instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from legonn.allocator import reexec_with_jemalloc
from legonn.bricks import LengthRatioWarning, compose
from legonn.data.text import read_parallel
from legonn.errors import LegoError
from legonn.inference import load_model, translate
from legonn.score import bleu_chrf
from legonn.search import SearchOptions

ROOT = Path(__file__).resolve().parents[2]
TEST = "data/multi30k/test_2016_flickr"


def show(label: str, text: str) -> None:
    print(textwrap.fill(text, width=100, initial_indent=f"  {label:<12}", subsequent_indent=" " * 14))


def show_translations(outs: list, references: list[str]) -> None:
    """Each sentence as the modules see it: source, the interface's CTC readout, decoder output, reference."""
    for out, ref in zip(outs, references):
        show("source", out.source)
        show("CTC readout", out.ctc_readouts[0])
        show("decoder", out.hypothesis)
        show("reference", ref)
        print()


def describe(card_path: Path) -> str:
    """'fr-en lego-wemb, seed 1' — where a brick was trained, from its card."""
    training = json.loads(card_path.read_text(encoding="utf-8")).get("training", {})
    return f"{training.get('task', '?')} {training.get('system', '?')}, seed {training.get('seed', '?')}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", type=Path, default=Path("models/fr-en-wemb/fr-en.encoder.json"),
                        help="encoder brick card (default: %(default)s)")
    parser.add_argument("--decoder", type=Path, default=Path("models/de-en-wemb/de-en.decoder.json"),
                        help="decoder brick card (default: %(default)s)")
    parser.add_argument("--src", type=Path, default=Path(f"{TEST}.fr.gz"), help="test sources (default: %(default)s)")
    parser.add_argument("--ref", type=Path, default=Path(f"{TEST}.en.gz"), help="references (default: %(default)s)")
    parser.add_argument("-o", "--out", type=Path, default=Path("runs/demo-zero-shot"),
                        help="where the composed model is written (default: %(default)s)")
    parser.add_argument("--show", type=int, default=5, help="sentences shown in full (default: %(default)s)")
    parser.add_argument("--beam", type=int, default=4, help="beam size (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s)")
    return parser.parse_args()


def main() -> None:
    reexec_with_jemalloc()
    os.chdir(ROOT)  # the default paths are relative to the repository root
    args = parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()

    print("== 1/3 compose two bricks that were never trained together ==")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LengthRatioWarning)  # printed below, once
        _, notes = compose([args.encoder, args.decoder], args.out)  # a missing or bad brick stops here
    print(f"  encoder  {args.encoder}  (trained in {describe(args.encoder)})")
    print(f"  decoder  {args.decoder}  (trained in {describe(args.decoder)})")
    for note in notes:
        print(f"  warning: {note}")
    print(f"  checks passed (interface vocabulary fingerprints, weight hashes) → {args.out}/")
    loaded = load_model(args.out)
    data = read_parallel(args.src, args.ref)
    opts = SearchOptions(beam_size=args.beam)

    def run(sentences: list[str], bar=None):
        return translate(loaded.model, loaded.src_vocab, loaded.tgt_vocab, sentences, opts, loaded.max_len,
                         where=str(args.src), progress=bar, interface_vocabs=loaded.interface_vocabs)

    print(f"\n== 2/3 {args.show} test sentences: source, interface CTC readout, decoder output ==")
    show_translations(run(data.src[:args.show]), data.tgt[:args.show])

    print(f"== 3/3 sacreBLEU on all {len(data)} sentences of {args.src} (beam {args.beam}) ==")
    with tqdm(total=len(data), desc="translating", unit="sent") as bar:
        outs = run(data.src, bar)
    decoder = bleu_chrf([o.hypothesis for o in outs], data.tgt)
    readout = bleu_chrf([o.ctc_readouts[0] for o in outs], data.tgt)
    print(f"  zero-shot composition  BLEU {decoder.bleu:5.2f}  chrF {decoder.chrf:5.2f}")
    print(f"  CTC readout            BLEU {readout.bleu:5.2f}  chrF {readout.chrf:5.2f}   (the encoder alone)")
    print(f"  {decoder.signature}")
    print(f"\ndemo finished in {(time.time() - start) / 60:.1f} min. All results: docs/results.md")


if __name__ == "__main__":
    try:
        main()
    except LegoError as exc:
        sys.exit(f"error: {exc}")
