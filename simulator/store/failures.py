"""Which failed writes a later try can get past: the store failed (busy, full, disconnected), not the change."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# SQLite's primary result codes that a later try can get past: busy, locked, out of memory, read-only (a file
# system remounted), I/O error, full, cannot open, WAL protocol. Anything else (a constraint, no such table) is
# permanent: retrying it would stall every write behind it.
TRANSIENT_SQLITE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
SQLITE_FULL = 13
# What a write past a file-size limit (EFBIG) or a disk quota gives: SQLite maps only ENOSPC to SQLITE_FULL.
SQLITE_IOERR = 10
# PostgreSQL's SQLSTATE prefixes of the same kind: connection exception, insufficient resources (disk full, out
# of memory), operator intervention (shutdown), serialization failure, deadlock, lock not available, read-only,
# and a session ended for sitting idle in its transaction (a process stopped there: see postgres.connect_args).
TRANSIENT_SQLSTATE = ("08", "53", "57P", "40001", "40P01", "55P03", "25006", "25P03")


def transient(exc: BaseException) -> bool:
    """Whether a write that failed with `exc` can succeed later unchanged (the store, not the change, failed)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = sqlite_code(exc)
        if code is not None:
            return code in TRANSIENT_SQLITE
        state = getattr(exc.orig, "sqlstate", None)
        if isinstance(state, str):
            return state.startswith(TRANSIENT_SQLSTATE)
        return isinstance(exc, (OperationalError, InterfaceError))  # its connection or its server
    return isinstance(exc, OSError)


def sqlite_code(exc: BaseException) -> int | None:
    """SQLite's primary result code for `exc`, if SQLite raised it."""
    code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def failure_reason(exc: BaseException) -> str:
    """What went wrong, in the database's words (`database or disk is full`), without SQLAlchemy's decoration."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(orig).strip() or type(orig).__name__
