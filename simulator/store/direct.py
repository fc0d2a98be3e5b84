"""Rows written straight through the driver, with statements SQLAlchemy compiled once per dialect.

The writer's common case is rows only (a run's events, deliveries, attempts and status changes). Through
SQLAlchemy each statement is an execution context and, on the async drivers, a trip between the event loop and
the driver (a thread for aiosqlite, a greenlet for asyncpg); here a transaction of rows is one trip. Errors are
raised as SQLAlchemy's, as through SQLAlchemy, so the writer tells transient ones apart the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from operator import itemgetter
from typing import Any

from sqlalchemy import and_, literal, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store.postgres import OUTBOX_CHANNEL
from simulator.store.rows_process import Lost, RowsProcess
from simulator.store.sqlite_batch import steps

_COMPILED: dict[tuple[Any, ...], tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]] | None]] = {}
Statements = list[tuple[Any, list[dict[str, Any]]]]


async def executemany(conn: AsyncConnection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """`executemany` straight to the driver with a statement compiled once per dialect.

    SQLAlchemy's per-row parameter processing runs on the event loop; for thousands of rows a batch that
    stalled every other coroutine (late deliveries). Our rows are already plain driver values.
    """
    await conn.exec_driver_sql(*driver_statement(conn, stmt, rows))


def driver_statement(conn: AsyncConnection, stmt: Any, rows: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    # By the rows' columns too: an insert compiled for one set of keys would read another set's rows wrongly.
    key = (id(stmt), conn.dialect.name, *rows[0])
    if key not in _COMPILED:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(rows[0]))
        order = compiled.positiontup if conn.dialect.positional else None
        _COMPILED[key] = (compiled.string, tuple_getter(order) if order else None)
    sql, getter = _COMPILED[key]
    return sql, list(map(getter, rows)) if getter else rows


async def sqlite_rows(conn: AsyncConnection, statements: Statements, process: RowsProcess | None = None) -> None:
    """Write rows to SQLite in one transaction, in the store's rows process where it runs (see `rows_process`),
    else whole on the driver's thread.

    Through SQLAlchemy each statement, the begin and the commit are a trip to that thread and back to the event
    loop. Under load every trip back waits its turn in the loop's queue, and a commit of a few rows took 40 ms:
    deliveries made ahead of time reached their lane late. Here it is one trip. Errors are SQLAlchemy's, as
    through SQLAlchemy, so the writer tells transient ones apart the same way.
    """
    driver: Any = (await conn.get_raw_connection()).driver_connection  # aiosqlite's connection
    if process is not None and process.ready:
        try:
            await process.write([driver_statement(conn, stmt, rows) for stmt, rows in statements if rows])
            return
        except sqlite3.Error as exc:
            raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
        except Lost:
            # It ended between its commit and its answer, or before its commit: which one, the rows tell.
            if await driver._execute(partial(_committed, driver._conn, statements)):
                return
    elif process is not None:
        process.count(sum(len(rows) for _, rows in statements))
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


def _first_insert(statements: Statements) -> tuple[Any, dict[str, Any]] | None:
    """The table and key of the first row `statements` insert, by which a transaction of them is found in the store
    (it is committed whole or not at all): its primary key, or an attempt's delivery and number. None when they
    insert none: written again, their updates change nothing more."""
    for stmt, rows in statements:
        if not rows or not getattr(stmt, "is_insert", False):
            continue
        row, table = rows[0], stmt.table
        keys = [c.name for c in table.primary_key if c.name in row]
        keys = keys or [key for key in ("delivery_id", "number") if key in row]  # an attempt
        if keys:
            return table, {key: row[key] for key in keys}
    return None


def _committed(db: sqlite3.Connection, statements: Statements) -> bool:
    """Whether a transaction of `statements` is in the store (SQLite, on the driver's own connection)."""
    first = _first_insert(statements)
    if first is None:
        return False
    table, key = first
    where = " AND ".join(f'"{name}" = ?' for name in key)
    return db.execute(f'SELECT 1 FROM "{table.name}" WHERE {where} LIMIT 1', list(key.values())).fetchone() is not None


async def landed(conn: AsyncConnection, statements: Statements) -> bool:
    """Whether a transaction of `statements` is in the store (PostgreSQL, whose answer to its COMMIT was lost)."""
    first = _first_insert(statements)
    if first is None:
        return False
    table, key = first
    found = select(literal(1)).where(and_(*(table.c[name] == value for name, value in key.items()))).limit(1)
    return (await conn.execute(found)).first() is not None


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
