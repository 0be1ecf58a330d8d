"""Issue #4: English ASR, and a speech encoder that feeds the De→En translation decoder with no fine-tuning.

    python recipes/asr/prepare_data.py --limit 4000        # first: synthesise the corpus (audio is not in git)
    python recipes/asr/run.py                              # every stage, both ingestors; resumes
    python recipes/asr/run.py --ingestors wemb             # one ingestor
    python recipes/asr/run.py --stages zero-shot           # one stage (needs the bricks it reads)
    python recipes/asr/run.py --score-only                 # re-score what is trained
    python recipes/asr/run.py --set train.threads=1        # a setting for every training stage

Stages, for ingestor I ∈ {wemb, beamconv}:
  baseline   train recipes/asr/baseline.yaml (a monolithic transformer ASR model) and score it
  lego       train recipes/asr/lego-I.yaml (LegoNN ASR with its own decoder; its OLC ratio is fitted to the
             De→En decoder's card), score it, export its speech encoder → models/asr-en-I/
  zero-shot  compose models/asr-en-I/asr-en.encoder + models/de-en-I/de-en.decoder (a translation decoder,
             never trained with this encoder or on speech) → runs/asr-en/zero-shot-I/, score it
  fine-tune  train recipes/asr/fine-tuned-I.yaml (that composition, a few thousand updates), score it

Scored with beam 5 on the synthetic test set (Multi30k test_2016_flickr captions spoken by voices no
training or validation clip uses) and on the 100 real Common Voice clips. Results:
results/asr-en/<system>[.commonvoice].json; then `python recipes/results_table.py`.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import ROOT, decoder_brick, export, score_composed, score_system, train_system  # noqa: E402

from legonn.allocator import reexec_with_jemalloc  # noqa: E402
from legonn.bricks import LengthRatioWarning, compose  # noqa: E402
from legonn.errors import LegoError  # noqa: E402
from legonn.search import SearchOptions  # noqa: E402

HERE = Path(__file__).resolve().parent
SPEECH = ROOT / "data" / "speech"
# the first test set is the headline one (results/asr-en/<system>.json); None: a manifest, not a text pair
TEST_SETS = {"synthetic-test": (SPEECH / "test" / "manifest.tsv", None),
             "commonvoice": (SPEECH / "commonvoice" / "manifest.tsv", None)}
INGESTORS = ("wemb", "beamconv")
STAGES = ("baseline", "lego", "zero-shot", "fine-tune")
RESULTS = ROOT / "results" / "asr-en"


def encoder_brick(ingestor: str, records: list[dict] | None) -> Path:
    """models/asr-en-I/asr-en.encoder.json; (re-)exported from the trained LegoNN ASR model after scoring it."""
    card = ROOT / "models" / f"asr-en-{ingestor}" / "asr-en.encoder.json"
    if card.is_file() and not records:
        return card
    metrics = {f"{r['test_set']}_ctc_readout_wer": r["ctc_readout_wer"][0] for r in records or []}
    return export(ROOT / "runs" / "asr-en" / f"lego-{ingestor}" / "checkpoint_best.safetensors", "encoder",
                  card.parent, metrics)


def run(ingestors: list[str], stages: list[str], score_only: bool, overrides: list[str], opts: SearchOptions) -> None:
    def train_and_score(config: Path, system: str) -> list[dict]:
        if not score_only:
            train_system(config, overrides)
        return score_system(config, TEST_SETS, RESULTS, system, opts, overrides)

    for manifest, _ in TEST_SETS.values():
        if not manifest.is_file():
            raise LegoError(f"{manifest}: missing; run `python recipes/asr/prepare_data.py` first")
    if "baseline" in stages:
        train_and_score(HERE / "baseline.yaml", "baseline")
    for ing in ingestors:
        if "lego" in stages:
            decoder_brick(ing)  # the encoder's `length_ratio: auto` reads its card
            encoder_brick(ing, train_and_score(HERE / f"lego-{ing}.yaml", f"lego-{ing}"))
        if "zero-shot" in stages:
            folder = ROOT / "runs" / "asr-en" / f"zero-shot-{ing}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LengthRatioWarning)  # recorded in composition.json
                _, notes = compose([encoder_brick(ing, None), decoder_brick(ing)], folder)
            for note in notes:
                print(f"warning: {note}")
            score_composed(folder, "asr-en", TEST_SETS, RESULTS, f"zero-shot-{ing}", opts)
        if "fine-tune" in stages:
            encoder_brick(ing, None), decoder_brick(ing)  # fail early, naming the missing brick
            train_and_score(HERE / f"fine-tuned-{ing}.yaml", f"fine-tuned-{ing}")


def main() -> None:
    reexec_with_jemalloc()
    os.chdir(ROOT)  # config paths are relative to the repository root
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingestors", nargs="+", default=list(INGESTORS), choices=INGESTORS)
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--score-only", action="store_true", help="skip training; score what is trained")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config setting for every training stage, e.g. train.threads=1")
    args = parser.parse_args()
    try:
        run(args.ingestors, args.stages, args.score_only, args.overrides, SearchOptions(beam_size=args.beam))
    except LegoError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
