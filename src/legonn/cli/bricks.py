"""`legonn export`, `convert`, `compose`: bricks."""

from __future__ import annotations

from pathlib import Path

import click

from legonn.cli.base import friendly_errors, load_for_cli, main
from legonn.errors import LegoError


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
    from legonn.io import check_output_folder

    check_output_folder(output)
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
    from legonn.io import check_output_file, check_output_folder

    (check_output_folder if path.suffix == ".json" else check_output_file)(output)
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


