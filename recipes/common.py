"""Shared by the recipe scripts: train a config, score its best checkpoint, write results JSON.

Results JSON (one file per system): task, system, test_set, bleu, chrf, signature, params,
train_minutes, tokens_per_s, seed, commit, plus the validation BLEU, each interface's CTC-readout
BLEU and the training schedule the run used. Speech systems (a test set given as a manifest) have
wer, wer_normalisation, ctc_readout_wer, real_time_factor and train_utterances in place of the BLEU
fields. Later recipes reuse this format.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch

from legonn.bricks import (COMPOSITION_FILE, LengthRatioWarning, compose, composition_cards, export_brick,
                           load_composed, read_card)
from legonn.checkpoint import load_checkpoint
from legonn.config import load_config
from legonn.errors import LegoError
from legonn.evaluation import evaluate_checkpoint, evaluate_speech
from legonn.inference import load_model
from legonn.plots import METRICS_SUFFIX
from legonn.precision import cpu_flags
from legonn.search import SearchOptions
from legonn.assemble import build_run
from legonn.train import Trainer, stop_on_signal
from legonn.vocab import atomic_write_bytes

ROOT = Path(__file__).resolve().parents[1]


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        # results/ and docs/ are what scoring writes (a run's first record must not mark its second dirty);
        # models/ stays in: a re-exported brick changes what a composition scores
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results",
                                ":!docs"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except OSError:
        return "unknown"


# the widest matrix-math extension decides CPU training speed (bf16 in hardware is 2-5× fp32 AVX2),
# and one model name ("AMD EPYC") covers VMs with and without it
VECTOR_EXTENSIONS = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def hardware() -> str:
    """CPU model, its widest vector extension, core count, and the torch build:
    'AMD EPYC (AVX2), 2 cores, torch 2.13.0+cpu'."""
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    isa = next((name for flag, name in VECTOR_EXTENSIONS if flag in flags), None)
    return f"{model}{f' ({isa})' if isa else ''}, {os.cpu_count()} cores, torch {torch.__version__}"


def training_finished(cfg, state) -> bool:
    """Did the run stop by its own rule (epochs, steps or patience), rather than being interrupted?"""
    t = cfg.train
    return (state.epoch > t.max_epochs or bool(t.max_steps and state.step >= t.max_steps)
            or bool(t.patience and state.bad_epochs >= t.patience))


def median_window_tokens_per_s(run_dir: Path) -> float | None:
    """Median of the per-50-step throughput the trainer logged: robust to the odd window in which the
    machine was busy with something else (the run's total wall time is not)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return None
    values = sorted(r["tokens_per_s"] for r in map(json.loads, path.read_text().splitlines()) if "tokens_per_s" in r)
    return round(values[len(values) // 2], 1) if values else None


def run_setting(run_dir: Path, field: str, configured):
    """A train field as the run used it: its config.json holds command-line overrides (--set
    train.threads=1) and 'auto' precision resolved on the training machine; the recipe's value otherwise."""
    try:
        return json.loads((run_dir / "config.json").read_text())["train"][field]
    except (OSError, KeyError, ValueError):
        return configured


def train_system(config: Path, overrides: list[str] = ()) -> None:
    """Train (or resume) until the config's stopping rule; safe to rerun after a kill. Ctrl-C or SIGTERM
    stops after the update in progress, saves checkpoint_last and exits (nothing is scored), as
    `legonn train` does: rerun the same command to resume."""
    trainer = Trainer(build_run(load_config(config, overrides)))
    with stop_on_signal(trainer) as received:
        result = trainer.run()
    if result.stopped_early:
        print(f"stopped at step {result.state.step} ({signal.Signals(received[0]).name}); checkpoint saved in "
              f"{result.out_dir}: rerun the same command to resume", file=sys.stderr)
        sys.exit(128 + received[0])  # the shell's convention for "ended by this signal"
    if result.out_of_time:  # scored as it stands (results say training_finished: false); rerun to go on
        print(f"time budget spent after epoch {result.state.epoch - 1} (step {result.state.step}); "
              f"rerun to resume {result.out_dir}", file=sys.stderr)


TestSets = dict[str, tuple[Path, Path]]  # name → (source, reference) text files, or name → (manifest, None)


def _score(path: Path, test: tuple[Path, Path | None], opts: SearchOptions) -> dict:
    """Translation: BLEU/chrF and CTC-readout BLEU; speech (a manifest, no reference file): WER."""
    src, ref = test
    if ref is None:
        return evaluate_speech(path, src, opts)
    return evaluate_checkpoint(path, src, ref, opts, progress=True)


def _record_runs(path: Path, test_sets: TestSets, results_dir: Path, system: str, opts: SearchOptions,
                 fields: dict) -> list[dict]:
    """Score the model at `path` (checkpoint or composed folder) on each test set; write
    results_dir/<system>.json for the first set and <system>.<set>.json for the others."""
    records = []
    for i, (test_name, test) in enumerate(test_sets.items()):
        report = _score(path, test, opts)
        if "wer" in report:
            metric, readout = "wer", "ctc_readout_wer"
            scores = {k: report[k] for k in ("wer", "wer_normalisation", "utterances", "audio_seconds",
                                              "real_time_factor")}
        else:
            metric, readout = "bleu", "ctc_readout_bleu"
            scores = {k: report[k] for k in ("bleu", "chrf", "signature")}
        record = {"task": fields["task"], "system": system, "test_set": test_name, **scores,
                  readout: report[readout], **fields,
                  "beam": opts.beam_size, "length_penalty": opts.length_penalty,
                  "decode_seconds": report["decode_seconds"], "hardware": hardware(), "commit": git_commit()}
        name = f"{system}.json" if i == 0 else f"{system}.{test_name}.json"
        atomic_write_bytes(results_dir / name, (json.dumps(record, indent=2) + "\n").encode())
        print(f"{system} on {test_name}: {metric.upper()} {record[metric]} (CTC readout {record[readout]})")
        records.append(record)
    return records


def score_system(config: Path, test_sets: TestSets, results_dir: Path, system: str,
                 opts: SearchOptions, overrides: list[str] = ()) -> list[dict]:
    """Score a trained config's best checkpoint on each test set; write results_dir/<system>[.<set>].json."""
    cfg = load_config(config, overrides)
    # a snapshot: a run still training may write a new best while we score
    snapshot = Path(tempfile.mkdtemp()) / "checkpoint_best.safetensors"
    shutil.copyfile(Path(cfg.out_dir) / "checkpoint_best.safetensors", snapshot)
    ckpt = load_checkpoint(snapshot)
    last_ckpt = load_checkpoint(Path(cfg.out_dir) / "checkpoint_last.safetensors")
    last = last_ckpt.state
    speech = ckpt.task.speech
    # time and tokens of the whole run so far; the scores come from the best checkpoint
    fields = {
        "task": cfg.task,
        "checkpoint": str(Path(cfg.out_dir) / "checkpoint_best.safetensors"),
        f"valid_{ckpt.task.metric}_greedy": ckpt.state.best if ckpt.state.best is not None else -1.0,
        # train.select_on: interface picks the best checkpoint by (and the figure above is) a CTC readout
        **({"selected_on": ckpt.state.best_on} if ckpt.state.best_on.startswith("valid_ctc") else {}),
        "best_epoch": ckpt.state.epoch - 1,
        # judged by the settings the run last started with (its --set overrides), not the config as read now
        "training_finished": training_finished(last_ckpt.config, last),
        "params": sum(v.numel() for v in ckpt.model.values()),
        "train_minutes": round(last.train_seconds / 60, 1),
        "train_steps": last.step,
        "train_epochs_completed": last.epoch - 1,
        "tokens_per_s": round(last.target_tokens / max(last.train_seconds, 1e-9), 1),
        "median_window_tokens_per_s": median_window_tokens_per_s(Path(cfg.out_dir)),
        "train_threads": run_setting(Path(cfg.out_dir), "threads", cfg.train.threads),  # of the latest (re)start
        "seed": cfg.train.seed,
        "precision": run_setting(Path(cfg.out_dir), "precision", cfg.train.precision),
        "config": repo_path(config),
        # as the run used them (command-line overrides included): a reduced schedule shows beside its score
        "schedule": {k: run_setting(Path(cfg.out_dir), k, getattr(cfg.train, k))
                     for k in ("max_tokens", "lr", "warmup_steps", "lr_schedule", "max_epochs", "max_steps", "patience",
                               "time_budget_minutes")},
    }
    # what the run trained on, as it recorded it (its own overrides included), not the config read again now
    if speech:  # a subset-sized corpus must say so beside its score
        fields["train_utterances"] = ckpt.extra["data"]["pairs"]
    if ckpt.config.data.train_limit:
        fields["train_limit"] = ckpt.config.data.train_limit
    init_cards = start_cards(cfg.init)
    if init_cards:  # a fine-tuned composition: name the bricks it started from, as score_composed does
        fields["bricks"] = [brick_origin(c, read_card(c)) for c in init_cards]
    try:
        records = _record_runs(snapshot, test_sets, results_dir, system, opts, fields)
    finally:
        shutil.rmtree(snapshot.parent)
    # the log goes into git beside the scores, so the curves can be redrawn after runs/ is gone
    log = Path(cfg.out_dir) / "metrics.jsonl"
    if log.is_file():
        atomic_write_bytes(results_dir / f"{system}{METRICS_SUFFIX}", log.read_bytes())
    return records


def start_cards(init) -> list[Path]:
    """The brick cards a run started from: init.encoder and init.decoder, or every module of the composed
    folder init.composed names (a fine-tuned chain); none for a run trained from scratch."""
    if init.composed:
        return composition_cards(init.composed)
    return [Path(c) for c in (init.encoder, init.decoder) if c]


def repo_path(path: Path) -> str:
    """`path` relative to the repository when inside it: results files name no machine's folders."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def brick_origin(card_path: Path, card: dict) -> dict:
    """How a results JSON names one brick: its card's file name and what it was trained on."""
    return {"card": card_path.name, **card.get("training", {})}


def score_composed(folder: Path, task: str, test_sets: TestSets, results_dir: Path,
                   system: str, opts: SearchOptions) -> list[dict]:
    """Score a composed folder of bricks (never trained together): no training fields of its own;
    the record names the bricks and the seeds they were trained with."""
    order = json.loads((Path(folder) / COMPOSITION_FILE).read_text())
    _, bricks = load_composed(folder)
    fields = {
        "task": task,
        "checkpoint": repo_path(folder),
        "bricks": [brick_origin(b.path, b.card) for b in bricks],
        "composition_notes": order.get("notes", []),
        "params": sum(sum(p.numel() for p in b.module.parameters()) for b in bricks),
        "training_finished": True,
        "train_steps": 0,
        "seed": None,
    }
    return _record_runs(Path(folder), test_sets, results_dir, system, opts, fields)


def export(checkpoint: Path, module: str, folder: Path, metrics: dict | None = None) -> Path:
    """Export one module of a trained checkpoint as an fp16 brick (what ships under models/)."""
    if not checkpoint.is_file():
        raise LegoError(f"{checkpoint}: not trained yet (run its recipe first)")
    loaded = load_model(checkpoint)
    card = export_brick(loaded.model, loaded.checkpoint, module, folder, fp16=True, metrics=metrics,
                        source=repo_path(checkpoint))
    print(f"exported {card.relative_to(ROOT)}")
    return card


def decoder_brick(ingestor: str) -> Path:
    """models/de-en-I/de-en.decoder.json, exported from the Multi30k De→En recipe if not there yet."""
    card = ROOT / "models" / f"de-en-{ingestor}" / "de-en.decoder.json"
    if card.is_file():
        return card
    results = ROOT / "results" / "multi30k" / f"lego-{ingestor}.json"
    metrics = {}
    if results.is_file():
        record = json.loads(results.read_text())
        metrics = {f"{record['test_set']}_bleu": record["bleu"]}
    return export(ROOT / "runs" / "multi30k" / f"lego-{ingestor}" / "checkpoint_best.safetensors", "decoder",
                  card.parent, metrics)


def encoder_brick(task: str, ingestor: str, records: list[dict] | None) -> Path:
    """models/<task>-I/<task>.encoder.json: the encoder of runs/<task>/lego-I, (re-)exported after scoring it
    (`records`, whose CTC-readout BLEU or WER goes into the card); without records, the card as it is."""
    card = ROOT / "models" / f"{task}-{ingestor}" / f"{task}.encoder.json"
    if card.is_file() and not records:
        return card
    metrics = {}
    for r in records or []:
        readout = "ctc_readout_wer" if "wer" in r else "ctc_readout_bleu"
        metrics[f"{r['test_set']}_{readout}"] = r[readout][0]
    return export(ROOT / "runs" / task / f"lego-{ingestor}" / "checkpoint_best.safetensors", "encoder",
                  card.parent, metrics)


def compose_and_score(cards: list[Path], task: str, test_sets: TestSets, results_dir: Path, system: str,
                      opts: SearchOptions) -> list[dict]:
    """Compose bricks never trained together into runs/<task>/<system>/ and score that folder."""
    folder = ROOT / "runs" / task / system
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LengthRatioWarning)  # recorded in composition.json
        _, notes = compose(cards, folder)
    for note in notes:
        print(f"warning: {note}")
    return score_composed(folder, task, test_sets, results_dir, system, opts)
