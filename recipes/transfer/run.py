"""Issue #3: reuse the De→En decoder for Fr→En, Cs→En and Ro→En, with no fine-tuning (zero-shot).

    python recipes/transfer/run.py fr                      # every stage, both ingestors; resumes
    python recipes/transfer/run.py ro --ingestors wemb     # one ingestor
    python recipes/transfer/run.py cs --stages zero-shot   # one stage (needs the bricks it reads)
    python recipes/transfer/run.py fr --score-only         # re-score what is trained
    python recipes/transfer/run.py fr --set train.time_budget_minutes=150   # train what fits, score it
    python recipes/transfer/run.py ro --ingestors beamconv --stages lego --set train.max_steps=2130
                                                  # as many updates as another run had (a fair pair)

Stages, for source language X and ingestor I ∈ {wemb, beamconv}:
  baseline   train recipes/X-en/baseline.yaml (plain transformer on X→En only) and score it
  lego       train recipes/X-en/lego-I.yaml (LegoNN X→En with its own decoder; its OLC ratio is fitted
             to the De→En decoder's card), score it, export its encoder → models/X-en-I/
  zero-shot  compose models/X-en-I/X-en.encoder + models/de-en-I/de-en.decoder (never trained
             together) → runs/X-en/zero-shot-I/, score it
  fine-tune  train recipes/X-en/fine-tuned-I.yaml (the composed model, a few thousand updates), score it

The De→En decoder bricks are exported from recipes/multi30k (run that first) the first time they are
needed. Results: results/X-en/<system>[.<test set>].json; then `python recipes/results_table.py`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from legonn.allocator import reexec_with_jemalloc
from legonn.datasets import data_root
from legonn.errors import LegoError
from legonn.experiments.exports import decoder_brick, encoder_brick
from legonn.experiments.provenance import ROOT
from legonn.experiments.systems import compose_and_score, score_system, train_system
from legonn.search import SearchOptions

MULTI30K = data_root() / "multi30k"
ROEN = ROOT / "data" / "ro-en"  # made from the data root's ro-en/ by recipes/ro-en/prepare_data.py (git-ignored)


def _multi30k(lang: str, *names: str) -> dict[str, tuple[Path, Path]]:
    return {n: (MULTI30K / f"{n}.{lang}.gz", MULTI30K / f"{n}.en.gz") for n in names}


# the first test set is the headline one (results/X-en/<system>.json)
TEST_SETS = {
    "fr": _multi30k("fr", "test_2016_flickr", "test_2017_flickr"),
    "cs": _multi30k("cs", "test_2016_flickr"),
    "ro": {"RO-STS.test": (ROEN / "RO-STS.test.ro", ROEN / "RO-STS.test.en"),
           "newstest2016": (ROEN / "newstest2016.ro", ROEN / "newstest2016.en")},
}
INGESTORS = ("wemb", "beamconv")
STAGES = ("baseline", "lego", "zero-shot", "fine-tune")


def run_language(lang: str, ingestors: list[str], stages: list[str], score_only: bool, overrides: list[str],
                 opts: SearchOptions) -> None:
    recipe, results = ROOT / "recipes" / f"{lang}-en", ROOT / "results" / f"{lang}-en"
    tests = TEST_SETS[lang]
    if lang == "ro" and not all(p.is_file() for pair in tests.values() for p in pair):
        # Romanian letters are normalised from the data root's copy, once (recipes/ro-en/prepare_data.py)
        subprocess.run([sys.executable, str(ROOT / "recipes" / "ro-en" / "prepare_data.py")], check=True)

    def train_and_score(config: Path, system: str) -> list[dict]:
        if not score_only:
            train_system(config, overrides)
        return score_system(config, tests, results, system, opts, overrides)

    if "baseline" in stages:
        train_and_score(recipe / "baseline.yaml", "baseline")
    for ing in ingestors:
        if "lego" in stages:
            decoder_brick(ing)  # the encoder's `length_ratio: auto` reads its card
            records = train_and_score(recipe / f"lego-{ing}.yaml", f"lego-{ing}")
            encoder_brick(f"{lang}-en", ing, records)
        if "zero-shot" in stages:
            compose_and_score([encoder_brick(f"{lang}-en", ing, None), decoder_brick(ing)], f"{lang}-en", tests,
                              results, f"zero-shot-{ing}", opts)
        if "fine-tune" in stages:
            encoder_brick(f"{lang}-en", ing, None), decoder_brick(ing)
            train_and_score(recipe / f"fine-tuned-{ing}.yaml", f"fine-tuned-{ing}")


def main() -> None:
    reexec_with_jemalloc()
    os.chdir(ROOT)  # config paths are relative to the repository root
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("langs", nargs="+", choices=list(TEST_SETS), help="source language(s) X of X→En")
    parser.add_argument("--ingestors", nargs="+", default=list(INGESTORS), choices=INGESTORS)
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--score-only", action="store_true", help="skip training; score what is trained")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config setting for every training stage, e.g. train.time_budget_minutes=150")
    args = parser.parse_args()
    try:
        for lang in args.langs:
            run_language(lang, args.ingestors, args.stages, args.score_only, args.overrides,
                         SearchOptions(beam_size=args.beam))
    except LegoError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
