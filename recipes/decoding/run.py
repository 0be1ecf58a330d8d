"""Joint CTC/attention decoding on the zero-shot compositions of the shipped bricks and on trained
LegoNN systems (issue #34).

    python recipes/decoding/run.py                       # every zero-shot system below; a few minutes each
    python recipes/decoding/run.py fr-en ro-en           # some tasks
    python recipes/decoding/run.py --grid 0 0.2 0.4      # another λ grid
    python recipes/decoding/run.py de-en                 # De→En LegoNN systems: train them first with
                                                         #   python recipes/multi30k/run.py --systems lego-wemb

For each system: λ (SearchOptions.ctc_weight) is chosen on the task's validation set from --grid
(beam 5, length penalty 1.0), then the test sets are decoded with the decoder alone (λ = 0) and
with the chosen λ; the CTC readout of the interface (no decoder) is scored beside them. English
ASR has no real-speech validation set here (the synthetic one is generated, not shipped), so its λ
is fixed in advance as the median of the text tasks' choices, and the whole grid on Common Voice
is recorded too, marked as measured on the test set. Results: results/decoding/<task>.<system>.json.

Zero-shot systems are compositions of bricks in models/ that were never trained together: the task's
encoder (trained with its own WEmb decoder) + the De→En decoder, WEmb or BeamConv. Trained systems
(`TRAINED`) are read from their recipe's best checkpoint under runs/; those not trained are skipped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

from legonn.allocator import reexec_with_jemalloc
from legonn.bricks import LengthRatioWarning, compose
from legonn.data.commonvoice import read_sample
from legonn.data.text import read_parallel
from legonn.datasets import data_root
from legonn.errors import LegoError
from legonn.evaluation import over_twice_reference
from legonn.experiments.provenance import ROOT, git_commit, hardware
from legonn.experiments.records import DecodingRecord
from legonn.inference import load_model, transcribe, translate
from legonn.score import bleu_chrf, wer
from legonn.search import SearchOptions

MULTI30K = data_root() / "multi30k"
ROEN = ROOT / "data" / "ro-en"  # recipes/ro-en/prepare_data.py normalises the data root's copy into it
CV = data_root() / "commonvoice_en_sample100"  # its utterances.tsv, read by legonn.data.commonvoice.read_sample
DECODERS = {"wemb": "models/de-en-wemb/de-en.decoder.json", "beamconv": "models/de-en-beamconv/de-en.decoder.json"}


def _m30k(lang: str, name: str) -> tuple[Path, Path]:
    return MULTI30K / f"{name}.{lang}.gz", MULTI30K / f"{name}.en.gz"


TASKS = {  # task → (encoder card of its zero-shot systems, None if it has none; validation set; test sets)
    "fr-en": ("models/fr-en-wemb/fr-en.encoder.json", ("val", _m30k("fr", "val")),
              {"test_2016_flickr": _m30k("fr", "test_2016_flickr")}),
    "cs-en": ("models/cs-en-wemb/cs-en.encoder.json", ("val", _m30k("cs", "val")),
              {"test_2016_flickr": _m30k("cs", "test_2016_flickr")}),
    "ro-en": ("models/ro-en-wemb/ro-en.encoder.json", ("RO-STS.dev", (ROEN / "RO-STS.dev.ro", ROEN / "RO-STS.dev.en")),
              {"RO-STS.test": (ROEN / "RO-STS.test.ro", ROEN / "RO-STS.test.en"),
               "newstest2016": (ROEN / "newstest2016.ro", ROEN / "newstest2016.en")}),
    "asr-en": ("models/asr-en-wemb/asr-en.encoder.json", None, {"commonvoice": (CV, None)}),
    "de-en": (None, ("val", _m30k("de", "val")), {"test_2016_flickr": _m30k("de", "test_2016_flickr"),
                                                  "test_2017_flickr": _m30k("de", "test_2017_flickr")}),
}
# systems trained as one model (encoder and decoder together): task → system → (its recipe's best
# checkpoint, the command that trains it)
TRAINED = {"de-en": {name: (f"runs/multi30k/{name}/checkpoint_best.safetensors",
                            f"python recipes/multi30k/run.py --systems {name}") for name in ("lego-wemb", "lego-beamconv")}}


class Scorer:
    """Decodes one test set with a loaded model: the decoder's score and the last interface's readout."""

    def __init__(self, loaded, src: Path, ref: Path | None):
        self.loaded, self.speech = loaded, ref is None
        if self.speech:
            utterances = read_sample(folder=src)
            self.inputs, self.refs = [u.path for u in utterances], [u.text for u in utterances]
        else:
            data = read_parallel(src, ref)
            self.inputs, self.refs = data.src, data.tgt

    def __call__(self, opts: SearchOptions) -> dict:
        start = time.perf_counter()
        if self.speech:
            out = transcribe(self.loaded, self.inputs, opts)
            hyps, readouts = out.hypotheses, [r[-1] for r in out.ctc_readouts]
        else:
            m = self.loaded
            out = translate(m.model, m.src_vocab, m.tgt_vocab, self.inputs, opts, m.max_len,
                            interface_vocabs=m.interface_vocabs)
            hyps, readouts = [o.hypothesis for o in out], [o.ctc_readouts[-1] for o in out]
        seconds = time.perf_counter() - start
        if self.speech:
            return {"score": wer(hyps, self.refs), "ctc_readout": wer(readouts, self.refs), "seconds": round(seconds, 1),
                    "over_twice_reference": over_twice_reference(hyps, self.refs)}
        return {"score": bleu_chrf(hyps, self.refs).bleu, "ctc_readout": bleu_chrf(readouts, self.refs).bleu,
                "seconds": round(seconds, 1)}


def options(ctc_weight: float) -> SearchOptions:
    return SearchOptions(beam_size=5, length_penalty=1.0, ctc_weight=ctc_weight)


def better(metric: str):
    return max if metric == "bleu" else min


def zero_shot(task: str, ingestor: str):
    """The task's encoder brick + the De→En decoder brick, composed → (system name, loaded model, bricks)."""
    system = f"zero-shot-{ingestor}"
    folder = ROOT / "runs" / "decoding" / f"{task}.{system}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LengthRatioWarning)
        compose([ROOT / TASKS[task][0], ROOT / DECODERS[ingestor]], folder)
    return system, load_model(folder), [TASKS[task][0], DECODERS[ingestor]]


