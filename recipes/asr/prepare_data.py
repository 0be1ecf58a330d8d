"""Issue #4 data: Multi30k English spoken by synthetic voices, plus the real Common Voice sample.

    python recipes/asr/prepare_data.py [--workers 2] [--limit N]
    python recipes/asr/prepare_data.py --phonemes           # then: the three-module chain's data

Writes (audio stays out of git, under data/speech/, which is ignored):
  data/speech/train/   Multi30k train.en (29k captions), TRAIN voices (legonn.data.synth)
  data/speech/valid/   Multi30k val.en, TRAIN voices (model selection never hears a test voice)
  data/speech/test/    Multi30k test_2016_flickr.en, TEST voices (never used for training)
  data/speech/commonvoice/manifest.tsv   the 100 real clips of $LEGONN_DATA/commonvoice_en_sample100
Each folder has a manifest.tsv; the synthesis is resumable and seeded (same command, same corpus).

--phonemes (after the audio) writes the data of the three-module chain, speech → phonemes → sub-words →
the De→En decoder, under data/speech/phonemes/ (espeak-ng transcripts, stress marks dropped):
  train-a.tsv, valid-a.tsv   dataset A: the train/valid clips with their phoneme transcript as text
  train-b.ph, train-b.en     dataset B: English text no training clip speaks (the Multi30k captions
                             left out of the speech subset, and the English side of RO-STS train),
                             as phonemes → sentence; valid-b.*: Multi30k val
  en-phonemes.model          one vocabulary unit per phoneme (the interface between A and B)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


from legonn.data.commonvoice import read_sample
from legonn.data.phonemes import phonemize_many
from legonn.data.speech import Utterance, read_manifest, write_manifest
from legonn.data.text import read_lines
from legonn.datasets import data_root
from legonn.errors import LegoError
from legonn.io import atomic_write_bytes
from legonn.vocab import Vocabulary

ROOT = Path(__file__).resolve().parents[2]

MULTI30K = data_root() / "multi30k"
OUT = ROOT / "data" / "speech"
ROSTS_EN = data_root() / "ro-en" / "rosts" / "RO-STS.train.en"  # English, so as in the data root (unnormalised)
PHONEMES = OUT / "phonemes"
SPLITS = {"train": ("train.en.gz", "train"), "valid": ("val.en.gz", "train"), "test": ("test_2016_flickr.en.gz", "test")}


def common_voice_manifest() -> None:
    """A manifest over the data root's real clips (read in place, not copied)."""
    try:
        utts = read_sample()
    except LegoError as exc:
        print(f"note: skipping the Common Voice manifest: {exc}")
        return
    write_manifest(OUT / "commonvoice" / "manifest.tsv", utts)
    print(f"wrote {OUT / 'commonvoice' / 'manifest.tsv'}: {len(utts)} real clips")


def _write_lines(path: Path, lines: list[str]) -> None:
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def phoneme_data(workers: int) -> None:
    """Datasets A (speech → phonemes) and B (phonemes → English text), and the phoneme vocabulary."""
    PHONEMES.mkdir(parents=True, exist_ok=True)
    spoken = {}
    for split in ("train", "valid"):
        manifest = OUT / split / "manifest.tsv"
        if not manifest.is_file():
            raise LegoError(f"{manifest}: missing; synthesise the audio first (without --phonemes)")
        spoken[split] = read_manifest(manifest, check_files=False)
    heard = {u.text for u in spoken["train"]}
    captions = [t for t in read_lines(MULTI30K / "train.en.gz") if t not in heard]
    b_train = captions + [t for t in read_lines(ROSTS_EN, allow_empty=True) if t.strip()]
    b_valid = read_lines(MULTI30K / "val.en.gz")
    texts = [u.text for split in ("train", "valid") for u in spoken[split]] + b_train + b_valid
    print(f"dataset A: {len(spoken['train'])} clips; dataset B: {len(captions)} unspoken Multi30k captions "
          f"+ {len(b_train) - len(captions)} RO-STS sentences")
    unique = list(dict.fromkeys(texts))
    phones = dict(zip(unique, phonemize_many(unique, workers=workers)))
    for split, name in (("train", "train-a.tsv"), ("valid", "valid-a.tsv")):
        # the same audio files (written relative to the new manifest)
        write_manifest(PHONEMES / name, [Utterance(u.id, u.path, u.samples, phones[u.text], u.voice)
                                         for u in spoken[split]])
    for split, lines in (("train-b", b_train), ("valid-b", b_valid)):
        _write_lines(PHONEMES / f"{split}.ph", [phones[t] for t in lines])
        _write_lines(PHONEMES / f"{split}.en", lines)
    Vocabulary.train(list(phones.values()), 500, model_type="word").save(PHONEMES / "en-phonemes.model")
    print(f"wrote {PHONEMES}: train-a.tsv, valid-a.tsv, train-b.ph/.en, valid-b.ph/.en, en-phonemes.model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N sentences of each split")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--phonemes", action="store_true", help="write the three-module chain's data (see above)")
    args = parser.parse_args()
    if args.phonemes:
        try:
            phoneme_data(args.workers)
        except LegoError as exc:
            sys.exit(f"error: {exc}")
        return
    for split in args.splits:
        text, voices = SPLITS[split]
        cmd = [sys.executable, "-m", "legonn.cli", "data", "synth", str(MULTI30K / text), "-o", str(OUT / split),
               "--voices", voices, "--seed", "1", "--workers", str(args.workers)]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        subprocess.run(cmd, check=True)
    common_voice_manifest()


if __name__ == "__main__":
    main()
