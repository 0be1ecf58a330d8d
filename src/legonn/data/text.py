"""Reading text files (plain or .gz) with line-precise errors, and parallel corpora."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

from legonn.datasets import not_found
from legonn.errors import LegoError


def read_lines(path: str | Path, allow_empty: bool = False) -> list[str]:
    """All lines of a UTF-8 text file (gzip if it ends in .gz), stripped of the newline.

    Raises LegoError naming the file and line for a missing file, bad UTF-8 or an empty line.
    """
    path = Path(path)
    if not path.is_file():
        raise LegoError(not_found(path))  # under the data root it also names LEGONN_DATA
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: a gzip whose deflate stream is corrupt
        raise LegoError(f"{path}: cannot read ({exc})") from None
    return decode_lines(raw, str(path), allow_empty)


def decode_lines(raw: bytes, where: str, allow_empty: bool = False) -> list[str]:
    """Split `raw` into stripped UTF-8 lines; `where` (a path or '<stdin>') names the source in errors."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for number, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise LegoError(f"{where}:{number}: not valid UTF-8 (byte {exc.start})") from None
        if not allow_empty and not text.strip():
            raise LegoError(f"{where}:{number}: empty line")
        out.append(text.strip())
    return out


@dataclass
class ParallelText:
    """Line-aligned source and target sentences, with where they came from."""

    src: list[str]
    tgt: list[str]
    src_path: str
    tgt_path: str

    def __len__(self) -> int:
        return len(self.src)

    def head(self, n: int) -> ParallelText:
        """The first n pairs (all of them for n = 0)."""
        return ParallelText(self.src[: n or None], self.tgt[: n or None], self.src_path, self.tgt_path)


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> ParallelText:
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    for path, lines in ((src_path, src), (tgt_path, tgt)):
        if not lines:
            raise LegoError(f"{path}: file has no lines")
    if len(src) != len(tgt):
        raise LegoError(f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}: files are not parallel")
    return ParallelText(src, tgt, str(src_path), str(tgt_path))
