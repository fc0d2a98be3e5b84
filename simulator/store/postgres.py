"""What the store does differently on PostgreSQL (asyncpg): URLs, the JSON list of a delivery's events, and the
lock that keeps two processes from creating or upgrading the tables at once.

Everything else is SQLAlchemy Core that both dialects compile. SQLite stays the default and the one-process
store; PostgreSQL holds the same tables for a store other processes can reach.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Connection, Integer, Table, cast, exc, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

# Schemes that name PostgreSQL without an async driver: the store speaks asyncpg.
_PLAIN_SCHEMES = ("postgresql://", "postgres://")
ASYNC_SCHEME = "postgresql+asyncpg://"
# Advisory lock keys, all here so that no two uses share one: any constants the database's other users do not
# take. Opening the store (transaction), the twin's fold (transaction), and firing schedules (session-long).
_OPEN_LOCK = 0x7765_6268_6F6F_6B  # "webhook"
_FOLD_LOCK = 0x7765_6268_6F6F_66  # "webhoof"
LEADER_LOCK = 0x7765_6268_6F6F_6C  # "webhool"
# The space of the two-key locks (space, hash of an id), which never meet the one-key locks above: one change to a
# subscription at a time (transaction).
_EDIT_SPACE = 0x7765_6268  # "webh"


def async_url(url: str) -> str:
    """`postgresql://…` and `postgres://…` as asyncpg URLs; anything else unchanged. libpq's `sslmode`, in most
    URLs a provider hands out, is asyncpg's `ssl` (same values): passed as it is, connecting failed with a
    TypeError."""
    for scheme in _PLAIN_SCHEMES:
        if url.startswith(scheme):
            url = ASYNC_SCHEME + url.removeprefix(scheme)
            break
    if url.startswith(ASYNC_SCHEME) and "sslmode=" in url:
        url = re.sub(r"([?&])sslmode=", r"\1ssl=", url)
    return url


# The least time PostgreSQL gives a session of this program idle inside a transaction before it ends the session
# (see `connect_args`): a live process's transaction can wait that long for a busy event loop.
HOLD_FLOOR = 10.0


def connect_args(url: str, lease_ttl: float) -> dict[str, Any]:
    """What this program's asyncpg sessions ask of the server as they connect. A process stopped inside a
    transaction (SIGSTOP, a paused VM, a debugger) kept the row locks it had taken for as long as it stayed
    stopped: the process that took over its subscriptions sent the same deliveries, its writer waited on those
    locks with every write behind them, and its rounds waited on its writer, so its own leases lapsed and nothing
    was sent until the stopped one woke. The server now ends such a session once it has sat idle in its
    transaction for a lease's length (HOLD_FLOOR at least): by then the process has lost its leases, and what it
    was writing under them would be refused anyway."""
    if not url.startswith(ASYNC_SCHEME):
        return {}
    return {"server_settings": {"idle_in_transaction_session_timeout": str(_hold_limit_ms(lease_ttl))}}


def sync_connect_args(lease_ttl: float) -> dict[str, Any]:
    """`connect_args` for the schedules' synchronous sessions (psycopg, libpq's options)."""
    return {"options": f"-c idle_in_transaction_session_timeout={_hold_limit_ms(lease_ttl)}"}


def _hold_limit_ms(lease_ttl: float) -> int:
    return int(max(lease_ttl, HOLD_FLOOR) * 1000)


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


def number_events(conn: Connection) -> None:
    """Give `events.ord` its sequence (insertion order, what SQLite's rowid is there), numbering rows an earlier
    release stored without it. Idempotent: it runs at every open, under the open lock."""
    conn.execute(text("CREATE SEQUENCE IF NOT EXISTS events_ord_seq OWNED BY events.ord"))
    conn.execute(text("ALTER TABLE events ALTER COLUMN ord SET DEFAULT nextval('events_ord_seq')"))
    conn.execute(text("UPDATE events SET ord = nextval('events_ord_seq') WHERE ord IS NULL"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_events_ord ON events (ord)"))


def widen_integers(conn: Connection, table: Table, present: Mapping[str, Any]) -> None:
    """Make 64-bit the columns of `table` that a store made by an earlier release holds as `integer` (`present`:
    each column's type as reflected) where the table now says `bigint` (see `tables.ROW_NUMBER`), with the
    sequences that number them: one `ALTER TABLE`, once (it rewrites the table, under the open lock)."""
    narrow = [
        column.name
        for column in table.columns
        if isinstance(column.type.dialect_impl(conn.dialect), BigInteger)
        and isinstance(found := present.get(column.name), Integer)
        and not isinstance(found, BigInteger)
    ]
    if not narrow:
        return
    changes = ", ".join(f'ALTER COLUMN "{name}" TYPE bigint' for name in narrow)
    conn.execute(text(f'ALTER TABLE "{table.name}" {changes}'))
    for name in narrow:
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": name})
        if (serial := sequence.scalar()) is not None:
            conn.execute(text(f"ALTER SEQUENCE {serial} AS bigint"))


OUTBOX_CHANNEL = "webhook_sim_outbox"  # NOTIFY: deliveries another process may send were added or let go
# The payload of that NOTIFY when a subscription was deleted: this prefix and its id (see `Store.delete_subscription`).
DELETED = "deleted:"


async def notify_outbox(conn: Any, sender: str) -> None:
    """Tell the senders listening in other processes that there is new work (delivered when the transaction
    commits; PostgreSQL folds repeats within one transaction). The payload names the process that made it: its
    own lanes took it in memory already, so it does not read the store again for it."""
    if is_postgresql(conn.dialect.name):
        await conn.execute(text("SELECT pg_notify(:channel, :sender)"), {"channel": OUTBOX_CHANNEL, "sender": sender})


def lock_fold(conn: Any) -> Any:
    """The statement that serialises the twin's fold across processes until the transaction ends (two servers
    folding the same events at once would apply them twice)."""
    return conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FOLD_LOCK})


@asynccontextmanager
async def one_editor(engine: AsyncEngine, key: str) -> AsyncIterator[None]:
    """One holder of `key` at a time across every process on the store, until the block ends: a transaction-long
    advisory lock on a connection of its own (released however the block ends, the connection's loss included).
    A change to a subscription reads it, then writes it whole: two servers changing it at once lost one's fields.
    On a store no other process opens (SQLite) there is nothing to hold: the caller's own lock is enough."""
    if not is_postgresql(engine.dialect.name):
        yield
        return
    async with engine.begin() as conn:
        # This transaction idles by design while the block works on other connections, for as long as the block
        # takes: the session's limit idle in a transaction (`connect_args`) would end it under a long one, and
        # the block's change, made, would be answered as failed. It holds no row.
        await conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"), {"space": _EDIT_SPACE, "key": key}
        )
        yield


T = TypeVar("T")
# Seconds between tries of a read while the store cannot answer (a restart of PostgreSQL takes seconds): the caller
# waits for it rather than fail, and fails only if it stays away for all of them (about a minute).
READ_RETRIES = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


async def read_through_restarts(read: Callable[[], Awaitable[T]]) -> T:
    """`read()`, tried again while the store cannot be reached (`unreachable`), READ_RETRIES apart."""
    for wait in READ_RETRIES:
        try:
            return await read()
        except Exception as exc:
            if not unreachable(exc):
                raise
            await asyncio.sleep(wait)
    return await read()


def unreachable(error: BaseException) -> bool:
    """Whether `error` says the store's server cannot be reached now: down, restarting, or its connection cut
    (a read then fails until it is back; the writer waits on its own). asyncpg raises a refused connection as
    OSError; SQLAlchemy wraps what the drivers raise once connected."""
    if isinstance(error, OSError):
        return True
    # A server restarting refuses with SQLSTATE 57P03 ("the database system is starting up") or 57P01 (shutting
    # down), which SQLAlchemy wraps as a plain DBAPIError: class 57P is the server away, class 08 the connection.
    # 25P03: the session sat idle in a transaction past its limit (`connect_args`) and was ended.
    code = getattr(getattr(error, "orig", None), "sqlstate", None) or getattr(error, "sqlstate", None)
    if isinstance(code, str) and code.startswith(("57P", "08", "25P03")):
        return True
    return isinstance(error, exc.DBAPIError) and (
        error.connection_invalidated or isinstance(error, exc.OperationalError | exc.InterfaceError)
    )
