"""Training throughput (target tokens/s) of the Multi30k baseline and LegoNN configs, one run.

    python benchmarks/train_throughput.py [--steps 40] [--precision auto|bf16|fp32] [--threads 2]

Each config trains on the same real Multi30k De→En batches (batching by tokens, epoch 1 order),
after warm-up steps; the figure is target tokens (EOS included) per second of wall time spent in
optimizer steps. Targets (issue #2): baseline ≥ 3,500 tokens/s in bf16 on 2 cores; LegoNN costs
≤ 1.5× the baseline per target token. Writes results/bench/train_throughput.json. Runs under
jemalloc when installed, as the `legonn` command does (LEGONN_JEMALLOC=0 for the system allocator).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from legonn.allocator import reexec_with_jemalloc
from legonn.assemble import build_run
from legonn.config import load_config
from legonn.data.batching import collate, make_batches
from legonn.experiments.provenance import ROOT, git_commit, hardware
from legonn.experiments.records import TrainThroughputRecord
from legonn.precision import CHOICES as PRECISIONS, has_native_bf16, resolve_precision
from legonn.train import Trainer, count_parameters

CONFIGS = {
    "baseline": ROOT / "recipes/multi30k/baseline.yaml",
    "lego-wemb": ROOT / "recipes/multi30k/lego-wemb.yaml",
    "lego-beamconv": ROOT / "recipes/multi30k/lego-beamconv.yaml",
}


def measure(config: Path, steps: int, warmup: int, precision: str, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(config, [f"out_dir={tmp}", f"train.precision={precision}", f"train.threads={threads}"])
        trainer = Trainer(build_run(cfg, progress=False), resume=False, progress=False)
        batches = make_batches(trainer.pairs, cfg.train.max_tokens, cfg.train.seed, 1)
        for i in range(warmup):
            trainer.train_step(collate(trainer.pairs, batches[i]))
        tokens, seconds = 0, 0.0
        for i in range(warmup, warmup + steps):
            batch = collate(trainer.pairs, batches[i])
            start = time.perf_counter()
            trainer.train_step(batch)
            seconds += time.perf_counter() - start
            tokens += batch.num_target_tokens
        return {"params": count_parameters(trainer.model), "steps": steps, "target_tokens": tokens,
                "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1)}


def main() -> None:
    reexec_with_jemalloc()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto: bf16 where the CPU has native bf16, else fp32 (legonn.precision)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--systems", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "results/bench/train_throughput.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    precision = resolve_precision(args.precision)
    print(f"precision: {precision} (native bf16 on this CPU: {'yes' if has_native_bf16() else 'no'})")
    figures = {}
    for name in args.systems:
        figures[name] = measure(CONFIGS[name], args.steps, args.warmup, precision, args.threads)
        print(f"{name:14s} {figures[name]['params']:>11,} params  {figures[name]['tokens_per_s']:>8,.0f} target tokens/s")
    if "baseline" in figures:
        base = figures["baseline"]["tokens_per_s"]
        for name, fig in figures.items():
            fig["cost_vs_baseline"] = round(base / fig["tokens_per_s"], 2)
            if name != "baseline":
                print(f"{name:14s} costs {fig['cost_vs_baseline']:.2f}× the baseline per target token (target ≤ 1.5×)")
        print(f"baseline throughput {base:,.0f} tokens/s (target ≥ 3,500): {'met' if base >= 3500 else 'MISSED'}")
    allocator = "jemalloc" if os.environ.get("LEGONN_JEMALLOC") == "active" else "system malloc"
    print(f"allocator: {allocator}")
    TrainThroughputRecord(benchmark="train_throughput", precision=precision, native_bf16=has_native_bf16(),
                          threads=args.threads, allocator=allocator, hardware=hardware(), commit=git_commit(),
                          systems=figures).write(args.output)


if __name__ == "__main__":
    main()
