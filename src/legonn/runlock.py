"""One run per directory: an exclusive lock on OUT_DIR/.lock for as long as a run trains there.

Two runs on one out_dir would delete each other's temp checkpoints and log every step twice. The lock is
an `fcntl.flock`, which the OS drops when its process dies, so a run killed with `kill -9` leaves
nothing to clean up: the lock file stays (it holds the last holder's pid) and is simply locked again.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from legonn.errors import LegoError

LOCK_FILE = ".lock"


class RunLock:
    """Holds `folder`/.lock exclusively from construction to `release()` (or the process's end)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            self.release()
            raise LegoError(f"{self.folder}: another run (pid {holder}) is training in this directory; "
                            "wait for it to end or choose another out_dir") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
