"""Train a recipe's system, score it, and write its ResultRecord: what every recipe script does per system.

    train_system(config)                                  # train or resume to the config's stopping rule
    score_system(config, test_sets, results_dir, system, opts)     # its best checkpoint → results JSON
    compose_and_score(cards, task, test_sets, results_dir, system, opts)  # bricks never trained together

Each test set gets one record: results_dir/<system>.json for the first, <system>.<set>.json for the others.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path

from legonn.assemble import build_run
from legonn.bricks import COMPOSITION_FILE, LengthRatioWarning, compose, composition_cards, load_composed, read_card
from legonn.checkpoint import load_checkpoint
from legonn.config import load_config
from legonn.evaluation import evaluate_checkpoint, evaluate_speech
from legonn.experiments.provenance import ROOT, git_commit, hardware, repo_path
from legonn.experiments.records import ResultRecord
from legonn.io import atomic_write_bytes
from legonn.plots import METRICS_SUFFIX
from legonn.search import SearchOptions
from legonn.train import Trainer, stop_on_signal

TestSets = dict[str, tuple[Path, Path | None]]  # name → (source, reference) text files, or (manifest, None)

SCHEDULE_FIELDS = ("max_tokens", "lr", "warmup_steps", "lr_schedule", "max_epochs", "max_steps", "patience",
                   "time_budget_minutes")


def train_system(config: Path, overrides: list[str] = ()) -> None:
    """Train (or resume) until the config's stopping rule; safe to rerun after a kill. Ctrl-C or SIGTERM
    stops after the update in progress, saves checkpoint_last and exits (nothing is scored), as
    `legonn train` does: rerun the same command to resume."""
    trainer = Trainer(build_run(load_config(config, overrides)))
    with stop_on_signal(trainer) as received:
        result = trainer.run()
    trainer.close()
    if result.stopped_early:
        print(f"stopped at step {result.state.step} ({signal.Signals(received[0]).name}); checkpoint saved in "
              f"{result.out_dir}: rerun the same command to resume", file=sys.stderr)
        sys.exit(128 + received[0])  # the shell's convention for "ended by this signal"
    if result.out_of_time:  # scored as it stands (results say training_finished: false); rerun to go on
        print(f"time budget spent after epoch {result.state.epoch - 1} (step {result.state.step}); "
              f"rerun to resume {result.out_dir}", file=sys.stderr)


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


def start_cards(init) -> list[Path]:
    """The brick cards a run started from: init.encoder and init.decoder, or every module of the composed
    folder init.composed names (a fine-tuned chain); none for a run trained from scratch."""
    if init.composed:
        return composition_cards(init.composed)
    return [Path(c) for c in (init.encoder, init.decoder) if c]


def brick_origin(card_path: Path, card: dict) -> dict:
    """How a results record names one brick: its card's file name and what it was trained on."""
    return {"card": Path(card_path).name, **card.get("training", {})}


def _score(path: Path, test: tuple[Path, Path | None], opts: SearchOptions) -> dict:
    """Translation: BLEU/chrF and CTC-readout BLEU; speech (a manifest, no reference file): WER."""
    src, ref = test
    if ref is None:
        return evaluate_speech(path, src, opts)
    return evaluate_checkpoint(path, src, ref, opts, progress=True)


SCORE_FIELDS = {"bleu": ("bleu", "chrf", "signature", "ctc_readout_bleu"),
                "wer": ("wer", "wer_normalisation", "utterances", "audio_seconds", "real_time_factor",
                        "ctc_readout_wer", "over_twice_reference")}


def _record_runs(path: Path, test_sets: TestSets, results_dir: Path, system: str, opts: SearchOptions,
                 fields: dict) -> list[ResultRecord]:
    """Score the model at `path` (checkpoint or composed folder) on each test set and write its records;
    `fields` holds what the record says of the system itself (task, training, bricks)."""
    records = []
    for i, (test_name, test) in enumerate(test_sets.items()):
        report = _score(path, test, opts)
        metric = "wer" if "wer" in report else "bleu"
        record = ResultRecord(system=system, test_set=test_name, **{k: report[k] for k in SCORE_FIELDS[metric]},
                              **fields, beam=opts.beam_size, length_penalty=opts.length_penalty, decoding=opts.describe(),
                              decode_seconds=report["decode_seconds"], hardware=hardware(), commit=git_commit())
        record.write(results_dir / (f"{system}.json" if i == 0 else f"{system}.{test_name}.json"))
        readout = getattr(record, f"ctc_readout_{metric}")
        print(f"{system} on {test_name}: {metric.upper()} {getattr(record, metric)} (CTC readout {readout})")
        records.append(record)
    return records


