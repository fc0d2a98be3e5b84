"""One process per SQLite database: an exclusive lock on `<database>.lock`, held while the store is open.

Two processes on one SQLite file mark each other's live runs interrupted, send the same deliveries twice and
share delivery positions, so the second is refused at start-up with an error that names the holder. The lock is
`flock`, released by the kernel when the holder dies (even by SIGKILL), so a crash never leaves a stale lock.
The lock file records who holds it: pid, command and start time.

The database is one file however it is named: the lock file is named after its real path (symbolic links
resolved), and the database file itself is locked too, which holds for every hard link to it. Through another
name a second process opened the same database with a WAL of its own, and the two corrupted it.
"""

from __future__ import annotations

import contextlib
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


# How old an ephemeral store's lock must be before a store nobody holds is taken for abandoned: a process making
# one creates its lock and takes it within milliseconds.
ABANDONED_AFTER = 60.0


class StoreLock:
    """The held lock of one database file; `release` (or the process's end) frees it."""

    def __init__(self, path: Path, handle: IO[str] | None, file: int | None = None) -> None:
        self.path = path
        self._handle = handle
        self._file = file  # the database file's own descriptor, flocked; open while the store is

    @classmethod
    def acquire(cls, database: Path) -> StoreLock:
        real = database.resolve()
        path = real.with_name(real.name + ".lock")
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
        file = _lock_file_itself(real, handle)
        handle.seek(0)
        handle.truncate()
        json.dump({"pid": os.getpid(), "command": _command(), "since": round(time.time(), 3)}, handle)
        handle.flush()
        return cls(path, handle, file)

    def replaced(self) -> str | None:
        """Why the database's name no longer leads to the file this process opened (deleted, or another file put
        in its place), else None. Its writes went on into the deleted file, and were gone at the next start."""
        if self._file is None:
            return None
        database = _database_of(self.path)
        try:
            now = os.stat(database)
        except FileNotFoundError:
            return f"{database} was deleted while the store was open"
        except OSError:
            return None  # unreadable for now: the write itself tells
        if not os.path.samestat(now, os.fstat(self._file)):
            return f"{database} was replaced by another file while the store was open"
        return None

    def release(self) -> None:
        # After the store's connections closed: closing any descriptor of the database file would drop the
        # POSIX locks SQLite holds on it in this process.
        if self._file is not None:
            os.close(self._file)
            self._file = None
        if self._handle is not None:
            self._handle.close()  # closing the descriptor releases the flock
            self._handle = None


def sweep_abandoned(folder: Path, prefix: str) -> list[Path]:
    """Delete the ephemeral stores (`--db memory`) in `folder` that their processes left behind: killed (SIGKILL,
    a crash) they never closed them, and each left a database with its journal in the temporary folder (half a
    megabyte a run, one more at every CI job that killed one). A store is abandoned when no process holds its lock
    (the kernel frees a dead holder's) and its lock is over ABANDONED_AFTER seconds old. Returns what it deleted."""
    if fcntl is None:
        return []
    swept = []
    for lock in folder.glob(f"{prefix}*.db.lock"):
        try:
            if time.time() - lock.stat().st_mtime < ABANDONED_AFTER:
                continue
            fd = os.open(lock, os.O_RDWR)
        except OSError:  # gone meanwhile, or another user's
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its process lives
            os.close(fd)
            continue
        try:
            database = _database_of(lock)
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{database}{suffix}")
            os.unlink(lock)  # last, still held: no other sweeper takes the store meanwhile
            swept.append(database)
        except OSError:
            continue
        finally:
            os.close(fd)
    return swept


def _lock_file_itself(real: Path, handle: IO[str]) -> int:
    """flock the database file (created if need be): every hard link to it shares the lock. flock and SQLite's
    own POSIX locks do not meet on Linux."""
    try:
        file = os.open(real, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        handle.close()
        raise
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _holder_by_inode(real, os.fstat(file))
        os.close(file)
        handle.close()
        raise StoreInUse(
            f"{real} is in use by {holder}, which opened it under another name (a hard link); stop it, "
            "or give this process another --db"
        ) from None
    return file


def _holder_by_inode(real: Path, stat: os.stat_result) -> str:
    """Who holds the database through another name in its folder (the lock file of that name says), else
    "another process": a hard link elsewhere is not looked for."""
    for lock in real.parent.glob("*.lock"):
        name = _database_of(lock)
        try:
            same = name != real and os.path.samestat(os.stat(name), stat)
            if same:
                with open(lock, encoding="utf-8") as held:
                    return _holder(held)
        except OSError:
            continue
    return "another process"


def _database_of(lock: Path) -> Path:
    """The database a lock file is named after (`<database>.lock`)."""
    return lock.with_name(lock.name.removesuffix(".lock"))


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
