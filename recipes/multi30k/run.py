"""Multi30k De→En: train and score the baseline and both LegoNN systems.

    python recipes/multi30k/run.py                       # all systems, resumes where it stopped
    python recipes/multi30k/run.py --systems baseline    # one system
    python recipes/multi30k/run.py --score-only          # re-score existing best checkpoints
    python recipes/multi30k/run.py --systems lego-wemb-deep   # an ablation (not in the default set)

Writes results/multi30k/<system>.json (test_2016_flickr first, then val and test_2017_flickr); an
ablation writes results/multi30k-ablation/<system>.json, so the main table keeps the three systems.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from legonn.allocator import reexec_with_jemalloc
from legonn.datasets import data_root
from legonn.experiments.provenance import ROOT
from legonn.experiments.systems import score_system, train_system
from legonn.search import SearchOptions

HERE = Path(__file__).resolve().parent
DATA = data_root() / "multi30k"
SYSTEMS = {"baseline": "baseline.yaml", "lego-wemb": "lego-wemb.yaml", "lego-beamconv": "lego-beamconv.yaml"}
ABLATIONS = {"lego-wemb-deep": "lego-wemb-deep.yaml"}  # each tests one hypothesis for the LegoNN gap
TEST_SETS = {
    name: (DATA / f"{name}.de.gz", DATA / f"{name}.en.gz") for name in ("test_2016_flickr", "val", "test_2017_flickr")
}


def main() -> None:
    reexec_with_jemalloc()
    os.chdir(ROOT)  # config paths are relative to the repository root
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS) + list(ABLATIONS))
    parser.add_argument("--score-only", action="store_true", help="skip training; score the best checkpoints")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--length-penalty", type=float, default=1.0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    opts = SearchOptions(beam_size=args.beam, length_penalty=args.length_penalty)
    for system in args.systems:
        ablation = system in ABLATIONS
        config = HERE / (ABLATIONS if ablation else SYSTEMS)[system]
        results_dir = ROOT / "results" / ("multi30k-ablation" if ablation else "multi30k")
        if not args.score_only:
            train_system(config, args.overrides)
        score_system(config, TEST_SETS, results_dir, system, opts, args.overrides)


if __name__ == "__main__":
    main()