def run_system(task: str, system: str, loaded, bricks: list[str], grid: list[float], fixed_weight: float | None,
               checkpoint: str | None = None) -> DecodingRecord:
    _, valid, tests = TASKS[task]
    metric = loaded.task.metric
    pick = better(metric)
    valid_grid = None
    if valid is not None:
        score = Scorer(loaded, *valid[1])
        valid_grid = {str(lam): score(options(lam))["score"] for lam in grid}
        chosen = float(pick(valid_grid, key=lambda lam: (valid_grid[lam], -float(lam))))
        print(f"{task} {system}: validation {metric.upper()} by λ {valid_grid} → λ {chosen}")
    else:
        chosen = fixed_weight
    test_results = {}
    for name, (src, ref) in tests.items():
        score = Scorer(loaded, src, ref)
        plain, joint = score(options(0.0)), score(options(chosen))
        result = {"decoder_alone": plain["score"], "ctc_readout": plain["ctc_readout"], "joint": joint["score"],
                  "plain_seconds": plain["seconds"], "joint_seconds": joint["seconds"]}
        if "over_twice_reference" in plain:
            result["over_twice_reference"] = {"decoder_alone": plain["over_twice_reference"],
                                              "joint": joint["over_twice_reference"], "hypotheses": len(score.refs)}
        if valid is None:  # no validation set: the grid on the test set, labelled as such
            decoded = {0.0: plain, chosen: joint}  # decoding is deterministic: these two need not run again
            result["test_grid"] = {str(lam): (decoded.get(lam) or score(options(lam)))["score"] for lam in grid}
        best_alone = pick(plain["score"], plain["ctc_readout"])
        result["joint_vs_best_alone"] = round(joint["score"] - best_alone, 2)
        test_results[name] = result
        print(f"{task} {system} on {name}: decoder {plain['score']}, CTC readout {plain['ctc_readout']}, "
              f"joint λ {chosen} {joint['score']} ({plain['seconds']} s → {joint['seconds']} s)")
    record = DecodingRecord(task=task, system=system, bricks=bricks, checkpoint=checkpoint, metric=metric,
                            valid_set=valid[0] if valid else None, valid_grid=valid_grid,
                            chosen_on="validation" if valid else "median of the text tasks' choices",
                            decoding=options(chosen).describe(), test=test_results, hardware=hardware(),
                            commit=git_commit())
    record.write(ROOT / "results" / "decoding" / f"{task}.{system}.json")
    return record


def main() -> None:
    reexec_with_jemalloc()
    os.chdir(ROOT)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tasks", nargs="*", help=f"some of {', '.join(TASKS)} (default: all)")
    parser.add_argument("--ingestors", nargs="+", default=list(DECODERS), choices=list(DECODERS))
    parser.add_argument("--grid", nargs="+", type=float, default=[0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
    args = parser.parse_args()
    args.tasks = args.tasks or list(TASKS)
    if unknown := [t for t in args.tasks if t not in TASKS]:
        parser.error(f"unknown task {unknown[0]!r}: choose from {', '.join(TASKS)}")
    if "ro-en" in args.tasks and not (ROEN / "RO-STS.dev.ro").is_file():
        import subprocess

        subprocess.run([sys.executable, str(ROOT / "recipes" / "ro-en" / "prepare_data.py")], check=True)
    chosen = []
    try:
        for task in [t for t in args.tasks if t != "asr-en"]:
            if TASKS[task][0] is not None:
                for ingestor in args.ingestors:
                    chosen.append(run_system(task, *zero_shot(task, ingestor), args.grid, None).decoding["ctc_weight"])
            for system, (checkpoint, train_command) in TRAINED.get(task, {}).items():
                if not (ROOT / checkpoint).is_file():
                    print(f"{task} {system}: skipped, {checkpoint} is not trained ({train_command})")
                    continue
                run_system(task, system, load_model(ROOT / checkpoint), [], args.grid, None, checkpoint)
        if "asr-en" in args.tasks:
            if not chosen:  # the text tasks' zero-shot choices from their records
                chosen = [DecodingRecord.from_json(p).decoding["ctc_weight"]
                          for p in sorted((ROOT / "results" / "decoding").glob("*.zero-shot-*.json"))
                          if not p.name.startswith("asr")]
            if not chosen:
                sys.exit("error: asr-en takes its λ from the text tasks' zero-shot systems: run them first")
            for ingestor in args.ingestors:
                run_system("asr-en", *zero_shot("asr-en", ingestor), args.grid, statistics.median(chosen))
    except LegoError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
