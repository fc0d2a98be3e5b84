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
from collections.abc import Callable, Set
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.models.enums import FINAL_DELIVERY_STATUSES, LIVE_RUN_STATUSES
from simulator.store import tables as t
from simulator.store.outbox import keep_last_position
from simulator.store.writer import Committed

if TYPE_CHECKING:
    from simulator.store.store import Store

log = logging.getLogger("webhook_sim.store")

ENDED = FINAL_DELIVERY_STATUSES
BATCH = 500  # deliveries a transaction deletes
EVERY = 60.0  # seconds between two passes


async def prune(
    store: Store, older_than: float, *, now: float | None = None, busy: Callable[[], Set[str]] = frozenset
) -> int:
    """Delete the deliveries that ended more than `older_than` seconds ago, and their attempts; how many. What
    `busy()` names at the moment of the deletion stays: deliveries this process is sending again."""
    cutoff = (time.time() if now is None else now) - older_than
    total = 0
    while ids := await _ended_before(store, cutoff):
        deleted = await _delete(store, ids, cutoff, busy)
        total += deleted
        if len(ids) < BATCH or not deleted:  # the rest is busy or changed meanwhile: the next pass looks again
            break
    return total


async def keep(store: Store, older_than: float, busy: Callable[[], Set[str]] = frozenset, every: float = EVERY) -> None:
    """Prune every `every` seconds until cancelled; a pass the store refuses is tried again at the next."""
    while True:
        try:
            if pruned := await prune(store, older_than, busy=busy):
                log.info(
                    "retention: %d deliveries that ended over %gs ago deleted, with their attempts", pruned, older_than
                )
        except Exception as exc:  # a store restarting or full: its rows are safe, and the next pass tries again
            log.warning("retention: this pass could not prune the store (%s)", exc)
        await asyncio.sleep(every)


def _prunable(cutoff: float) -> Any:
    """Ended before `cutoff`, and not of a run still under way: a run's summary and `run`'s exit status count its
    deliveries, failures first."""
    d, r = t.deliveries.c, t.runs.c
    under_way = select(r.id).where(r.status.in_(LIVE_RUN_STATUSES))
    ended_at = func.coalesce(d.finished_at, d.created_at)
    return (
        d.status.in_(ENDED),
        d.created_at < cutoff,
        ended_at < cutoff,
        or_(d.run_id.is_(None), d.run_id.not_in(under_way)),
    )


async def _ended_before(store: Store, cutoff: float) -> list[str]:
    stmt = select(t.deliveries.c.id).where(*_prunable(cutoff)).limit(BATCH)
    async with store.engine.connect() as conn:
        return [row.id for row in (await conn.execute(stmt)).all()]


async def _delete(store: Store, ids: list[str], cutoff: float, busy: Callable[[], Set[str]]) -> int:
    """Delete those of `ids` that still qualify when the transaction runs (a resend may have made one pending
    since it was read, or be about to: `busy`); how many went."""
    gone: list[str] = []

    async def call(conn: AsyncConnection) -> int:
        keep = busy()
        chosen = [i for i in ids if i not in keep]
        if not chosen:
            return 0
        d = t.deliveries.c
        # The condition again, in the DELETE itself: a row another process made pending meanwhile is not one.
        removed = delete(t.deliveries).where(d.id.in_(chosen), *_prunable(cutoff)).returning(d.id, d.n)
        rows = (await conn.execute(removed)).all()
        gone[:] = [row.id for row in rows]
        if gone:
            await conn.execute(delete(t.attempts).where(t.attempts.c.delivery_id.in_(gone)))
            await keep_last_position(conn, max(row.n for row in rows))
        return len(gone)

    deleted: int = await store.writer.submit(call)
    if deleted:
        store.writer.announce(Committed(frozenset(gone), other=True))  # live lists let them go; runs' counts moved
    return deleted
