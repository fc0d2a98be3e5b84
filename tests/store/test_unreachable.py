"""What says the PostgreSQL store is away for now, so a read answers 503 and a run waits: a server restarting
refuses with SQLSTATE 57P03, which SQLAlchemy wraps as a plain DBAPIError; a run on a restarting server failed."""

from __future__ import annotations

import asyncpg.exceptions
from sqlalchemy import exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from simulator.store import postgres


def wrapped(error: Exception) -> exc.DBAPIError:
    """`error` as SQLAlchemy hands it on from asyncpg: its adapter's Error, inside a DBAPIError."""
    adapted = AsyncAdapt_asyncpg_dbapi.Error(str(error), error)
    return exc.DBAPIError.instance("select 1", None, adapted, AsyncAdapt_asyncpg_dbapi.Error)


def test_a_server_starting_up_or_shutting_down_is_away_for_now() -> None:
    for error in (
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    ):
        assert postgres.unreachable(error)
        assert postgres.unreachable(wrapped(error))


def test_a_fault_of_the_request_is_not() -> None:
    error = asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint")
    assert not postgres.unreachable(error)
    assert not postgres.unreachable(wrapped(error))
