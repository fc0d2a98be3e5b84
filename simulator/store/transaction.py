"""The statements the writer's transactions are made of, and one transaction of a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, bindparam, exists, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store import direct, postgres
from simulator.store import tables as t

if TYPE_CHECKING:
    from simulator.store.rows_process import RowsProcess
    from simulator.store.writer import Batch


def _update_delivery(columns: Sequence[str]) -> Any:
    """UPDATE of `columns` of the delivery whose id is the `_id` parameter."""
    return (
        update(t.deliveries)
        .where(t.deliveries.c.id == bindparam("_id"))
        .values({name: bindparam(name) for name in columns})
    )


# A delivery's state after an attempt (Job.update_row).
_DELIVERY_UPDATE_COLUMNS = (
    "status",
    "attempts",
    "retries",
    "sim_offset",
    "next_attempt_at",
    "finished_at",
    "last_status",
    "last_error",
    "faults",
    "held_by",
)
_DELIVERY_UPDATE = _update_delivery(_DELIVERY_UPDATE_COLUMNS)
# The same, from a sender on a shared store, applied only while the delivery's subscription is still leased to the
# `_owner` parameter (a row whose `_owner` is None is not fenced: a resend, claimed by its own conditional write).
# A sender cut off from the store longer than its lease went on attempting and queued its records; meanwhile another
# took the subscription, read the delivery as unrecorded and sent it again. Keyed by the id alone, the late record
# landed over the new sender's: a delivery the receiver had answered 204 showed `dead`. The attempt's own row is
# kept (its request did go out); the delivery's state is the lease holder's.
_OWNER = bindparam("_owner", type_=String)
_FENCED_UPDATE = _DELIVERY_UPDATE.where(
    or_(
        _OWNER.is_(None),
        exists()
        .where(t.subscriptions.c.id == t.deliveries.c.subscription_id)
        .where(t.subscriptions.c.lease_owner == _OWNER),
    )
)
# A subscription's delivery-driven state (Store.save_subscription_state).
_SUBSCRIPTION_STATE = (
    update(t.subscriptions)
    .where(t.subscriptions.c.id == bindparam("_id"))
    .values(status=bindparam("status"), consecutive_dead=bindparam("consecutive_dead"))
)
# An open Syncfy batch's row, rewritten as events join it (see delivery/batches.py).
_DELIVERY_REWRITE = _update_delivery([c.name for c in t.deliveries.c if c.name not in ("id", "created_at", "listed")])
_EVENT_INSERT = t.events.insert()
_DELIVERY_INSERT = t.deliveries.insert()
_ATTEMPT_INSERT = t.attempts.insert().values({c.name: bindparam(c.name) for c in t.attempts.c if c.name != "id"})


def inserts(batch: Batch) -> list[tuple[Any, list[dict[str, Any]]]]:
    """The statements of `batch` that insert rows (by the first of which its transaction is found, `direct`)."""
    return [(_EVENT_INSERT, batch.events), (_DELIVERY_INSERT, batch.deliveries), (_ATTEMPT_INSERT, batch.attempts)]


async def transaction(
    conn: AsyncConnection,
    batch: Batch,
    sender: str,
    rows_process: RowsProcess | None = None,
    *,
    fenced: bool = False,
) -> None:
    """Write `batch` in one transaction: rows straight through the driver where they are all it holds (on
    SQLite, in `rows_process` once it runs). With `fenced`, a delivery's update applies only while its
    subscription is leased to `sender` (see `_FENCED_UPDATE`)."""
    updates = (_DELIVERY_UPDATE, batch.updates)
    if fenced and batch.updates:
        updates = (_FENCED_UPDATE, [{"_owner": sender, **row} for row in batch.updates])
    statements = [
        (_EVENT_INSERT, batch.events),
        (_DELIVERY_INSERT, batch.deliveries),
        (_DELIVERY_REWRITE, batch.rewrites),
        (_ATTEMPT_INSERT, batch.attempts),
        updates,
        (_SUBSCRIPTION_STATE, batch.states),
    ]
    notify = bool(batch.deliveries or batch.rewrites)  # (not for every call: a barrier is one, and senders take them)
    if not batch.calls:  # rows only: the common case, a run's
        if conn.dialect.name == "sqlite":
            await direct.sqlite_rows(conn, statements, rows_process)
            return
        if postgres.is_postgresql(conn.dialect.name):
            await direct.postgres_rows(conn, statements, notify_as=sender if notify else None)
            return
    async with conn.begin():
        for stmt, rows in statements:
            if rows:
                await direct.executemany(conn, stmt, rows)
        for call in batch.calls:
            await call(conn)
        if notify:
            await postgres.notify_outbox(conn, sender)
