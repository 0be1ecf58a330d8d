"""Make data/ro-en/ (git-ignored) from the data root's ro-en/, with Romanian cedilla letters normalised.

    python recipes/ro-en/prepare_data.py [--shared DIR]     # default: $LEGONN_DATA/ro-en (legonn.datasets)

RO-STS (train/dev/test, CC BY-SA 4.0) and newstest2016 (WMT16 test). Romanian text mixes the
comma-below letters (ș ț) with their cedilla look-alikes (ş ţ); the cedilla forms are mapped to
comma-below so one letter has one spelling. English files are copied unchanged. The result is
derived from the data root, so it is made here rather than kept in git: recipes/transfer/run.py runs this
script when data/ro-en/ is missing, and tests/test_datasets.py checks it reproduces the files the shipped
Ro→En brick was trained on, byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

from legonn.datasets import data_root, not_found

ROOT = Path(__file__).resolve().parents[2]
CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "ţ": "ț", "Ş": "Ș", "Ţ": "Ț"})
FILES = [f"rosts/RO-STS.{split}.{lang}" for split in ("train", "dev", "test") for lang in ("ro", "en")] + \
        [f"newstest2016/newstest2016.{lang}" for lang in ("ro", "en")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=data_root() / "ro-en")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "ro-en")
    args = parser.parse_args()
    sums = []
    for name in FILES:
        if not (args.shared / name).is_file():
            sys.exit(f"error: {not_found(args.shared / name)}")
        text = (args.shared / name).read_text(encoding="utf-8")
        changed = 0
        if name.endswith(".ro"):
            normalised = text.translate(CEDILLA_TO_COMMA)
            changed = sum(a != b for a, b in zip(text.splitlines(), normalised.splitlines()))
            text = normalised
        out = args.out / Path(name).name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        sums.append(f"{hashlib.sha256(out.read_bytes()).hexdigest()}  {out.name}")
        print(f"{out}: {len(text.splitlines())} lines" + (f", {changed} normalised" if changed else ""))
    shutil.copyfile(args.shared / "README.md", args.out / "SOURCE-README.md")
    (args.out / "SHA256SUMS").write_text("\n".join(sums) + "\n")


if __name__ == "__main__":
    main()
