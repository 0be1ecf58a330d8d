"""`legonn data get`: fetch datasets into a data root and check every file against its SHA-256.

Each file comes from its public source (legonn.data.sources) or, with a mirror, from
`MIRROR/<dataset>/<file>` — a copy of a data root served over http(s) or read as a `file://` URL.
A file already there with the right hash is kept, so an interrupted run picks up where it stopped;
each download is checked before it replaces anything (temp file + rename), so a bad or half-fetched
file never lands under its real name. The dataset's SHA256SUMS is written last, listing what is there.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from legonn.data.sources import DATASETS, Dataset
from legonn.errors import LegoError
from legonn.io import atomic_write_bytes

CHUNK = 1 << 16
TIMEOUT_S = 60


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def choose(names: list[str]) -> list[Dataset]:
    """The datasets named (all of them when none is); an unknown name is an error listing the known ones."""
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise LegoError(f"unknown dataset {unknown[0]!r} (known: {', '.join(DATASETS)})")
    return [DATASETS[n] for n in (names or DATASETS)]


def url_for(dataset: Dataset, name: str, mirror: str | None) -> str:
    if mirror:
        return f"{mirror.rstrip('/')}/{dataset.name}/{name}"
    if name not in dataset.upstream:
        raise LegoError(f"{dataset.name}/{name}: no public source serves this file as the data root holds it "
                        f"({dataset.mirror_only}); fetch it from a copy of a data root with --mirror URL")
    return dataset.upstream[name]


def fetch(url: str) -> bytes:
    """The bytes at `url` (http, https or file); a failure is one line naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise LegoError(f"{url}: cannot download ({reason})") from None


def get_file(dataset: Dataset, name: str, folder: Path, mirror: str | None) -> bool:
    """Make `folder/name` hold the expected bytes; False if it already did (nothing fetched)."""
    dest, want = folder / name, dataset.sums[name]
    if dest.is_file() and sha256_of(dest) == want:
        return False
    url = url_for(dataset, name, mirror)
    data = fetch(url)
    got = hashlib.sha256(data).hexdigest()
    if got != want:  # checked before writing: a corrupted or changed copy never replaces anything
        raise LegoError(f"{dataset.name}/{name}: SHA-256 {got[:16]}… from {url} does not match the expected "
                        f"{want[:16]}… (a corrupted or changed copy; not written)")
    atomic_write_bytes(dest, data)
    return True


def get(names: list[str], root: Path, mirror: str | None = None, progress: bool = True) -> list[str]:
    """Fetch the named datasets (all when none is named) into `root`; returns one summary line each."""
    from tqdm import tqdm

    lines = []
    for dataset in choose(names):
        folder = root / dataset.name
        fetched = 0
        with tqdm(sorted(dataset.sums), desc=dataset.name, unit="file", disable=not progress, leave=False) as bar:
            for name in bar:
                fetched += get_file(dataset, name, folder, mirror)
        if fetched or not (folder / "SHA256SUMS").is_file():  # a complete folder (maybe read-only) is left as it is
            listing = "".join(f"{dataset.sums[n]}  {n}\n" for n in sorted(dataset.sums))
            atomic_write_bytes(folder / "SHA256SUMS", listing.encode())
        kept = len(dataset.sums) - fetched
        lines.append(f"{folder}: {len(dataset.sums)} files checked ({fetched} fetched, {kept} already there); "
                     f"source: {dataset.source}; license: {dataset.license}")
    return lines
