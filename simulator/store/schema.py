"""The store's schema version: recorded in `settings` when a store is opened, checked before anything is changed.

A version number with forward-only upgrade steps, not Alembic: every change so far adds tables, nullable columns
or indexes, which `create_all` and `_add_missing` make on any dialect, and a store is only ever opened by the
same or a newer release. What a number buys is the other direction: a store a newer release has written may hold
what this release cannot read, so this release refuses it, naming both versions, before touching a table.
A step that has to rewrite data gets an entry in `UPGRADES` and the version goes up by one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection

from sqlalchemy import Connection, Table, bindparam, inspect, select, update

from simulator.errors import SimError
from simulator.store import postgres
from simulator.store import tables as t

# 2: leases, processes and held deliveries, for several processes on one PostgreSQL store. An earlier release
# would send what another process holds back, so it must refuse a store at 2.
# 3: runs a server that does not send leaves pending for a process that sends, their progress and cancel asks. An
# earlier release would end such a waiting run as interrupted.
# Not a version: attempts.response_encoding (an answer that is not UTF-8 kept as base64). An earlier release
# shows such an answer's base64 as its text, where it showed the text with each bad byte replaced: inexact both
# ways, and it changes nothing it reads or writes (its own answers go in with NULL, which means text).
# Not a version: events.ends_with (how a run's documents job ended, shown from its documents.completed on). An
# earlier release writes events without it, and its jobs' documents show "Downloaded" until the outcome comes, as
# they did; it reads none of it.
# Not a version: counts and positions made 64-bit on PostgreSQL (`tables.ROW_NUMBER`). An earlier release reads and
# writes `bigint` columns as it did `integer` ones; what changes is that they no longer overflow past 2**31.
# Not a version: processes.signing (the SHA-256 of the public key a process signs with). An earlier release writes
# processes without it, and a process of this release does not compare its key with theirs.
# 4: bt_objects.created, the Basis Theory twin's lists' order (`created_at`, newest first). An earlier release
# would write objects without it, listed out of order.
# 5: deliveries.listed, a delivery's place in GET /deliveries. An earlier release would write deliveries without
# one, which the list would not show in order.
SCHEMA_VERSION = 5
VERSION_SETTING = "schema.version"


def _date_bt_objects(conn: Connection) -> None:
    """Each Basis Theory object's `created` from its body, a thousand rows a statement."""
    from simulator.store.twins import created_of  # the one reading of a body's created_at, which writes use too

    c = t.bt_objects.c
    stmt = (
        update(t.bt_objects)
        .where(c.kind == bindparam("_kind"), c.id == bindparam("_id"))
        .values(created=bindparam("created"))
    )
    rows = conn.execute(select(c.kind, c.id, c.body)).all()
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        conn.execute(stmt, [{"_kind": r.kind, "_id": r.id, "created": created_of(json.loads(r.body))} for r in chunk])


def _list_deliveries(conn: Connection) -> None:
    """Each delivery without a place in the list gets its position, as the list was ordered until version 5. At
    every opening, not as a step: cheap (`listed` is indexed), and a row put in by hand is listed too."""
    c = t.deliveries.c
    conn.execute(update(t.deliveries).where(c.listed.is_(None)).values(listed=c.n))


# version → the step that brings a store at version - 1 to it (after the tables and columns are made).
UPGRADES: dict[int, Callable[[Connection], None]] = {4: _date_bt_objects}


class StoreTooNew(SimError):
    """The store was written by a newer release than this one: opening it could misread or damage it."""

    status = 503
    exit_code = 1
    title = "Store too new"


class StoreVersionUnreadable(SimError):
    """The store's recorded schema version is not a number: not webhook-sim's, or damaged. Guessing a version
    could run upgrade steps over tables they were not written for."""

    status = 503
    exit_code = 1
    title = "Store version unreadable"


def stored_version(conn: Connection) -> int:
    """The version recorded in the store; 0 for an empty database or one made before versions were recorded."""
    if not inspect(conn).has_table(t.settings.name):
        return 0
    value = conn.execute(select(t.settings.c.value).where(t.settings.c.key == VERSION_SETTING)).scalar()
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        raise StoreVersionUnreadable(
            f"the store's schema version (settings row {VERSION_SETTING!r}) is {str(value)[:40]!r}, not a number: "
            "this database was not written by webhook-sim, or has been changed by hand"
        ) from None


def prepare(conn: Connection) -> None:
    """Refuse a store newer than this code; otherwise create what is missing, run the upgrade steps the store has
    not had, and record `SCHEMA_VERSION`. Runs in the transaction that opens the store."""
    if postgres.is_postgresql(conn.dialect.name):
        postgres.lock_for_open(conn)
    found = stored_version(conn)
    if found > SCHEMA_VERSION:
        raise StoreTooNew(
            f"the store's schema is version {found}, newer than this webhook-sim's version {SCHEMA_VERSION}: "
            "open it with the release that wrote it, or a newer one"
        )
    # A new store (none of its tables there yet) is made whole by `create_all`: looking for what is missing, a
    # query per table and per index, took half the time a new store took to open.
    new = not set(inspect(conn).get_table_names()) & set(t.metadata.tables)
    t.metadata.create_all(conn)
    if not new:
        _add_missing(conn)
        _list_deliveries(conn)
    if postgres.is_postgresql(conn.dialect.name):
        postgres.number_events(conn)
    for version in range(found + 1, SCHEMA_VERSION + 1):
        step = UPGRADES.get(version)
        if step is not None:
            step(conn)
    if found != SCHEMA_VERSION:
        conn.execute(t.settings.delete().where(t.settings.c.key == VERSION_SETTING))
        conn.execute(t.settings.insert().values(key=VERSION_SETTING, value=str(SCHEMA_VERSION)))


def _add_missing(conn: Connection) -> None:
    """Bring a store made by an earlier version up to date: its tables get the nullable columns and the indexes
    added since (create_all makes missing tables, never columns or indexes of existing ones), and on PostgreSQL
    the counts made 64-bit since (`postgres.widen_integers`)."""
    inspector = inspect(conn)
    on_postgresql = postgres.is_postgresql(conn.dialect.name)
    for table in t.metadata.sorted_tables:
        present = {column["name"]: column["type"] for column in inspector.get_columns(table.name)}
        add_missing_columns(conn, table, present)
        if on_postgresql:
            postgres.widen_integers(conn, table, present)
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def add_missing_columns(conn: Connection, table: Table, present: Collection[str]) -> None:
    """Add to `table` the nullable columns it has gained since the store was made (`present`: those it has). On
    PostgreSQL `IF NOT EXISTS`: a table outside the open lock (the schedules') is brought up to date by servers
    starting together, and each adds what the first already did."""
    guard = "IF NOT EXISTS " if postgres.is_postgresql(conn.dialect.name) else ""
    for column in table.columns:
        if column.name not in present and column.nullable:
            kind = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN {guard}"{column.name}" {kind}')
