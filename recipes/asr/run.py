"""Issue #4: English ASR, and a speech encoder that feeds the De→En translation decoder with no fine-tuning.

    python recipes/asr/prepare_data.py --limit 14500       # first: synthesise the corpus (audio is not in git)
    python recipes/asr/prepare_data.py --phonemes          # then the three-module chain's text data
    python recipes/asr/run.py                              # every stage, both ingestors; resumes
    python recipes/asr/run.py --ingestors wemb             # one ingestor
    python recipes/asr/run.py --stages zero-shot           # one stage (needs the bricks it reads)
    python recipes/asr/run.py --score-only                 # re-score what is trained
    python recipes/asr/run.py --set train.threads=1        # a setting for every training stage

Stages, for ingestor I ∈ {wemb, beamconv}:
  baseline   train recipes/asr/baseline.yaml (a monolithic transformer ASR model) and score it
  baseline-ctc  the same model with an auxiliary CTC loss on its encoder (joint CTC/attention, still no
             interface): recipes/asr/baseline-ctc.yaml, a second, stronger yardstick
  lego       train recipes/asr/lego-I.yaml (LegoNN ASR with its own decoder; its OLC ratio is fitted to the
             De→En decoder's card), score it, export its speech encoder → models/asr-en-I/
  zero-shot  compose models/asr-en-I/asr-en.encoder + models/de-en-I/de-en.decoder (a translation decoder,
             never trained with this encoder or on speech) → runs/asr-en/zero-shot-I/, score it
  fine-tune  train recipes/asr/fine-tuned-I.yaml (that composition, a few thousand updates), score it
The three-module chain (WEmb hand-overs; first `python recipes/asr/prepare_data.py --phonemes`):
  three-module            train module B, phonemes → sub-words, from text (phonemes-to-en.yaml; dataset B),
                          then module A, speech → phonemes (speech-to-phonemes.yaml; dataset A), export
                          both to runs/asr-en/bricks/ (each at its best CTC readout — train.select_on:
                          interface — since their own decoders only teach them), compose A + B + the De→En
                          decoder (three modules from three datasets, never trained together) and score it
  three-module-fine-tune  train recipes/asr/three-module-fine-tuned.yaml (that chain, on the speech), score it

Schedule: the speech encoder's CTC leaves its plateau slowly, whatever the OLC ratio, ingestor or
learning rate (stop 18 overfit 400 clips: ~750 updates to a 60 % CTC-readout WER on those very clips).
The results use half the captions as speech (--limit 14500: ~208 updates an epoch at the configs'
max_tokens 24000; ~4.5 min an epoch on 2 cores, ~7 min with two runs sharing them), so that the other half can be the three-module chain's
dataset B, text no training clip speaks. A smaller subset (--limit 4000: ~60 an epoch) needs far more
epochs than the configs' 30 (`--set train.max_epochs=…`), or it stops before CTC has aligned.
On 2 cores, `--set train.time_budget_minutes=N` ends a run (resumably) at the last epoch that fits.

Scored with beam 5 on the synthetic test set (Multi30k test_2016_flickr captions spoken by voices no
training or validation clip uses) and on the 100 real Common Voice clips. Results:
results/asr-en/<system>[.commonvoice].json; then `python recipes/results_table.py`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from legonn.allocator import reexec_with_jemalloc
from legonn.errors import LegoError
from legonn.experiments.exports import decoder_brick, encoder_brick, export
from legonn.experiments.provenance import ROOT
from legonn.experiments.systems import compose_and_score, score_system, train_system
from legonn.search import SearchOptions

HERE = Path(__file__).resolve().parent
SPEECH = ROOT / "data" / "speech"
# the first test set is the headline one (results/asr-en/<system>.json); None: a manifest, not a text pair
TEST_SETS = {"synthetic-test": (SPEECH / "test" / "manifest.tsv", None),
             "commonvoice": (SPEECH / "commonvoice" / "manifest.tsv", None)}
INGESTORS = ("wemb", "beamconv")
STAGES = ("baseline", "baseline-ctc", "lego", "zero-shot", "fine-tune", "three-module", "three-module-fine-tune")
TASK = "asr-en"
RESULTS = ROOT / "results" / TASK
CHAIN = ROOT / "runs" / "asr-en" / "bricks"  # the chain's own modules A and B (not shipped)


def chain_bricks(train_and_score) -> list[Path]:
    """Modules A and B of the chain, trained (B first: A's OLC ratio is fitted to what B reads), as bricks."""
    train_and_score(HERE / "phonemes-to-en.yaml", None)
    b_card = export(ROOT / "runs" / "asr-en" / "phonemes-to-en" / "checkpoint_best.safetensors", "encoder", CHAIN)
    train_and_score(HERE / "speech-to-phonemes.yaml", None)
    a_card = export(ROOT / "runs" / "asr-en" / "speech-to-phonemes" / "checkpoint_best.safetensors", "encoder",
                    CHAIN)
    return [a_card, b_card]


def run(ingestors: list[str], stages: list[str], score_only: bool, overrides: list[str], opts: SearchOptions) -> None:
    def train_and_score(config: Path, system: str | None) -> list[dict]:
        """system None: a module trained only to be composed (its own decoder is not an ASR system)."""
        if not score_only:
            train_system(config, overrides)
        return score_system(config, TEST_SETS, RESULTS, system, opts, overrides) if system else []

    for manifest, _ in TEST_SETS.values():
        if not manifest.is_file():
            raise LegoError(f"{manifest}: missing; run `python recipes/asr/prepare_data.py` first")
    if "baseline" in stages:
        train_and_score(HERE / "baseline.yaml", "baseline")
    if "baseline-ctc" in stages:
        train_and_score(HERE / "baseline-ctc.yaml", "baseline-ctc")
    for ing in ingestors:
        if "lego" in stages:
            decoder_brick(ing)  # the encoder's `length_ratio: auto` reads its card
            encoder_brick(TASK, ing, train_and_score(HERE / f"lego-{ing}.yaml", f"lego-{ing}"))
        if "zero-shot" in stages:
            compose_and_score([encoder_brick(TASK, ing, None), decoder_brick(ing)], TASK, TEST_SETS, RESULTS,
                              f"zero-shot-{ing}", opts)
        if "fine-tune" in stages:
            encoder_brick(TASK, ing, None), decoder_brick(ing)  # fail early, naming the missing brick
            train_and_score(HERE / f"fine-tuned-{ing}.yaml", f"fine-tuned-{ing}")
    if "three-module" in stages:
        compose_and_score(chain_bricks(train_and_score) + [decoder_brick("wemb")], TASK, TEST_SETS, RESULTS,
                          "three-module-zero-shot", opts)
    if "three-module-fine-tune" in stages:
        train_and_score(HERE / "three-module-fine-tuned.yaml", "three-module-fine-tuned")


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
