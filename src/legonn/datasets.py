"""The data root: where the datasets live (Multi30k, RO-STS, newstest2016, Common Voice clips), outside
the repository, which carries none of them.

The root is `$LEGONN_DATA` when that variable is set, else `../shared/data` beside the checkout (the
layout CI and the developers' machines have). `legonn data get` fills a root from the public sources.
Config files name a file there as `$LEGONN_DATA/multi30k/train.de.gz`; `load_config` expands that prefix
in the data section (`expand_paths`), so recipes, tests and the demo all resolve files here, in one place.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from legonn.errors import LegoError

ENV = "LEGONN_DATA"
PREFIX = f"${ENV}/"  # how a config (or a printed path) names a file under the data root


def checkout_root() -> Path:
    """The source checkout this package runs from (an editable install), else the working directory
    (an installed package has no checkout beside it, so `../shared/data` is looked for from where it runs)."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def data_root() -> Path:
    """`$LEGONN_DATA` if set (a relative value is taken from the working directory), else ../shared/data
    beside the checkout. Read on every call, so a changed variable takes effect at once."""
    value = os.environ.get(ENV, "").strip()
    if value:
        return Path(os.path.abspath(Path(value).expanduser()))
    return Path(os.path.abspath(checkout_root().parent / "shared" / "data"))


def _dataset_of(path: Path) -> str | None:
    """The dataset folder (first component under the root) that `path` lies in, or None if outside it."""
    try:
        parts = Path(os.path.abspath(path)).relative_to(data_root()).parts
    except ValueError:
        return None
    return parts[0] if parts else None


def not_found(path: str | Path, what: str = "file") -> str:
    """The one-line message for a missing file; under the data root it also names LEGONN_DATA and the fix."""
    dataset = _dataset_of(Path(path))
    if dataset is None:
        return f"{path}: {what} not found"
    return (f"{path}: {what} not found in the data root {data_root()} (set {ENV} to the folder that holds "
            f"{dataset}/, or fetch it with `legonn data get {dataset}`)")


def data_file(relative: str | Path, must_exist: bool = True) -> Path:
    """`relative` (e.g. 'multi30k/train.de.gz') under the data root; a missing one is a LegoError naming it."""
    path = data_root() / relative
    if must_exist and not path.exists():
        raise LegoError(not_found(path))
    return path


def expand(value: str) -> str:
    """'$LEGONN_DATA/multi30k/x.gz' → the path under the data root; any other string unchanged."""
    if isinstance(value, str) and value.startswith(PREFIX):
        return str(data_root() / value[len(PREFIX):])
    return value


def expand_paths(section):
    """A copy of a frozen config section (e.g. DataConfig) with every `$LEGONN_DATA/…` string field expanded."""
    changed = {f.name: expand(getattr(section, f.name)) for f in dataclasses.fields(section)
               if isinstance(getattr(section, f.name), str) and getattr(section, f.name).startswith(PREFIX)}
    return dataclasses.replace(section, **changed) if changed else section


def display(path: str | Path) -> str:
    """How to print a path: `$LEGONN_DATA/…` under the data root (the same on every machine), else as given."""
    if _dataset_of(Path(path)) is None:
        return str(path)
    return PREFIX + Path(os.path.abspath(path)).relative_to(data_root()).as_posix()
