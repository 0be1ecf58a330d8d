"""Fill a hand-written page's generated tables between markers, leaving every other line as written.

    <!-- table: transfer fr-en -->
    (whatever is here is replaced by the table `transfer` builds from the argument fr-en)
    <!-- end -->

The page's prose is the author's; only the lines between a marker and its end are generated. A marker
naming no known table, or one without an end, is an error naming the file and line, so a typo cannot
silently leave a stale table in place.
"""

from __future__ import annotations

import inspect
import re
import shlex
from collections.abc import Callable
from pathlib import Path

from legonn.errors import LegoError
from legonn.io import atomic_write_bytes

START = re.compile(r"^<!-- table: (?P<spec>.+?) -->$")
END = "<!-- end -->"

Table = Callable[..., list[str]]  # the marker's arguments (strings) → the table's markdown lines


def fill(text: str, tables: dict[str, Table], source: str = "page") -> str:
    """`text` with the lines between each marker and its end replaced by the table it names."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        if line.strip() == END:
            raise LegoError(f"{source}:{i + 1}: '{END}' without a table marker before it")
        match = START.match(line.strip())
        i += 1
        if not match:
            continue
        name, *args = shlex.split(match["spec"])
        if name not in tables:
            raise LegoError(f"{source}:{i}: unknown table '{name}' (known: {', '.join(sorted(tables))})")
        end = next((j for j in range(i, len(lines)) if lines[j].strip() == END or START.match(lines[j].strip())),
                   None)
        if end is None or lines[end].strip() != END:
            raise LegoError(f"{source}:{i}: table '{name}' has no '{END}' after it")
        try:
            inspect.signature(tables[name]).bind(*args)
        except TypeError as exc:  # the marker's arguments do not fit the table
            raise LegoError(f"{source}:{i}: table '{name}': {exc}") from None
        try:
            table = tables[name](*args)
        except LegoError as exc:  # a bad target or record: say which marker asked for it
            raise LegoError(f"{source}:{i}: table '{name}': {exc}") from None
        out += [*table, lines[end]]
        i = end + 1
    return "\n".join(out)


def fill_file(path: Path, tables: dict[str, Table]) -> bool:
    """Fill the markers of the file at `path` in place (atomically); whether anything changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    filled = fill(text, tables, str(path))
    if filled != text:
        atomic_write_bytes(path, filled.encode("utf-8"))
    return filled != text
