"""`legonn …` commands. Thin: parse, call the library, print. User mistakes exit 1 with one line."""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import sys
from pathlib import Path

import click

from legonn.errors import LegoError


def friendly_errors(fn):
    """Turn LegoError (a user mistake) into one line on stderr and exit status 1, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LegoError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="legonn")
def main():
    """LegoNN: modular encoder-decoder models whose modules talk through CTC-grounded marginals."""


@main.command()
@click.argument("text_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Where to write NAME.model.")
@click.option("--size", default=4000, show_default=True, help="Vocabulary size (blank, unk, bos, eos included).")
@friendly_errors
def vocab(text_files, output, size):
    """Train a sentencepiece vocabulary on TEXT_FILES (plain or .gz, one sentence a line)."""
    from legonn.data.text import read_lines
    from legonn.vocab import Vocabulary

    sentences = [line for path in text_files for line in read_lines(path)]
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

    import torch.distributed as dist

    from legonn.assemble import build_run
    from legonn.config import load_config
    from legonn.train import Trainer, stop_on_signal

    if freeze:
        overrides = (*overrides, f"train.freeze={','.join(freeze)}")
    cfg = load_config(config, overrides)
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 shows progress
    trainer = Trainer(build_run(cfg, progress=not quiet and main_rank), resume=not no_resume, progress=not quiet)
    with stop_on_signal(trainer) as received:
        result = trainer.run()
    if dist.is_initialized():  # under torchrun: tidy up, and let rank 0 alone report
        rank = dist.get_rank()
        dist.destroy_process_group()
        if rank != 0:
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


def search_options(fn):
    """Add --beam, --length-penalty, --max-len-a, --max-len-b; the command receives `opts: SearchOptions`."""

    @click.option("--beam", default=5, show_default=True, type=click.IntRange(min=1), help="Beam size (1 = greedy).")
    @click.option("--length-penalty", default=1.0, show_default=True,
                  help="α: finished hypotheses rank by score / length^α.")
    @click.option("--max-len-a", default=1.5, show_default=True, type=click.FloatRange(min=0),
                  help="Output is cut at a · source tokens + b.")
    @click.option("--max-len-b", default=10, show_default=True, type=click.IntRange(min=1), help="See --max-len-a.")
    @functools.wraps(fn)
    def wrapper(*args, beam, length_penalty, max_len_a, max_len_b, **kwargs):
        from legonn.search import SearchOptions

        opts = SearchOptions(beam_size=beam, length_penalty=length_penalty, max_len_a=max_len_a, max_len_b=max_len_b)
        return fn(*args, opts=opts, **kwargs)

    return wrapper


@contextlib.contextmanager
def tidy_warnings():
    """Show a composed model's length-ratio warnings as one `warning:` line each, not Python's format."""
    import warnings

    from legonn.bricks import LengthRatioWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LengthRatioWarning)
        yield
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)


def load_for_cli(path: Path):
    from legonn.inference import load_model

    with tidy_warnings():
        return load_model(path)


@main.command()
@click.option("-m", "--model", "checkpoint", required=True, type=click.Path(path_type=Path),
              help="Checkpoint file, or a folder made by `legonn compose`.")
@click.option("-i", "--input", "input_path", type=click.Path(path_type=Path), help="Source file (default: stdin).")
@search_options
@click.option("--show-ctc", is_flag=True, help="Also print each interface's CTC greedy readout.")
@friendly_errors
def translate(checkpoint, input_path, show_ctc, opts):
    """Translate sentences (one a line) from --input or stdin; prints one translation a line."""
    from legonn.data.text import decode_lines, read_lines
    from legonn.inference import translate as run

    loaded = load_for_cli(checkpoint)
    if input_path is None:
        sentences, where = decode_lines(sys.stdin.buffer.read(), "<stdin>"), "<stdin>"
    else:
        sentences, where = read_lines(input_path), str(input_path)
    for out in run(loaded.model, loaded.src_vocab, loaded.tgt_vocab, sentences, opts, loaded.max_len, where=where,
                   interface_vocabs=loaded.interface_vocabs):
        if show_ctc:
            for i, readout in enumerate(out.ctc_readouts):
                click.echo(f"CTC{i}\t{readout}")
        click.echo(out.hypothesis)


@main.command(name="eval")
@click.option("-m", "--model", "checkpoint", required=True, type=click.Path(path_type=Path),
              help="Checkpoint file, or a folder made by `legonn compose`.")
@click.option("--src", required=True, type=click.Path(path_type=Path), help="Source sentences.")
@click.option("--ref", required=True, type=click.Path(path_type=Path), help="Reference translations.")
@search_options
@click.option("--hyp-out", type=click.Path(path_type=Path), help="Write hypotheses here.")
@click.option("--json-out", type=click.Path(path_type=Path), help="Write scores as JSON here.")
@friendly_errors
def evaluate(checkpoint, src, ref, hyp_out, json_out, opts):
    """Translate --src and score against --ref: sacreBLEU and chrF (and CTC-readout BLEU per interface)."""
    from legonn.evaluation import evaluate_checkpoint

    with tidy_warnings():
        report = evaluate_checkpoint(checkpoint, src, ref, opts, hyp_out, json_out)
    click.echo(json.dumps(report, indent=2))


@main.command(name="interface-stats")
@click.option("-m", "--model", "checkpoint", required=True, type=click.Path(path_type=Path),
              help="LegoNN checkpoint file, or a folder made by `legonn compose`.")
@click.option("--src", required=True, type=click.Path(path_type=Path), help="Source sentences.")
@click.option("--ref", required=True, type=click.Path(path_type=Path), help="Reference translations (for |y|).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N sentence pairs.")
@click.option("--json-out", type=click.Path(path_type=Path), help="Write the figures as JSON here.")
@friendly_errors
def interface_stats(checkpoint, src, ref, limit, json_out):
    """What each interface's marginals look like on --src: positions per target token (K/|y|), blank and
    repeat shares of the best class, entropy and top-1 probability. Compare an encoder you compose with
    the one its decoder was trained with."""
    from legonn.interface_stats import interface_statistics_on
    from legonn.vocab import atomic_write_bytes

    loaded = load_for_cli(checkpoint)
    if loaded.task.speech:
        raise LegoError(f"{checkpoint}: this model reads speech; interface-stats reads text sources")
    if not hasattr(loaded.model, "interfaces"):
        raise LegoError(f"{checkpoint}: a monolithic baseline has no interface to describe")
    stats = interface_statistics_on(loaded.model, loaded.src_vocab, loaded.tgt_vocab, src, ref, loaded.max_len, limit)
    report = {"model": str(checkpoint), "src": str(src), "ref": str(ref),
              "interfaces": [s.as_dict() for s in stats]}
    for i, s in enumerate(stats):
        click.echo(f"interface {i}: {s.sentences} sentences · K/|y| {s.positions_per_target_token:.3f} "
                   f"(p5 {s.positions_per_target_token_p5:.2f}, p95 {s.positions_per_target_token_p95:.2f}) · "
                   f"blank {100 * s.blank_share:.1f} % · repeat {100 * s.repeat_share:.1f} % · "
                   f"entropy {s.entropy_nats:.3f} nats · top-1 p {s.top1_probability:.3f}")
    if json_out is not None:
        atomic_write_bytes(Path(json_out), (json.dumps(report, indent=2) + "\n").encode())


@main.command()
@click.argument("audio", nargs=-1, type=click.Path(path_type=Path))
@click.option("-m", "--model", "checkpoint", required=True, type=click.Path(path_type=Path),
              help="Speech checkpoint, or a folder made by `legonn compose` starting with a speech encoder.")
@click.option("--manifest", type=click.Path(path_type=Path),
              help="Transcribe every clip of this TSV manifest and print WER against its text.")
@search_options
@click.option("--show-ctc", is_flag=True, help="Also print each interface's CTC greedy readout.")
@click.option("--json-out", type=click.Path(path_type=Path), help="Write WER, timing and hypotheses as JSON here.")
@friendly_errors
def transcribe(audio, checkpoint, manifest, opts, show_ctc, json_out):
    """Transcribe AUDIO files (16 kHz; FLAC, WAV, …); prints `file<TAB>text` and the real-time factor.

    With --manifest, also WER (jiwer) after the normalisation printed beside it.
    """
    from tqdm import tqdm

    from legonn.data.speech import read_manifest
    from legonn.evaluation import speech_scores
    from legonn.inference import transcribe as run
    from legonn.score import WER_NORMALISATION
    from legonn.vocab import atomic_write_bytes

    utterances = read_manifest(manifest) if manifest else []
    paths = list(audio) + [u.path for u in utterances]
    if not paths:
        raise LegoError("nothing to transcribe: give AUDIO files or --manifest")
    loaded = load_for_cli(checkpoint)
    with tqdm(total=len(paths), desc="transcribing", unit="clip", disable=len(paths) < 20) as bar:
        out = run(loaded, paths, opts, progress=bar)
    for path, hyp, readouts in zip(out.paths, out.hypotheses, out.ctc_readouts):
        if show_ctc:
            for i, readout in enumerate(readouts):
                click.echo(f"CTC{i}\t{readout}")
        click.echo(f"{path}\t{hyp}")
    report = {"files": len(paths), "audio_seconds": round(out.audio_seconds, 2),
              "compute_seconds": round(out.compute_seconds, 2), "real_time_factor": round(out.real_time_factor, 4)}
    if utterances:
        report.update(speech_scores(loaded, out.last(len(utterances)), [u.text for u in utterances]))
    click.echo(", ".join(f"{k} {v}" for k, v in report.items() if k != "wer_normalisation"), err=True)
    if utterances:
        click.echo(f"WER normalisation: {WER_NORMALISATION}", err=True)
    if json_out:
        report["hypotheses"] = dict(zip(map(str, out.paths), out.hypotheses))
        atomic_write_bytes(json_out, (json.dumps(report, indent=2) + "\n").encode())


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="PNG to write.")
@friendly_errors
def curves(runs, output):
    """Plot training loss and validation BLEU (translation) or WER (speech) of one or more RUNS: run
    folders (their metrics.jsonl) or metrics logs, such as the copies the recipes keep beside their results
    (results/*/SYSTEM.metrics.jsonl)."""
    from legonn.plots import training_curves

    training_curves(list(runs), output)
    click.echo(f"wrote {output}")


@main.command()
@click.option("-m", "--model", "checkpoint", required=True, type=click.Path(path_type=Path),
              help="Checkpoint file, or a folder made by `legonn compose`.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="PNG to write.")
@click.argument("sentence")
@friendly_errors
def marginals(checkpoint, output, sentence):
    """Draw the interface marginals of a LegoNN model for SENTENCE as a heat map with the CTC readout."""
    import torch

    from legonn.data.batching import encode_sources, pad_sources
    from legonn.plots import marginals_heatmap

    loaded = load_for_cli(checkpoint)
    if not hasattr(loaded.model, "interfaces"):
        raise LegoError(f"{checkpoint}: a baseline model has no interface to draw")
    src, lengths = pad_sources(encode_sources([sentence], loaded.src_vocab, loaded.max_len, "<argument>"))
    with torch.no_grad():
        m = loaded.model.interfaces(src, lengths)[-1]
    marginals_heatmap(m, loaded.tgt_vocab, output, title=sentence)  # MT: the interface speaks the target vocabulary
    click.echo(f"wrote {output}")


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--module", "which", required=True, type=click.Choice(["encoder", "decoder"]),
              help="Which module of the LegoNN model to export.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Folder to write the brick into.")
@click.option("--name", help="Brick name (default: TASK.MODULE, e.g. de-en.decoder).")
@click.option("--fp16", is_flag=True, help="Store weights in float16 (half the size; loaded back as float32).")
@friendly_errors
def export(checkpoint, which, output, name, fp16):
    """Export one module of a trained CHECKPOINT as a brick: weights + JSON card + its vocabularies."""
    from legonn.bricks import export_brick

    loaded = load_for_cli(checkpoint)
    if loaded.checkpoint is None:
        raise LegoError(f"{checkpoint}: export reads a training checkpoint, not a composed folder")
    card = export_brick(loaded.model, loaded.checkpoint, which, output, name, fp16, source=str(checkpoint))
    click.echo(f"wrote {card}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The converted checkpoint file, or the folder for a converted brick.")
@friendly_errors
def convert(path, output):
    """Rewrite a checkpoint or brick card (PATH) written by an older legonn in today's format.

    Older files also load as they are (they are converted in memory each time); a converted brick's weights
    are the same tensors under today's names, so its card names a new SHA-256.
    """
    from legonn.bricks import convert_brick
    from legonn.checkpoint import load_checkpoint, write_checkpoint

    if path.suffix == ".json":
        click.echo(f"wrote {convert_brick(path, output)}")
        return
    if output.resolve() == path.resolve():
        raise LegoError(f"{output}: write the converted checkpoint to a new file (the original stays readable)")
    write_checkpoint(output, load_checkpoint(path))
    click.echo(f"wrote {output}")


@main.command()
@click.argument("bricks", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Folder for the composed model.")
@friendly_errors
def compose(bricks, output):
    """Chain BRICKS (their .json cards, encoder first, decoder last) into one model folder.

    Vocabularies must match at every hand-over; a length-ratio mismatch is reported as a warning.
    """
    import warnings as _warnings

    from legonn.bricks import LengthRatioWarning, compose as run

    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", LengthRatioWarning)
        path, notes = run(list(bricks), output)
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    click.echo(f"wrote {path}")


@main.group()
def data():
    """Datasets: fetch them into the data root ($LEGONN_DATA, else ../shared/data), synthesise speech corpora."""


@data.command("get")
@click.argument("datasets", nargs=-1)
@click.option("--root", type=click.Path(path_type=Path), default=None,
              help="Where to put them (default: the data root, `legonn data root`).")
@click.option("--mirror", default=None, metavar="URL",
              help="Fetch MIRROR/DATASET/FILE from a copy of a data root (http(s):// or file://) instead of the "
                   "public sources.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def data_get(datasets, root, mirror, quiet):
    """Download DATASETS (default: all; see `legonn data root`) from their public sources into the data root,
    checking every file against its SHA-256. Files already there with the right hash are kept (resumable)."""
    from legonn.data.download import get
    from legonn.datasets import data_root

    for line in get(list(datasets), root or data_root(), mirror, progress=not quiet):
        click.echo(line)


@data.command("root")
@friendly_errors
def data_root_command():
    """Print the data root ($LEGONN_DATA, else ../shared/data beside the checkout) and which datasets it has."""
    from legonn.data.sources import DATASETS
    from legonn.datasets import data_root

    root = data_root()
    click.echo(root)  # alone on stdout, for `export LEGONN_DATA=$(legonn data root)`
    for name in DATASETS:
        state = "present" if (root / name).is_dir() else f"missing (legonn data get {name})"
        click.echo(f"  {name}: {state}", err=True)


@data.command()
@click.argument("text_file", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Folder for audio/*.flac and manifest.tsv.")
@click.option("--voices", default="train", show_default=True,
              help="'train', 'test' (voices never used for training) or engine/voice,… e.g. flite/slt,piper/joe.")
@click.option("--prefix", default=None, help="Utterance id prefix (default: the output folder's name).")
@click.option("--limit", type=int, default=0, help="Only the first N sentences (0: all).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seeds the voice, tempo and pitch of each clip.")
@click.option("--workers", type=int, default=2, show_default=True, help="Parallel synthesis processes.")
@friendly_errors
def synth(text_file, output, voices, prefix, limit, seed, workers):
    """Speak TEXT_FILE (one sentence a line, plain or .gz) into 16 kHz FLAC + a TSV manifest.

    Resumable: clips already made are kept. Each clip gets a voice, tempo and pitch drawn from the
    seed and its id, so the same command makes the same corpus.
    """
    from tqdm import tqdm

    from legonn.data.speech import write_manifest
    from legonn.data.synth import build_corpus, check_engines, parse_voices, plan_corpus
    from legonn.data.text import read_lines

    chosen = parse_voices(voices)
    check_engines(chosen)
    texts = read_lines(text_file)
    texts = texts[:limit] if limit else texts
    jobs = plan_corpus(texts, chosen, output, prefix or output.name, seed)
    with tqdm(total=len(jobs), desc="synthesising", unit="utt") as bar:
        utterances = build_corpus(jobs, workers, bar)
    write_manifest(output / "manifest.tsv", utterances)
    hours = sum(u.samples for u in utterances) / 16000 / 3600
    click.echo(f"wrote {output / 'manifest.tsv'}: {len(utterances)} utterances, {hours:.2f} h, voices: {', '.join(chosen)}")


def run() -> None:
    """Console-script entry point: restart under jemalloc when installed (see legonn.allocator)."""
    from legonn.allocator import reexec_with_jemalloc

    reexec_with_jemalloc()
    main()


if __name__ == "__main__":
    run()
