"""`legonn vocab`, `legonn train`, `legonn curves`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from legonn.cli.base import friendly_errors, main
from legonn.errors import LegoError


@main.command()
@click.argument("text_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Where to write NAME.model.")
@click.option("--size", default=4000, show_default=True, help="Vocabulary size (blank, unk, bos, eos included).")
@friendly_errors
def vocab(text_files, output, size):
    """Train a sentencepiece vocabulary on TEXT_FILES (plain or .gz, one sentence a line)."""
    from legonn.data.text import read_lines
    from legonn.io import check_output_file
    from legonn.vocab import Vocabulary

    check_output_file(output)
    sentences = [line for path in text_files for line in read_lines(path)]
    if not sentences:
        raise LegoError(f"{', '.join(map(str, text_files))}: no sentences to train a vocabulary on")
    try:
        v = Vocabulary.train(sentences, size)
    except RuntimeError as exc:
        raise LegoError(f"sentencepiece could not train a {size}-unit vocabulary: {str(exc).splitlines()[-1]}") from None
    v.save(output)
    click.echo(f"wrote {output}: {len(v)} units, fingerprint {v.fingerprint[:12]}, from {len(sentences)} sentences")


@main.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config field, e.g. train.lr=5e-4.")
@click.option("--freeze", multiple=True, type=click.Choice(["encoder", "decoder"]),
              help="Keep this module's weights fixed (repeatable); same as --set train.freeze=….")
@click.option("--no-resume", is_flag=True, help="Start fresh even if OUT_DIR has a checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def train(config, overrides, freeze, no_resume, quiet):
    """Train the model described by CONFIG (YAML). Resumes from OUT_DIR/checkpoint_last if present.

    Ctrl-C (or SIGTERM) stops after the update in progress and saves checkpoint_last, so the same
    command resumes exactly there; a second Ctrl-C stops at once (back to the last periodic checkpoint).
    --set train.time_budget_minutes=150 stops, resumable, at the last epoch end that fits in 150
    minutes: for a run that must fit a session or a job slot.

    Start modules from bricks with --set init.decoder=BRICK.json (or init.encoder), e.g. to train a
    new encoder against a frozen decoder: --set init.decoder=… --set model.encoder.olc.ratio=auto --freeze decoder
    """
    import os

    from legonn.assemble import build_run
    from legonn.config import load_config
    from legonn.io import check_output_folder
    from legonn.train import Trainer, stop_on_signal

    if freeze:
        overrides = (*overrides, f"train.freeze={','.join(freeze)}")
    cfg = load_config(config, overrides)
    check_output_folder(cfg.out_dir)
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 shows progress
    trainer = Trainer(build_run(cfg, progress=not quiet and main_rank), resume=not no_resume, progress=not quiet)
    with stop_on_signal(trainer) as received:
        result = trainer.run()
    trainer.close()  # under torchrun: leave the process group, and let rank 0 alone report
    if not trainer.dist.main:
        return
    if result.stopped_early:
        click.echo(f"stopped at step {result.state.step} ({signal.Signals(received[0]).name}); checkpoint saved in "
                   f"{result.out_dir}: run the same command to resume", err=True)
        sys.exit(128 + received[0])  # the shell's convention for "ended by this signal"
    if result.out_of_time:
        click.echo(f"time budget of {cfg.train.time_budget_minutes:g} min spent after epoch {result.state.epoch - 1} "
                   f"(step {result.state.step}); checkpoint saved in {result.out_dir}: run the same command to go on",
                   err=True)
    metric, value = trainer.task.metric.upper(), result.state.best
    best = f"{metric} {value}" if value is not None else f"{metric} – (the run ended before its first validation)"
    click.echo(
        f"done: {result.state.step} steps, best valid {best}, {result.params:,} parameters, "
        f"{result.tokens_per_s:.0f} target tokens/s, {result.state.train_seconds / 60:.1f} min → {result.out_dir}"
    )


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="PNG to write.")
@friendly_errors
def curves(runs, output):
    """Plot training loss and validation BLEU (translation) or WER (speech) of one or more RUNS: run
    folders (their metrics.jsonl) or metrics logs, such as the copies the recipes keep beside their results
    (results/*/SYSTEM.metrics.jsonl)."""
    from legonn.io import check_output_file
    from legonn.plots import training_curves

    check_output_file(output)
    training_curves(list(runs), output)
    click.echo(f"wrote {output}")


