"""The `legonn` command group and what its commands share: one-line errors, search options, loading a model."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
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
        except OSError as exc:  # a full disk, a closed or broken standard output
            if exc.errno not in (errno.ENOSPC, errno.EPIPE, errno.EBADF, errno.EROFS, errno.EDQUOT):
                raise
            if exc.filename is None:  # standard output: what is still buffered for it must not fail again at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            click.echo(f"error: {exc.filename or 'standard output'}: {exc.strerror}", err=True)
            sys.exit(1)

    return wrapper


class _ClosedOutput:
    """Stands in for a standard output the caller closed (`>&-`): writing to it is an error, not a crash."""

    def write(self, _text):
        raise OSError(errno.EBADF, "closed by the caller")

    def flush(self):
        pass


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="legonn")
def main():
    """LegoNN: modular encoder-decoder models whose modules talk through CTC-grounded marginals."""



def search_options(fn):
    """Add --beam, --length-penalty, --max-len-a, --max-len-b, --ctc-weight, --eos-read-fraction; the command receives `opts: SearchOptions`."""

    @click.option("--beam", default=5, show_default=True, type=click.IntRange(min=1), help="Beam size (1 = greedy).")
    @click.option("--length-penalty", default=1.0, show_default=True,
                  help="α: finished hypotheses rank by score / length^α.")
    @click.option("--max-len-a", default=1.5, show_default=True, type=click.FloatRange(min=0),
                  help="Output is cut at a · source tokens + b.")
    @click.option("--max-len-b", default=10, show_default=True, type=click.IntRange(min=1), help="See --max-len-a.")
    @click.option("--ctc-weight", default=0.0, show_default=True, type=click.FloatRange(0, 1),
                  help="λ of joint CTC/attention decoding: hypotheses score (1−λ)·log p_decoder + λ·log p_ctc over "
                       "the last interface; 0 = the decoder alone.")
    @click.option("--eos-read-fraction", default=0.5, show_default=True, type=click.FloatRange(0, 1),
                  help="With --ctc-weight > 0, a hypothesis may not end before it has read this share of the "
                       "interface's non-blank mass.")
    @functools.wraps(fn)
    def wrapper(*args, beam, length_penalty, max_len_a, max_len_b, ctc_weight, eos_read_fraction, **kwargs):
        from legonn.search import SearchOptions

        opts = SearchOptions(beam_size=beam, length_penalty=length_penalty, max_len_a=max_len_a, max_len_b=max_len_b,
                             ctc_weight=ctc_weight, eos_read_fraction=eos_read_fraction)
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



def run() -> None:
    """Console-script entry point: restart under jemalloc when installed (see legonn.allocator)."""
    from legonn.allocator import reexec_with_jemalloc

    if sys.stdout is None:  # Python's stand-in for a stream closed by the caller
        sys.stdout = _ClosedOutput()
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # nowhere to say why; the exit status still does
    reexec_with_jemalloc()
    main()

