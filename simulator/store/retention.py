"""Retention (`serve --retention`): deliveries that ended longer ago than a set time are deleted, with their
attempts, so that a simulator left running for a team keeps a bounded log (as Svix and Hookdeck keep theirs for a
set number of days). Off unless asked for: by default nothing is ever deleted but by `POST /reset`.

Only ended deliveries go (succeeded, dead, dropped): one still pending or waiting for a retry stays whatever its
age. The events stay too: the API twins answer from them, and a token or a credential must not disappear from
the API because its webhook's log was pruned. A pass reads the candidates on a reading connection (the writer
goes on meanwhile) and deletes them by their keys, a batch to a transaction, so a pass never holds the store's
one writer for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store import tables as t
from simulator.store.writer import Committed

if TYPE_CHECKING:
    from simulator.store.store import Store

log = logging.getLogger("webhook_sim.store")

ENDED = ("succeeded", "dead", "dropped")
BATCH = 500  # deliveries a transaction deletes
EVERY = 60.0  # seconds between two passes


async def prune(store: Store, older_than: float, *, now: float | None = None) -> int:
    """Delete the deliveries that ended more than `older_than` seconds ago, and their attempts; how many."""
    cutoff = (time.time() if now is None else now) - older_than
    total = 0
    while ids := await _ended_before(store, cutoff):
        await _delete(store, ids)
        total += len(ids)
        if len(ids) < BATCH:
            break
    return total


async def keep(store: Store, older_than: float, every: float = EVERY) -> None:
    """Prune every `every` seconds until cancelled; a pass the store refuses is tried again at the next."""
    while True:
        try:
            if pruned := await prune(store, older_than):
                log.info(
                    "retention: %d deliveries that ended over %gs ago deleted, with their attempts", pruned, older_than
                )
        except Exception as exc:  # a store restarting or full: its rows are safe, and the next pass tries again
            log.warning("retention: this pass could not prune the store (%s)", exc)
        await asyncio.sleep(every)


async def _ended_before(store: Store, cutoff: float) -> list[str]:
    d = t.deliveries.c
    ended_at = func.coalesce(d.finished_at, d.created_at)
    stmt = select(d.id).where(d.status.in_(ENDED), d.created_at < cutoff, ended_at < cutoff).limit(BATCH)
    async with store.engine.connect() as conn:
        return [row.id for row in (await conn.execute(stmt)).all()]


async def _delete(store: Store, ids: list[str]) -> None:
    async def call(conn: AsyncConnection) -> None:
        # Ended before the cutoff when read, and still: nothing sends them again (a resend makes them pending).
        gone = select(t.deliveries.c.id).where(t.deliveries.c.id.in_(ids), t.deliveries.c.status.in_(ENDED))
        await conn.execute(delete(t.attempts).where(t.attempts.c.delivery_id.in_(gone)))
        await conn.execute(delete(t.deliveries).where(t.deliveries.c.id.in_(ids), t.deliveries.c.status.in_(ENDED)))

    await store.writer.submit(call)
    store.writer.announce(Committed(frozenset(ids), other=False))  # a live list lets them go
