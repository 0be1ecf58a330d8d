"""`make demo`: LegoNN's main trick with the bricks that ship in models/, no training.

Composes the Fr→En encoder (trained with its own decoder on Multi30k Fr→En) with the De→En decoder
(trained with another encoder on Multi30k De→En): two modules that were never trained together.
`compose` checks the hand-over first (vocabulary fingerprints, weight hashes, length ratios). The
demo then translates five test_2016_flickr sentences, showing the source, the encoder's CTC readout
(what the encoder alone says through the interface) and the decoder's output, and prints sacreBLEU
of both on the whole test set.

Then speech: the English speech encoder (trained on synthetic speech, recipes/asr) composed with the
same De→En translation decoder, which never heard speech, transcribes five real Common Voice clips
(of commonvoice_en_sample100 in the data root, legonn.datasets), printing the CTC readout of every
interface of the chain, the decoder's output, the WER on those clips and the real-time factor. About
15 s on 2 cores; `make demo-train` trains a small model from scratch instead.
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
from legonn.data.commonvoice import DEMO_CLIPS, SAMPLE, read_sample
from legonn.data.speech import read_manifest
from legonn.data.text import read_parallel
from legonn.datasets import data_root, display
from legonn.errors import LegoError
from legonn.inference import load_model, transcribe, translate
from legonn.score import bleu_chrf, wer
from legonn.search import SearchOptions

ROOT = Path(__file__).resolve().parents[2]
TEST = data_root() / "multi30k" / "test_2016_flickr"
SPEECH_BRICKS = [Path("models/asr-en-wemb/asr-en.encoder.json"), Path("models/de-en-wemb/de-en.decoder.json")]


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


def show_transcripts(out, references: list[str]) -> None:
    """Each clip as the chain hears it: reference, every interface's CTC readout, decoder output."""
    for path, readouts, hyp, ref in zip(out.paths, out.ctc_readouts, out.hypotheses, references):
        print(f"  {Path(path).name}")
        show("reference", ref)
        for i, readout in enumerate(readouts, 1):
            show(f"CTC readout{' ' + str(i) if len(readouts) > 1 else ''}", readout)
        show("decoder", hyp)
        print()


def compose_bricks(cards: list[Path], out: Path) -> None:
    """`legonn compose` with the checks printed: which bricks, where each was trained, any length warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LengthRatioWarning)  # printed below, once
        _, notes = compose(cards, out)  # a missing or bad brick stops here
    for card in cards:
        print(f"  {card}  (trained in {describe(card)})")
    for note in notes:
        print(f"  warning: {note}")
    print(f"  checks passed (interface vocabulary fingerprints, weight hashes) → {out}/")


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
    parser.add_argument("--speech-bricks", type=Path, nargs="+", default=SPEECH_BRICKS,
                        help="speech chain: brick cards, speech encoder first (default: %(default)s)")
    parser.add_argument("--clips", type=Path, default=None,
                        help=f"speech manifest to transcribe (default: five clips of the data root's {SAMPLE})")
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

    print("== 1/4 compose bricks that were never trained together ==")
    compose_bricks([args.encoder, args.decoder], args.out)
    speech_out = args.out.with_name(args.out.name + "-speech")
    compose_bricks(args.speech_bricks, speech_out)  # here, so that a missing brick stops the demo at once
    clips = read_manifest(args.clips) if args.clips else read_sample(DEMO_CLIPS)
    loaded = load_model(args.out)
    data = read_parallel(args.src, args.ref)
    opts = SearchOptions(beam_size=args.beam)

    def run(sentences: list[str], bar=None):
        return translate(loaded.model, loaded.src_vocab, loaded.tgt_vocab, sentences, opts, loaded.max_len,
                         where=str(args.src), progress=bar, interface_vocabs=loaded.interface_vocabs)

    print(f"\n== 2/4 {args.show} test sentences: source, interface CTC readout, decoder output ==")
    show_translations(run(data.src[:args.show]), data.tgt[:args.show])

    print(f"== 3/4 sacreBLEU on all {len(data)} sentences of {display(args.src)} (beam {args.beam}) ==")
    with tqdm(total=len(data), desc="translating", unit="sent") as bar:
        outs = run(data.src, bar)
    decoder = bleu_chrf([o.hypothesis for o in outs], data.tgt)
    readout = bleu_chrf([o.ctc_readouts[0] for o in outs], data.tgt)
    print(f"  zero-shot composition  BLEU {decoder.bleu:5.2f}  chrF {decoder.chrf:5.2f}")
    print(f"  CTC readout            BLEU {readout.bleu:5.2f}  chrF {readout.chrf:5.2f}   (the encoder alone)")
    print(f"  {decoder.signature}")

    clip_source = display(args.clips) if args.clips else display(data_root() / SAMPLE)
    print(f"\n== 4/4 speech: {len(clips)} clips of {clip_source} through the speech chain "
          f"({' + '.join(card.stem for card in args.speech_bricks)}) ==")
    out = transcribe(load_model(speech_out), [c.path for c in clips], opts)
    refs = [c.text for c in clips]
    show_transcripts(out, refs)
    # the last interface speaks the decoder's sub-words, so its readout is a transcript too (a phoneme one is not)
    print(f"  WER on these {len(clips)} clips: decoder {wer(out.hypotheses, refs):.1f} %, CTC readout of the last "
          f"interface {wer([r[-1] for r in out.ctc_readouts], refs):.1f} %  (the speech encoder heard only "
          "synthetic voices in training)")
    print(f"  real-time factor {out.real_time_factor:.3f} on {args.threads} threads "
          f"({out.audio_seconds:.1f} s of audio in {out.compute_seconds:.1f} s)")
    print(f"\ndemo finished in {(time.time() - start) / 60:.1f} min. All results: docs/results.md")


if __name__ == "__main__":
    try:
        main()
    except LegoError as exc:
        sys.exit(f"error: {exc}")
