"""Issue #4 data: Multi30k English spoken by synthetic voices, plus the real Common Voice sample.

    python recipes/asr/prepare_data.py [--workers 2] [--limit N]

Writes (audio stays out of git, under data/speech/, which is ignored):
  data/speech/train/   Multi30k train.en (29k captions), TRAIN voices (legonn.data.synth)
  data/speech/valid/   Multi30k val.en, TRAIN voices (model selection never hears a test voice)
  data/speech/test/    Multi30k test_2016_flickr.en, TEST voices (never used for training)
  data/speech/commonvoice/manifest.tsv   the 100 real clips of ../shared/data/commonvoice_en_sample100
Each folder has a manifest.tsv; the synthesis is resumable and seeded (same command, same corpus).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
from legonn.data.speech import Utterance, write_manifest  # noqa: E402

MULTI30K = ROOT / "data" / "multi30k"
OUT = ROOT / "data" / "speech"
COMMON_VOICE = ROOT.parent / "shared" / "data" / "commonvoice_en_sample100"
SPLITS = {"train": ("train.en.gz", "train"), "valid": ("val.en.gz", "train"), "test": ("test_2016_flickr.en.gz", "test")}


def common_voice_manifest() -> None:
    """A manifest over the shared real clips (read in place, not copied)."""
    table = COMMON_VOICE / "utterances.tsv"
    if not table.is_file():
        print(f"note: {table} not found; skipping the Common Voice manifest")
        return
    with open(table, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    utts = [Utterance(r["utt_id"], COMMON_VOICE / r["path"], sf.info(str(COMMON_VOICE / r["path"])).frames,
                      r["text"], f"commonvoice/{r['speaker_hash12']}") for r in rows]
    write_manifest(OUT / "commonvoice" / "manifest.tsv", utts)
    print(f"wrote {OUT / 'commonvoice' / 'manifest.tsv'}: {len(utts)} real clips")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N sentences of each split")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    args = parser.parse_args()
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
