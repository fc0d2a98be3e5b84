"""A transaction of rows on SQLite as few statements of many rows each, and the process that can write them.

Standard library only: `python -I sqlite_batch.py DATABASE PARENT_PID` is the rows process (see `rows_process`),
which must start without the rest of the package (SQLAlchemy alone is a fifth of a second and 30 MB).

The protocol on its pipes: a frame (4-byte big-endian length, then a pickle) per transaction in, a list of
(statement, rows) written in one transaction; a frame per transaction out, None once committed, else the SQLite
error as (class name, message, error code, error name), the transaction rolled back.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import runpy
import signal
import sqlite3
import struct
import sys
import urllib.parse
from itertools import chain
from typing import Any, BinaryIO

# Rows per statement at most (see `steps`), within SQLite's limit on a statement's parameters.
ROWS_PER_STEP = 64
_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33)
_MANY: dict[tuple[str, str, int, str], str] = {}
_UPDATE = re.compile(r"UPDATE (\w+) SET (.+) WHERE \1\.(\w+) = \?")
_COLUMN = re.compile(r'"?\w+"?')
FRAME = struct.Struct("!I")
Plan = list[tuple[str, list[Any]]]
Failure = tuple[str, str, int | None, str | None]


def steps(sql: str, params: list[Any]) -> list[tuple[str, list[Any]]]:
    """`executemany(sql, params)` for SQLite, many rows to a statement: an INSERT's in one VALUES list, an
    UPDATE's through `UPDATE … FROM (VALUES …)` (see `_updates`); any other statement as it is.

    SQLite's driver steps a statement once per row, and lets go of the GIL around each step. Taking it back waits
    for the event loop's thread to let go in turn, which a loop busy with readers does only every few
    milliseconds: under 50 readers at 1,000 events a second a commit of 600 rows took 100-180 ms, and deliveries
    made 0.2 s ahead reached their lane late. A statement of 64 rows is one step.
    """
    if len(params) == 1 or not isinstance(params[0], tuple):
        return [(sql, params)]
    head, values, row = sql.partition(" VALUES ")
    if not values or not head.startswith("INSERT INTO "):
        return _updates(sql, params)
    return [(_statement(f"{head} VALUES ", row, size, ""), rows) for size, rows in _chunks(params)]


def _updates(sql: str, params: list[Any]) -> list[tuple[str, list[Any]]]:
    """`UPDATE t SET a=?, b=? WHERE t.id = ?` of many rows as `UPDATE … FROM (VALUES …)` statements (SQLite
    3.33 and later). Every row sets the same columns, so a row updated twice in one statement keeps its last
    values: only those are given (in a join SQLite would pick either)."""
    shape = _UPDATE.fullmatch(sql)
    if shape is None or not _UPDATE_FROM:
        return [(sql, params)]
    table, assignments, key = shape.groups()
    columns = [part.removesuffix("=?") for part in assignments.split(", ")]
    if not all(_COLUMN.fullmatch(column) for column in columns):
        return [(sql, params)]
    last = list({row[-1]: row for row in params}.values())  # by key, in first-seen order, each its last values
    if len(last) == 1:
        return [(sql, last)]
    sets = ", ".join(f"{column}=v.column{i}" for i, column in enumerate(columns, 1))
    head = f"UPDATE {table} SET {sets} FROM (VALUES "
    tail = f") AS v WHERE {table}.{key} = v.column{len(columns) + 1}"
    row = f"({', '.join('?' * len(last[0]))})"
    return [(_statement(head, row, size, tail), rows) for size, rows in _chunks(last)]


def _chunks(params: list[tuple[Any, ...]]) -> list[tuple[int, list[list[Any]]]]:
    """`params` as statements' parameters, (rows per statement, each statement's rows flattened): ROWS_PER_STEP
    rows (fewer for wide rows, within SQLite's limit on parameters), the rest in halves, so a table needs a few
    statement shapes, each in the driver's cache."""
    size = max(1, min(ROWS_PER_STEP, _MAX_VARIABLES // max(len(params[0]), 1)))
    out: list[tuple[int, list[list[Any]]]] = []
    done = 0
    while done < len(params):
        end = done + (len(params) - done) // size * size
        if end > done:
            out.append((size, [list(chain.from_iterable(params[i : i + size])) for i in range(done, end, size)]))
            done = end
        size //= 2
    return out


def _statement(head: str, row: str, size: int, tail: str) -> str:
    """`head`, `size` times `row` comma-separated, `tail`: made once per shape."""
    key = (head, row, size, tail)
    sql = _MANY.get(key)
    if sql is None:
        sql = _MANY[key] = f"{head}{', '.join([row] * size)}{tail}"
    return sql


def write(db: sqlite3.Connection, plan: Plan) -> None:
    """`plan`'s rows in one transaction on `db` (opened with isolation_level=None); rolled back if it fails."""
    db.execute("BEGIN")
    try:
        for sql, params in plan:
            for many, rows in steps(sql, params):
                db.executemany(many, rows)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def failure(exc: sqlite3.Error) -> Failure:
    """An SQLite error as it crosses the pipe: what the other side raises again, with its code."""
    return type(exc).__name__, str(exc), getattr(exc, "sqlite_errorcode", None), getattr(exc, "sqlite_errorname", None)


def serve(database: str, given: BinaryIO, out: BinaryIO) -> None:
    """The rows process: each transaction from `given` written, its outcome to `out`, until `given` ends."""
    # The store's own file or nothing: opened read-write without creating it, and holding the store's tables (a
    # path that named another file made an empty database, and every transaction failed there).
    # `file://` and the absolute path: an empty authority, so a path that starts with `//` stays a path.
    db = sqlite3.connect(f"file://{urllib.parse.quote(database)}?mode=rw", uri=True, isolation_level=None)
    db.execute("SELECT 1 FROM deliveries LIMIT 0")
    # As the store's own connections (`opening.sqlite_pragmas`).
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    try:
        while len(head := given.read(FRAME.size)) == FRAME.size:
            plan = pickle.loads(given.read(FRAME.unpack(head)[0]))
            outcome: Failure | None = None
            try:
                write(db, plan)
            except sqlite3.Error as exc:
                outcome = failure(exc)
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            out.write(FRAME.pack(len(data)) + data)
            out.flush()
    finally:
        db.close()


if __name__ == "__main__":
    # Isolated (`python -I`), this file sees the standard library alone: the package's helper is run by its path.
    orphans = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "orphans.py")
    runpy.run_path(orphans)["end_with_parent"](int(sys.argv[2]))
    # Its parent decides when it stops (its input ends): an interrupt meant for the parent is not its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The outcomes have the real stdout to themselves: whatever else writes to it goes to stderr.
    outcomes = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        with contextlib.suppress(BrokenPipeError):
            serve(sys.argv[1], sys.stdin.buffer, outcomes)
    except sqlite3.Error as exc:  # the store could not be opened: its parent writes on its thread
        print(f"webhook-sim: the store's rows process cannot use {sys.argv[1]}: {exc}", file=sys.stderr)
        sys.exit(1)
