"""legonn against Hugging Face `transformers`, side by side in one process: training and beam search.

    pip install -e .[bench]          # transformers: a benchmark-only extra, never a runtime dependency
    python benchmarks/vs_hf.py [--rounds 5] [--steps 6] [--beam-rounds 3] [--new-tokens 20]

Systems: `hf`, a `MarianMTModel` configured with the Multi30k baseline's sizes (6 + 3 layers, width
256, 4 heads, feed-forward 1024, separate source/target vocabularies, output tied to the target
embedding, sinusoidal positions, dropout 0.3); legonn's `baseline` and `lego-wemb` (recipes/multi30k).

Training: every system takes the same real Multi30k De→En batches (batching by tokens, epoch 1
order) with the same optimizer (AdamW as the trainer builds it), label smoothing 0.1 and gradient
clipping; bf16 autocast where the CPU has it natively. Rounds interleave the systems (each does
--steps updates per round) so that drift in the machine's speed hits all alike; the figure is the
median over rounds of target tokens per second.

Beam search: 64 real test_2016_flickr sources, beam 5, exactly --new-tokens decoder steps on every
side (EOS forbidden throughout: HF by min_new_tokens = max_new_tokens, legonn by barring it in the
decoder's logits, `NoEnd`), random
weights, encoder included; the median over rounds of sentences per second. `lego-wemb+ctc` is
lego-wemb with joint CTC/attention decoding (λ = 0.3): its cost against plain beam search is the
joint-decoding cost. Writes results/bench/vs_hf.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from legonn.allocator import reexec_with_jemalloc
from legonn.assemble import build_run
from legonn.config import load_config
from legonn.data.batching import collate, encode_sources, make_batches, pad_sources
from legonn.data.text import read_lines
from legonn.datasets import data_root
from legonn.experiments.provenance import ROOT, git_commit, hardware
from legonn.precision import has_native_bf16, resolve_precision
from legonn.search import SearchOptions, beam_search
from legonn.train import Trainer, count_parameters
from legonn.vocab import BOS, EOS, PAD

CONFIGS = {"baseline": ROOT / "recipes/multi30k/baseline.yaml", "lego-wemb": ROOT / "recipes/multi30k/lego-wemb.yaml"}


def hf_marian(cfg, src_vocab: int, tgt_vocab: int):
    """A MarianMTModel with the baseline's sizes (recipes/multi30k/baseline.yaml)."""
    from transformers import MarianConfig, MarianMTModel

    b = cfg.model.baseline
    config = MarianConfig(
        vocab_size=src_vocab, decoder_vocab_size=tgt_vocab, share_encoder_decoder_embeddings=False,
        d_model=b.dim, encoder_layers=b.encoder_layers, decoder_layers=b.decoder_layers,
        encoder_attention_heads=b.heads, decoder_attention_heads=b.heads,
        encoder_ffn_dim=b.ff_dim, decoder_ffn_dim=b.ff_dim, activation_function="relu",
        dropout=b.dropout, attention_dropout=0.0, activation_dropout=0.0, scale_embedding=True,
        max_position_embeddings=512, pad_token_id=PAD, eos_token_id=EOS, bos_token_id=BOS,
        decoder_start_token_id=BOS, forced_eos_token_id=None, tie_word_embeddings=True)
    return MarianMTModel(config)


class HFTrainer:
    """One optimizer update of the HF model, with the loss and optimizer legonn's trainer uses."""

    def __init__(self, model, like: Trainer):
        self.model, t = model.train(), like.cfg.train
        self.cfg = like.cfg
        defaults = like.optimizer.defaults
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=t.lr, betas=defaults["betas"], eps=defaults["eps"],
                                           weight_decay=defaults["weight_decay"], fused=True)

    def train_step(self, batch) -> None:
        t = self.cfg.train
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=t.precision == "bf16"):
            logits = self.model(input_ids=batch.src, attention_mask=batch.src != PAD,
                                decoder_input_ids=batch.prev).logits
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch.target.flatten(), ignore_index=PAD,
                               label_smoothing=t.label_smoothing, reduction="sum") / batch.num_target_tokens
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def legonn_trainers(precision: str, threads: int, tmp: Path) -> dict[str, Trainer]:
    trainers = {}
    for name, config in CONFIGS.items():
        cfg = load_config(config, [f"out_dir={tmp / name}", f"train.precision={precision}", f"train.threads={threads}"])
        trainers[name] = Trainer(build_run(cfg, progress=False), resume=False, progress=False)
    return trainers


