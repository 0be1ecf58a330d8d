"""`legonn translate`, `eval`, `interface-stats`, `transcribe`, `marginals`: using a trained model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from legonn.cli.base import friendly_errors, load_for_cli, main, search_options, tidy_warnings
from legonn.errors import LegoError


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
        if sys.stdin is None:
            raise LegoError("standard input is closed: give the sentences with --input FILE")
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
    from legonn.io import check_output_file

    check_output_file(hyp_out), check_output_file(json_out)
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
    from legonn.io import atomic_write_bytes
    from legonn.io import check_output_file
    from legonn.model import HasInterfaces

    check_output_file(json_out)
    loaded = load_for_cli(checkpoint)
    if loaded.task.speech:
        raise LegoError(f"{checkpoint}: this model reads speech; interface-stats reads text sources")
    if not isinstance(loaded.model, HasInterfaces):
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
    from legonn.io import atomic_write_bytes, check_output_file
    from legonn.score import WER_NORMALISATION, check_references

    check_output_file(json_out)
    utterances = read_manifest(manifest) if manifest else []
    if manifest:
        check_references([u.text for u in utterances], str(manifest))
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
@click.option("-m", "--model", "checkpoint", required=True, type=click.Path(path_type=Path),
              help="Checkpoint file, or a folder made by `legonn compose`.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="PNG to write.")
@click.argument("sentence")
@friendly_errors
def marginals(checkpoint, output, sentence):
    """Draw the interface marginals of a LegoNN model for SENTENCE as a heat map with the CTC readout."""
    import torch

    from legonn.data.batching import encode_sources, pad_sources
    from legonn.io import check_output_file
    from legonn.model import HasInterfaces
    from legonn.plots import marginals_heatmap

    check_output_file(output)
    loaded = load_for_cli(checkpoint)
    if not isinstance(loaded.model, HasInterfaces):
        raise LegoError(f"{checkpoint}: a baseline model has no interface to draw")
    src, lengths = pad_sources(encode_sources([sentence], loaded.src_vocab, loaded.max_len, "<argument>"))
    with torch.no_grad():
        m = loaded.model.interfaces(src, lengths)[-1]
    marginals_heatmap(m, loaded.tgt_vocab, output, title=sentence)  # MT: the interface speaks the target vocabulary
    click.echo(f"wrote {output}")


