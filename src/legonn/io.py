"""Writing files so that readers never see half of one: the library's one atomic-write helper."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from legonn.errors import LegoError


def atomic_write(path: str | Path, write: Callable[[Path], None], durable: bool = True) -> None:
    """`write(tmp)` fills a temp file beside `path`, which then replaces `path` in one rename.

    durable: fsync the temp file before the rename and the folder after it, so that a power cut right
    after leaves the old file or the whole new one, never an empty one (off for caches that are rebuilt).
    Temp files that an earlier, killed writer of `path` left behind are removed first; on any error
    the temp file goes and `path` is untouched."""
    path = Path(path)
    check_output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_copy(source: str | Path, path: str | Path) -> None:
    """Copy `source` to `path` atomically (a reader sees the old file or the whole new one)."""
    atomic_write(path, lambda tmp: shutil.copyfile(source, tmp))


def check_output_file(path: str | Path | None) -> None:
    """Before any work: `path` can be written as a regular file (LegoError naming it otherwise), so a
    command does not compute for minutes and then fail, or replace a device, a folder or a symlink."""
    if path is None:
        return
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):  # a device, folder or link stays as it is
        raise LegoError(f"{path}: exists and is not a regular file; not replacing it")
    _check_parent(path)


def check_output_folder(path: str | Path) -> None:
    """Before any work: `path` is a folder or can be made one, and files can be written in it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise LegoError(f"{path}: is a file, not a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise LegoError(f"{path}: folder is not writable")
    else:
        _check_parent(path)


def _check_parent(path: Path) -> None:
    """The nearest existing folder above `path` is a writable folder (not a file)."""
    above = path.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise LegoError(f"{above}: is a file, not a folder (needed for {path})")
    if not os.access(above, os.W_OK | os.X_OK):
        raise LegoError(f"{above}: folder is not writable (needed for {path})")