def time_training(systems: dict, batches: list, rounds: int, steps: int, warmup: int) -> dict[str, dict]:
    """Interleaved rounds; each system trains `steps` updates a round on the same batches."""
    for system in systems.values():
        for batch in batches[:warmup]:
            system.train_step(batch)
    per_round: dict[str, list[float]] = {name: [] for name in systems}
    for r in range(rounds):
        chunk = batches[warmup + r * steps : warmup + (r + 1) * steps]
        tokens = sum(b.num_target_tokens for b in chunk)
        for name, system in systems.items():
            start = time.perf_counter()
            for batch in chunk:
                system.train_step(batch)
            per_round[name].append(tokens / (time.perf_counter() - start))
        print(f"  training round {r + 1}/{rounds}: " + ", ".join(f"{n} {v[-1]:,.0f}" for n, v in per_round.items()))
    return {name: {"train_tokens_per_s": round(statistics.median(v), 1), "rounds_tokens_per_s": [round(x, 1) for x in v]}
            for name, v in per_round.items()}


def beam_runners(hf, models: dict, src, lengths, beam: int, new_tokens: int, precision: str) -> dict:
    """name → a function that runs one beam search of exactly `new_tokens` decoder steps on the batch."""
    autocast = dict(device_type="cpu", dtype=torch.bfloat16, enabled=precision == "bf16")

    def hf_run():
        with torch.no_grad(), torch.autocast(**autocast):
            hf.generate(input_ids=src, attention_mask=src != PAD, num_beams=beam, max_new_tokens=new_tokens,
                        min_new_tokens=new_tokens, do_sample=False, early_stopping=False, length_penalty=1.0)

    def ours(model, ctc_weight: float):
        joint = {"ctc_weight": ctc_weight} if ctc_weight else {}
        opts = SearchOptions(beam_size=beam, **joint)
        ar = NoEnd(model.ar)

        def run():
            with torch.no_grad(), torch.autocast(**autocast):
                enc = model.encode(src, lengths)
                if ctc_weight:
                    beam_search(ar, enc, new_tokens, opts, enc.interfaces[-1])
                else:
                    beam_search(ar, enc, new_tokens, opts)
        return run

    runners = {"hf": hf_run, "baseline": ours(models["baseline"], 0.0), "lego-wemb": ours(models["lego-wemb"], 0.0)}
    if "ctc_weight" in SearchOptions.__dataclass_fields__:  # the code before joint decoding has none
        runners["lego-wemb+ctc"] = ours(models["lego-wemb"], 0.3)
    return runners


class NoEnd:
    """The model's autoregressive decoder with EOS barred at every step, so that every search runs its
    full length (done this way, not with SearchOptions.min_len, so this file also measures the code
    from before min_len existed: `PYTHONPATH=<old checkout>/src python benchmarks/vs_hf.py`)."""

    def __init__(self, ar):
        self.ar = ar

    def new_cache(self):
        return self.ar.new_cache()

    def reorder_cache(self, cache, index, **parts):
        return self.ar.reorder_cache(cache, index, **parts)

    def step(self, *args, **kwargs):
        logits = self.ar.step(*args, **kwargs)
        logits[:, EOS] = -torch.inf
        return logits


def time_beam(runners: dict, rounds: int, sentences: int) -> dict[str, dict]:
    for run in runners.values():  # warm-up
        run()
    per_round: dict[str, list[float]] = {name: [] for name in runners}
    for r in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            per_round[name].append(sentences / (time.perf_counter() - start))
        print(f"  beam round {r + 1}/{rounds}: " + ", ".join(f"{n} {v[-1]:.1f}" for n, v in per_round.items()))
    return {name: {"beam_sentences_per_s": round(statistics.median(v), 2), "rounds_sentences_per_s": [round(x, 2) for x in v]}
            for name, v in per_round.items()}


