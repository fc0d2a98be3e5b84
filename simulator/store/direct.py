"""Rows written straight through the driver, with statements SQLAlchemy compiled once per dialect.

The writer's common case is rows only (a run's events, deliveries, attempts and status changes). Through
SQLAlchemy each statement is an execution context and, on aiosqlite, a trip between the event loop and the
driver's thread; on SQLite here a transaction of rows is one trip. Errors are raised as SQLAlchemy's, as through
SQLAlchemy, so the writer tells transient ones apart the same way.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

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
    plan = [driver_statement(conn, stmt, rows) for stmt, rows in statements if rows]

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


def tuple_getter(names: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row dict to its parameter tuple. itemgetter does it in C: a third of the cost of a generator per row,
    which at four rows per delivery was a measurable part of persisting one."""
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return itemgetter(*names)
