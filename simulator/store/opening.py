"""How a store is reached: its URL as SQLAlchemy takes it, a SQLite file's folder, mode and pragmas, and the
words a refusal to open it gives."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from simulator.credentials import mask_url
from simulator.errors import FieldError, InvalidInput
from simulator.store import postgres
from simulator.store.lock import sweep_abandoned

EPHEMERAL = "webhook-sim-"  # an ephemeral store's file name begins so, in the temporary folder


def sqlalchemy_url(url: str | None) -> tuple[str, Path | None]:
    """An async SQLAlchemy URL for `url`, and the temporary file to delete on close (for `memory`).

    Accepts `sqlite:///path`, a bare path, `memory`/`:memory:`/empty (an ephemeral file), `postgresql://…`
    (asyncpg), or any async URL.
    An in-memory SQLite database cannot be shared by a writer and concurrent readers, so the ephemeral store
    is a temporary file, removed when the store closes; those of processes that never closed theirs are removed
    when the next one is made (`lock.sweep_abandoned`).
    """
    if not url or url in (":memory:", "memory", "sqlite://", "sqlite:///:memory:"):
        sweep_abandoned(Path(tempfile.gettempdir()), EPHEMERAL)  # those killed processes left
        fd, name = tempfile.mkstemp(prefix=EPHEMERAL, suffix=".db")
        os.close(fd)
        return f"sqlite+aiosqlite:///{name}", Path(name)
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///"), None
    if "://" not in url:
        # A path, not a URL: quoted, so that a `?`, `#` or `%41` in a file's name is part of it. Pasted as it was,
        # `a?b.db` opened the file `a` and `c%41d.db` the file `cAd.db`, each with its lock and key.
        return f"sqlite+aiosqlite:///{quote(url, safe='/')}", None
    return postgres.async_url(url), None


def shown(url: str | None) -> str:
    return mask_url(url) if url and "://" in url else (url or "memory")


def reason(exc: BaseException) -> str:
    """The system's or the driver's own words, first line only (SQLAlchemy appends its SQL and a link to its
    docs; an OSError's text repeats the file name)."""
    inner = getattr(exc, "orig", None) or exc
    if isinstance(inner, OSError) and inner.strerror:
        if inner.filename is None:
            return inner.strerror
        # The file refused may be the lock or the key beside the database, not the database: named, so a folder
        # that may not be written is not blamed on a database file that may be.
        return f"{inner.strerror}: {inner.filename} (the store keeps its lock, key and journal beside the database)"
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0]


def uri_filename(url: str | None) -> InvalidInput:
    """The refusal of a SQLite URI filename (`sqlite:///file:u.db?uri=true`). The store keeps its lock, its key
    and its owner-only mode beside the file its path names, and its rows process opens that path: given a URI,
    they went to a literal `file:u.db` while the driver opened `u.db`, unlocked and readable by anyone."""
    return InvalidInput(
        f"the store {shown(url)!r} is a SQLite URI filename (`uri` in its query): give the file's path instead, "
        "as `sqlite:///path/to.db` or the bare path",
        errors=[FieldError("db", "a SQLite file's path, not a URI filename")],
    )


def folder_of(database: str) -> None:
    folder = Path(database).parent
    if not folder.is_dir():
        raise InvalidInput(
            f"no folder {str(folder)!r} for the SQLite file {database!r}",
            errors=[FieldError("db", f"no folder {folder}")],
        )


def regular_file(database: str) -> None:
    """Refuse a path that names something other than a file (`/dev/null`, a folder, a FIFO) before anything is
    opened, locked or made private: tightening the mode of `/dev/null` took it from every other user."""
    path = Path(database)
    if path.exists() and not path.is_file():
        raise InvalidInput(
            f"{database!r} is not a regular file: the SQLite store is a file of its own (give a new path, or "
            "`memory` for a store that is not kept)",
            errors=[FieldError("db", "not a regular file")],
        )
    if not _sqlite_or_empty(path):
        # Refused before its mode is tightened and a lock made beside it: a file given by mistake (a config,
        # a text file) was left readable by its owner alone, and SQLite refused it only then.
        raise InvalidInput(
            f"{database!r} is not an SQLite database: give a new path, or a store this tool made",
            errors=[FieldError("db", "not an SQLite database")],
        )


SQLITE_HEADER = b"SQLite format 3\x00"


def _sqlite_or_empty(path: Path) -> bool:
    """Whether the file at `path` is missing, empty, or begins as an SQLite database does; one this process cannot
    read is left to SQLite, which says why."""
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError:  # missing, or unreadable here
        return True
    return not head or head == SQLITE_HEADER


def private(database: Path) -> None:
    """Create the database file readable by its owner only (SQLite gives its WAL and shared-memory files the
    database's mode), and tighten an existing one: it holds subscription secrets."""
    os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{database}{suffix}")
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash (what durability here means); only power loss can cost
    # the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