def score_system(config: Path, test_sets: TestSets, results_dir: Path, system: str,
                 opts: SearchOptions, overrides: list[str] = ()) -> list[ResultRecord]:
    """Score a trained config's best checkpoint on each test set; write results_dir/<system>[.<set>].json."""
    cfg = load_config(config, overrides)
    out_dir = Path(cfg.out_dir)
    # a snapshot: a run still training may write a new best while we score
    snapshot = Path(tempfile.mkdtemp()) / "checkpoint_best.safetensors"
    shutil.copyfile(out_dir / "checkpoint_best.safetensors", snapshot)
    ckpt = load_checkpoint(snapshot)
    last_ckpt = load_checkpoint(out_dir / "checkpoint_last.safetensors")
    last = last_ckpt.state
    speech = ckpt.task.speech
    best = ckpt.state.best if ckpt.state.best is not None else -1.0  # -1: the run ended before validating
    # time and tokens of the whole run so far; the scores come from the best checkpoint
    fields = {
        "task": cfg.task,
        "checkpoint": str(out_dir / "checkpoint_best.safetensors"),
        "valid_wer_greedy": best if speech else None,
        "valid_bleu_greedy": None if speech else best,
        # train.select_on: interface picks the best checkpoint by (and the figure above is) a CTC readout
        "selected_on": ckpt.state.best_on if ckpt.state.best_on.startswith("valid_ctc") else None,
        "best_epoch": ckpt.state.epoch - 1,
        # judged by the settings the run last started with (its --set overrides), not the config as read now
        "training_finished": training_finished(last_ckpt.config, last),
        "params": sum(v.numel() for v in ckpt.model.values()),
        "train_minutes": round(last.train_seconds / 60, 1),
        "train_steps": last.step,
        "train_epochs_completed": last.epoch - 1,
        "tokens_per_s": round(last.target_tokens / max(last.train_seconds, 1e-9), 1),
        "median_window_tokens_per_s": median_window_tokens_per_s(out_dir),
        "train_threads": run_setting(out_dir, "threads", cfg.train.threads),  # of the latest (re)start
        "seed": cfg.train.seed,
        "precision": run_setting(out_dir, "precision", cfg.train.precision),
        "config": repo_path(config),
        # as the run used them (command-line overrides included): a reduced schedule shows beside its score
        "schedule": {k: run_setting(out_dir, k, getattr(cfg.train, k)) for k in SCHEDULE_FIELDS},
        # what the run trained on, as it recorded it (its own overrides included), not the config read again now;
        # a subset-sized speech corpus must say so beside its score
        "train_utterances": ckpt.extra["data"]["pairs"] if speech else None,
        "train_limit": ckpt.config.data.train_limit or None,
    }
    init_cards = start_cards(cfg.init)
    if init_cards:  # a fine-tuned composition: name the bricks it started from, as score_composed does
        fields["bricks"] = [brick_origin(c, read_card(c)) for c in init_cards]
    try:
        records = _record_runs(snapshot, test_sets, results_dir, system, opts, fields)
    finally:
        shutil.rmtree(snapshot.parent)
    # the log goes into git beside the scores, so the curves can be redrawn after runs/ is gone
    log = out_dir / "metrics.jsonl"
    if log.is_file():
        atomic_write_bytes(results_dir / f"{system}{METRICS_SUFFIX}", log.read_bytes())
    return records


def score_composed(folder: Path, task: str, test_sets: TestSets, results_dir: Path,
                   system: str, opts: SearchOptions) -> list[ResultRecord]:
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


def compose_and_score(cards: list[Path], task: str, test_sets: TestSets, results_dir: Path, system: str,
                      opts: SearchOptions) -> list[ResultRecord]:
    """Compose bricks never trained together into runs/<task>/<system>/ and score that folder."""
    folder = ROOT / "runs" / task / system
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LengthRatioWarning)  # recorded in composition.json
        _, notes = compose(cards, folder)
    for note in notes:
        print(f"warning: {note}")
    return score_composed(folder, task, test_sets, results_dir, system, opts)
