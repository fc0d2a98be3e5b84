"""One process per SQLite database: an exclusive lock on `<database>.lock`, held while the store is open.

Two processes on one SQLite file mark each other's live runs interrupted, send the same deliveries twice and
share delivery positions, so the second is refused at start-up with an error that names the holder. The lock is
`flock`, released by the kernel when the holder dies (even by SIGKILL), so a crash never leaves a stale lock.
The lock file records who holds it: pid, command and start time.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import IO

from simulator.errors import StoreInUse

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; one process per database is up to the user
    fcntl = None  # type: ignore[assignment]


class StoreLock:
    """The held lock of one database file; `release` (or the process's end) frees it."""

    def __init__(self, path: Path, handle: IO[str] | None) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def acquire(cls, database: Path) -> StoreLock:
        path = database.with_name(database.name + ".lock")
        if fcntl is None:
            return cls(path, None)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(handle)
            handle.close()
            raise StoreInUse(f"{database} is in use by {holder}; stop it, or give this process another --db") from None
        handle.seek(0)
        handle.truncate()
        json.dump({"pid": os.getpid(), "command": _command(), "since": round(time.time(), 3)}, handle)
        handle.flush()
        return cls(path, handle)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the descriptor releases the flock
            self._handle = None


def _command() -> str:
    """The program and its subcommand (`webhook-sim serve`): never its options, which may hold secrets."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if name == "__main__.py":  # `python -m simulator.cli`
        name = "webhook-sim"
    return " ".join([name, *sys.argv[1:2]])


def _holder(handle: IO[str]) -> str:
    try:
        handle.seek(0)
        info = json.loads(handle.read() or "{}")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
        return f"pid {int(info['pid'])} ({info['command']}, since {since})"
    except (ValueError, KeyError, TypeError, OSError):
        return "another process"