def main() -> None:
    reexec_with_jemalloc()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved training rounds")
    parser.add_argument("--steps", type=int, default=6, help="updates per system per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--beam-rounds", type=int, default=3)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64, help="sentences per beam search")
    parser.add_argument("--new-tokens", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "results/bench/vs_hf.json")
    args = parser.parse_args()
    try:
        import transformers
    except ImportError:
        raise SystemExit("benchmarks/vs_hf.py needs transformers: pip install -e .[bench]") from None
    torch.set_num_threads(args.threads)
    precision = resolve_precision("auto")
    print(f"precision: {precision} (native bf16: {'yes' if has_native_bf16() else 'no'}), threads {args.threads}, "
          f"transformers {transformers.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        trainers = legonn_trainers(precision, args.threads, Path(tmp))
        base = trainers["baseline"]
        torch.manual_seed(0)
        hf = hf_marian(base.cfg, len(base.src_vocab), len(base.tgt_vocab))
        systems = {"hf": HFTrainer(hf, base), **trainers}
        params = {"hf": count_parameters(hf), **{n: count_parameters(t.model) for n, t in trainers.items()}}
        order = make_batches(base.pairs, base.cfg.train.max_tokens, base.cfg.train.seed, 1)
        needed = args.warmup + args.rounds * args.steps
        batches = [collate(base.pairs, order[i]) for i in range(needed)]
        print(f"training: {args.rounds} rounds × {args.steps} updates, batches of ≤ {base.cfg.train.max_tokens} tokens")
        train = time_training(systems, batches, args.rounds, args.steps, args.warmup)

        sentences = read_lines(data_root() / "multi30k/test_2016_flickr.de.gz")[: args.batch]
        src, lengths = pad_sources(encode_sources(sentences, base.src_vocab, 200, "test_2016_flickr.de"))
        models = {n: t.model.eval() for n, t in trainers.items()}
        hf.eval()
        print(f"beam search: {args.batch} sentences, beam {args.beam}, exactly {args.new_tokens} decoder steps")
        beam = time_beam(beam_runners(hf, models, src, lengths, args.beam, args.new_tokens, precision),
                         args.beam_rounds, args.batch)

    out = {}
    for name in ("hf", "baseline", "lego-wemb"):
        out[name] = {"params": params[name], **train[name], **beam[name],
                     "train_vs_hf": round(train[name]["train_tokens_per_s"] / train["hf"]["train_tokens_per_s"], 3),
                     "beam_vs_hf": round(beam[name]["beam_sentences_per_s"] / beam["hf"]["beam_sentences_per_s"], 3)}
    out["lego-wemb"]["train_cost_vs_baseline"] = round(
        train["baseline"]["train_tokens_per_s"] / train["lego-wemb"]["train_tokens_per_s"], 3)
    record = {"benchmark": "vs_hf", "precision": precision, "threads": args.threads,
              "transformers": transformers.__version__, "hardware": hardware(), "commit": git_commit(),
              "settings": {"rounds": args.rounds, "steps": args.steps, "beam_rounds": args.beam_rounds, "beam": args.beam,
                           "batch": args.batch, "new_tokens": args.new_tokens},
              "systems": out}
    if "lego-wemb+ctc" in beam:
        joint = beam["lego-wemb+ctc"]
        record["joint_decoding"] = {"ctc_weight": 0.3, **joint, "cost_vs_plain_beam":
                                    round(out["lego-wemb"]["beam_sentences_per_s"] / joint["beam_sentences_per_s"], 3)}
    for name, fig in out.items():
        print(f"{name:10s} {fig['params']:>11,} params  train {fig['train_tokens_per_s']:>7,.0f} tok/s "
              f"({fig['train_vs_hf']:.2f}× HF)  beam {fig['beam_sentences_per_s']:>6.1f} sent/s ({fig['beam_vs_hf']:.2f}× HF)")
    print(f"lego-wemb training costs {out['lego-wemb']['train_cost_vs_baseline']:.2f}× the baseline per target token")
    if "joint_decoding" in record:
        print(f"joint decoding (λ 0.3) costs {record['joint_decoding']['cost_vs_plain_beam']:.2f}× plain beam search")
    write_record(record, args.output)


def write_record(record: dict, path: Path) -> None:
    try:
        from legonn.experiments.records import VsHfRecord
    except ImportError:  # measuring the code from before this benchmark existed
        path.write_text(json.dumps(record, indent=2) + "\n")
    else:
        VsHfRecord.from_dict(record, str(path)).write(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
