"""CTC on the target labels only against CTC over the whole vocabulary: a lego-wemb training A/B.

    python benchmarks/ctc_compact.py [--steps 200] [--threads 2]

`legonn.interface.ctc_loss` runs torch's CTC on the log-probabilities of blank and the batch's target
labels (U classes) and takes the exp(lp) term of torch's gradient back off; `full_vocab_ctc_loss`
below is the plain call over all V classes it replaced. Two lego-wemb trainers (recipes/multi30k,
built from the same seed, so with the same weights) train on the same real Multi30k De→En batches,
one with each loss; before every update the random generator is reseeded, so both draw the same
dropout masks, and the two take turns going first. What is compared:

- numerics: the training loss of both at every one of --steps updates (the issue's check: the same
  curve to within noise over 200 steps) — the largest and the mean absolute difference;
- cost: the median over updates of each one's milliseconds per update, and their ratio.

Writes results/bench/ctc_compact.json. Runs under jemalloc when installed, as the `legonn` command does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

import legonn.losses
from legonn.allocator import reexec_with_jemalloc
from legonn.assemble import build_run
from legonn.config import load_config
from legonn.data.batching import collate, make_batches
from legonn.experiments.provenance import ROOT, git_commit, hardware
from legonn.experiments.records import CtcCompactRecord
from legonn.interface import ctc_loss
from legonn.precision import resolve_precision
from legonn.train import Trainer

CONFIG = ROOT / "recipes/multi30k/lego-wemb.yaml"


def full_vocab_ctc_loss(marginals, targets, target_lengths):
    """The CTC loss over all V classes, as legonn computed it before (same value, same reduction)."""
    loss = F.ctc_loss(marginals.log_probs.float().transpose(0, 1), targets, marginals.lengths, target_lengths,
                      blank=marginals.vocab.blank, reduction="sum", zero_infinity=True)
    return loss / target_lengths.sum().clamp(min=1)


def trainer(precision: str, threads: int, out: Path) -> Trainer:
    cfg = load_config(CONFIG, [f"out_dir={out}", f"train.precision={precision}", f"train.threads={threads}"])
    return Trainer(build_run(cfg, progress=False), resume=False, progress=False)


def timed_step(system: Trainer, loss_fn, batch, seed: int) -> tuple[float, float]:
    """One update with `loss_fn` as the CTC term → (training loss, seconds)."""
    legonn.losses.ctc_loss = loss_fn
    try:
        torch.manual_seed(seed)
        start = time.perf_counter()
        loss = system.train_step(batch)["loss"]
        return loss, time.perf_counter() - start
    finally:
        legonn.losses.ctc_loss = ctc_loss


def main() -> None:
    reexec_with_jemalloc()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="updates each system makes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "results/bench/ctc_compact.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    precision = resolve_precision("auto")
    losses = {"full": full_vocab_ctc_loss, "compact": ctc_loss}
    with tempfile.TemporaryDirectory() as tmp:
        systems = {name: trainer(precision, args.threads, Path(tmp) / name) for name in losses}
        weights = [dict(s.model.state_dict()) for s in systems.values()]
        if any(not torch.equal(a, weights[1][k]) for k, a in weights[0].items()):
            raise SystemExit("the two trainers did not start from the same weights")
        first = systems["full"]
        order = make_batches(first.pairs, first.cfg.train.max_tokens, first.cfg.train.seed, 1)
        curve = {name: [] for name in losses}
        seconds = {name: [] for name in losses}
        for step in tqdm(range(args.steps), desc="updates (each system)", unit="update"):
            batch = collate(first.pairs, order[step % len(order)])
            names = list(losses) if step % 2 == 0 else list(reversed(losses))
            for name in names:
                loss, took = timed_step(systems[name], losses[name], batch, seed=1000 + step)
                curve[name].append(loss)
                seconds[name].append(took)

    diffs = [abs(a - b) for a, b in zip(curve["full"], curve["compact"])]
    ms = {name: statistics.median(s) * 1000 for name, s in seconds.items()}
    record = CtcCompactRecord(
        benchmark="ctc_compact", config=str(CONFIG.relative_to(ROOT)), precision=precision, threads=args.threads,
        steps=args.steps, hardware=hardware(), commit=git_commit(),
        ms_per_update={name: round(v, 1) for name, v in ms.items()},
        compact_vs_full=round(ms["compact"] / ms["full"], 3),
        loss={name: [round(x, 5) for x in c] for name, c in curve.items()},
        max_abs_loss_difference=round(max(diffs), 6), mean_abs_loss_difference=round(statistics.mean(diffs), 6))
    print(f"ms per update: full-vocabulary CTC {ms['full']:.0f}, compact CTC {ms['compact']:.0f} "
          f"({record.compact_vs_full:.3f}×)")
    print(f"training loss over {args.steps} updates: first {curve['full'][0]:.4f} / {curve['compact'][0]:.4f}, "
          f"last {curve['full'][-1]:.4f} / {curve['compact'][-1]:.4f}; largest difference "
          f"{record.max_abs_loss_difference:.2g}, mean {record.mean_abs_loss_difference:.2g}")
    record.write(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
