"""What the store does differently on PostgreSQL (asyncpg): URLs, the JSON list of a delivery's events, and the
lock that keeps two processes from creating or upgrading the tables at once.

Everything else is SQLAlchemy Core that both dialects compile. SQLite stays the default and the one-process
store; PostgreSQL holds the same tables for a store other processes can reach.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, cast, func, text
from sqlalchemy.dialects.postgresql import JSONB

# Schemes that name PostgreSQL without an async driver: the store speaks asyncpg.
_PLAIN_SCHEMES = ("postgresql://", "postgres://")
ASYNC_SCHEME = "postgresql+asyncpg://"
# pg_advisory_xact_lock's key for opening the store: any constant the other users of the database do not take.
_OPEN_LOCK = 0x7765_6268_6F6F_6B  # "webhook"


def async_url(url: str) -> str:
    """`postgresql://…` and `postgres://…` as asyncpg URLs; anything else unchanged."""
    for scheme in _PLAIN_SCHEMES:
        if url.startswith(scheme):
            return ASYNC_SCHEME + url.removeprefix(scheme)
    return url


def is_postgresql(dialect_name: str) -> bool:
    return dialect_name == "postgresql"


def json_list_values(column: Any) -> Any:
    """The elements of the JSON list in text `column`, as a table-valued `value` column
    (SQLite's `json_each(column)`)."""
    return func.jsonb_array_elements_text(cast(column, JSONB)).table_valued("value")


def lock_for_open(conn: Connection) -> None:
    """Serialise store opening across processes until this transaction ends: creating the tables, upgrading them
    and recording the schema version must not interleave (CREATE TABLE IF NOT EXISTS races on PostgreSQL)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _OPEN_LOCK})
