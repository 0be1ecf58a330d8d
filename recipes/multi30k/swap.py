"""Issue #3 ablation: swap the decoders of two De→En models trained with different seeds.

    python recipes/multi30k/swap.py                        # trains what is missing, then swaps every pair
    python recipes/multi30k/swap.py --pairs lego-wemb      # one pair
    python recipes/multi30k/swap.py --score-only           # swap what is trained
    python recipes/multi30k/swap.py --epochs 10 --warmup-steps 400   # a shorter schedule for every model

A shorter schedule trains both seeds of every pair the same way, in runs/multi30k-swap/e<N>/, so the
swap still compares like with like at a fraction of the cost (the results say which schedule).

For each pair (seed 1, seed 2) of one system, scores on test_2016_flickr (beam 5):
    A = enc₁+dec₁, B = enc₂+dec₂ (the models as trained) and enc₁+dec₂, enc₂+dec₁ (swapped).
BLEU lost = mean(A, B) − mean(swapped). LegoNN models hand over CTC-grounded marginals, so their
modules should swap with little loss; two monolithic baselines (hidden states cross over) and two
LegoNN models trained without the CTC loss show what happens without that interface.
Writes results/multi30k-swap/<pair>.json; then `python recipes/results_table.py`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from legonn.allocator import reexec_with_jemalloc
from legonn.checkpoint import load_checkpoint, save_checkpoint
from legonn.config import load_config
from legonn.datasets import data_root
from legonn.evaluation import evaluate_checkpoint
from legonn.experiments.provenance import ROOT, git_commit, hardware
from legonn.experiments.records import SwapRecord
from legonn.experiments.systems import train_system
from legonn.inference import load_model
from legonn.search import SearchOptions

HERE = Path(__file__).resolve().parent
TEST = (data_root() / "multi30k/test_2016_flickr.de.gz", data_root() / "multi30k/test_2016_flickr.en.gz")
PAIRS = {name: (HERE / f"{name}.yaml", HERE / f"{name}-seed2.yaml")
         for name in ("lego-wemb", "lego-beamconv", "baseline", "lego-wemb-noctc")}


def decoder_keys(state: dict) -> list[str]:
    """The decoder's weights: `decoder.*` in a LegoModel, `ar.*` in a Baseline (everything else is encoder)."""
    prefix = "decoder." if any(k.startswith("decoder.") for k in state) else "ar."
    return [k for k in state if k.startswith(prefix)]


def swapped_checkpoint(encoder_from: Path, decoder_from: Path, out: Path) -> Path:
    """A checkpoint holding the encoder of one model and the decoder of another (same architecture)."""
    enc, dec = load_checkpoint(encoder_from), load_checkpoint(decoder_from)
    loaded = load_model(encoder_from)
    state = dict(enc.model)
    for key in decoder_keys(state):
        state[key] = dec.model[key]
    loaded.model.load_state_dict(state)
    save_checkpoint(out, enc.config, enc.state, loaded.model, enc.src_vocab, enc.tgt_vocab, extra={"task": enc.extra["task"]})
    return out


def schedule_overrides(config: Path, epochs: int | None, warmup_steps: int | None) -> list[str]:
    """`--set` overrides that train `config` on a shorter schedule in a folder of its own (none: as configured)."""
    if epochs is None:
        return []
    overrides = [f"train.max_epochs={epochs}", f"out_dir=runs/multi30k-swap/e{epochs}/{config.stem}"]
    return overrides + ([f"train.warmup_steps={warmup_steps}"] if warmup_steps is not None else [])


def train_minutes(best: Path) -> float:
    """Wall time of a run's training steps (validation excluded), from the last checkpoint beside `best`."""
    return round(load_checkpoint(best.with_name("checkpoint_last.safetensors")).state.train_seconds / 60, 1)


def swap_pair(name: str, configs: tuple[Path, Path], opts: SearchOptions, overrides: list[list[str]]) -> SwapRecord:
    loaded_configs = [load_config(c, o) for c, o in zip(configs, overrides)]
    ckpts = [Path(c.out_dir) / "checkpoint_best.safetensors" for c in loaded_configs]
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"enc1+dec1": ckpts[0], "enc2+dec2": ckpts[1],
                "enc1+dec2": swapped_checkpoint(ckpts[0], ckpts[1], Path(tmp) / "enc1-dec2.safetensors"),
                "enc2+dec1": swapped_checkpoint(ckpts[1], ckpts[0], Path(tmp) / "enc2-dec1.safetensors")}
        for label, path in runs.items():
            report = evaluate_checkpoint(path, *TEST, opts)
            scores[label] = {"bleu": report["bleu"], "ctc_readout_bleu": report["ctc_readout_bleu"]}
            print(f"{name} {label}: BLEU {report['bleu']}")
    trained = (scores["enc1+dec1"]["bleu"] + scores["enc2+dec2"]["bleu"]) / 2
    swapped = (scores["enc1+dec2"]["bleu"] + scores["enc2+dec1"]["bleu"]) / 2
    return SwapRecord(pair=name, test_set="test_2016_flickr", scores=scores, mean_trained_bleu=round(trained, 2),
                      mean_swapped_bleu=round(swapped, 2), bleu_lost=round(trained - swapped, 2),
                      checkpoints=[str(p) for p in ckpts], seeds=[1, 2],
                      train_minutes=[train_minutes(p) for p in ckpts], epochs=loaded_configs[0].train.max_epochs,
                      warmup_steps=loaded_configs[0].train.warmup_steps, signature=report["signature"],
                      beam=opts.beam_size, hardware=hardware(), commit=git_commit())


def main() -> None:
    reexec_with_jemalloc()
    os.chdir(ROOT)  # config paths are relative to the repository root
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--score-only", action="store_true", help="skip training; swap what is trained")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--epochs", type=int, help="train every model for this many epochs instead of its config's")
    parser.add_argument("--warmup-steps", type=int, help="with --epochs: the warm-up of that shorter schedule")
    args = parser.parse_args()
    if args.warmup_steps is not None and args.epochs is None:
        parser.error("--warmup-steps goes with --epochs")
    for name in args.pairs:
        overrides = [schedule_overrides(c, args.epochs, args.warmup_steps) for c in PAIRS[name]]
        if not args.score_only:
            for config, override in zip(PAIRS[name], overrides):
                train_system(config, override)
        record = swap_pair(name, PAIRS[name], SearchOptions(beam_size=args.beam), overrides)
        out = ROOT / "results" / "multi30k-swap" / f"{name}.json"
        record.write(out)
        print(f"{name}: {record.bleu_lost} BLEU lost by swapping (wrote {out.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
