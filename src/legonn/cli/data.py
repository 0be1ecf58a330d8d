"""`legonn data …`: fetch datasets, find the data root, synthesise speech corpora."""

from __future__ import annotations

from pathlib import Path

import click

from legonn.cli.base import friendly_errors, main


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
    from legonn.io import check_output_folder

    check_output_folder(output)
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


