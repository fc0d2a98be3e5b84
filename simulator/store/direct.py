"""Rows written straight through the driver, with statements SQLAlchemy compiled once per dialect.

The writer's common case is rows only (a run's events, deliveries, attempts and status changes). Through
SQLAlchemy each statement is an execution context and, on the async drivers, a trip between the event loop and
the driver (a thread for aiosqlite, a greenlet for asyncpg); here a transaction of rows is one trip. Errors are
raised as SQLAlchemy's, as through SQLAlchemy, so the writer tells transient ones apart the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store.postgres import OUTBOX_CHANNEL

# Rows per statement at most (see `steps`), within SQLite's limit on a statement's parameters.
ROWS_PER_STEP = 64
_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33)
_MANY: dict[tuple[str, str, int, str], str] = {}
_UPDATE = re.compile(r"UPDATE (\w+) SET (.+) WHERE \1\.(\w+) = \?")
_COLUMN = re.compile(r'"?\w+"?')
_COMPILED: dict[tuple[int, str], tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]] | None]] = {}
Statements = list[tuple[Any, list[dict[str, Any]]]]


async def executemany(conn: AsyncConnection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """`executemany` straight to the driver with a statement compiled once per dialect.

    SQLAlchemy's per-row parameter processing runs on the event loop; for thousands of rows a batch that
    stalled every other coroutine (late deliveries). Our rows are already plain driver values.
    """
    await conn.exec_driver_sql(*driver_statement(conn, stmt, rows))


def driver_statement(conn: AsyncConnection, stmt: Any, rows: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    key = (id(stmt), conn.dialect.name)
    if key not in _COMPILED:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(rows[0]))
        order = compiled.positiontup if conn.dialect.positional else None
        _COMPILED[key] = (compiled.string, tuple_getter(order) if order else None)
    sql, getter = _COMPILED[key]
    return sql, list(map(getter, rows)) if getter else rows


async def sqlite_rows(conn: AsyncConnection, statements: Statements) -> None:
    """Write rows to SQLite in one transaction run whole on the driver's thread.

    Through SQLAlchemy each statement, the begin and the commit are a trip to that thread and back to the event
    loop. Under load every trip back waits its turn in the loop's queue, and a commit of a few rows took 40 ms:
    deliveries made ahead of time reached their lane late. Here it is one trip. Errors are SQLAlchemy's, as
    through SQLAlchemy, so the writer tells transient ones apart the same way.
    """
    driver: Any = (await conn.get_raw_connection()).driver_connection  # aiosqlite's connection
    plan = [step for stmt, rows in statements if rows for step in steps(*driver_statement(conn, stmt, rows))]

    def write() -> None:
        db: sqlite3.Connection = driver._conn
        try:
            for sql, params in plan:
                db.executemany(sql, params)
            db.commit()
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.rollback()
            raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc

    await driver._execute(write)


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


def tuple_getter(names: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row dict to its parameter tuple. itemgetter does it in C: a third of the cost of a generator per row,
    which at four rows per delivery was a measurable part of persisting one."""
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return itemgetter(*names)


async def postgres_rows(conn: AsyncConnection, statements: Statements, notify_as: str | None) -> None:
    """Write rows to PostgreSQL in one transaction on asyncpg's own connection, then `NOTIFY` the senders in
    the name of `notify_as` (see `postgres.notify_outbox`) unless it is None.

    Through SQLAlchemy a commit of one delivery's four rows cost 1.9 ms of this process's CPU (a greenlet and an
    execution context per statement); here 0.9 ms, the same statements on the same driver with the same values.
    A failure leaves the connection usable only if it can roll back; else it is reported lost, and the writer
    writes the rows again on a new one.
    """
    fairy = await conn.get_raw_connection()
    adapted: Any = fairy.dbapi_connection  # SQLAlchemy's adapter: it translates asyncpg's errors
    driver: Any = fairy.driver_connection  # asyncpg's connection
    plan = [driver_statement(conn, stmt, rows) for stmt, rows in statements if rows]
    dbapi_error: Any = conn.dialect.loaded_dbapi.Error
    try:
        await driver.execute("BEGIN")
        for sql, params in plan:
            await driver.executemany(sql, params)
        if notify_as is not None:
            await driver.execute("SELECT pg_notify($1, $2)", OUTBOX_CHANNEL, notify_as)
        await driver.execute("COMMIT")
    except asyncio.CancelledError:
        # Inside a transaction SQLAlchemy does not know of, with no time to roll it back: the pool's reset would
        # not end it, and the next holder of the connection would write inside it. Closed at once instead.
        driver.terminate()
        raise
    except Exception as failure:
        usable = await _rolled_back(driver)
        try:
            adapted._handle_exception(failure)  # raises it as the DB-API error SQLAlchemy's own path would
        except dbapi_error as exc:
            lost = not usable or conn.dialect.is_disconnect(exc, None, None)
            raise DBAPIError.instance(None, None, exc, dbapi_error, connection_invalidated=lost) from exc


async def _rolled_back(driver: Any) -> bool:
    """Whether the connection could roll back after a failure. When the server went away mid-statement, or the
    connection is still busy with what failed ("another operation is in progress"), it cannot: the next
    transaction on it would fail as it begins, with an error that does not say the connection is lost."""
    try:
        await driver.execute("ROLLBACK")
    except Exception:
        return False
    return True
