"""Runs a server that does not send (`serve --no-send`) leaves for the processes that do, on a shared store.

Such a server validates and records a run as `pending` with no owner, and tells the senders (a NOTIFY on
`RUNS_CHANNEL`). A sending process claims it with `FOR UPDATE SKIP LOCKED`, becomes its owner and plays it: the
events are made where they are sent, so a server busy answering readers never makes them late. The player writes
the run's progress to its row about once a second, for the servers that show it. A cancel is asked through the
row: a run nobody has claimed yet is cancelled at once; a claimed one is stopped by its player at its next look.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from simulator.models.enums import LIVE_RUN_STATUSES
from simulator.store import tables as t

RUNS_CHANNEL = "webhook_sim_runs"  # NOTIFY: a run waits for a player, or a cancel was asked of one
_NOW = func.extract("epoch", func.clock_timestamp())


async def announce(engine: AsyncEngine) -> None:
    """Wake the senders listening in other processes: a run waits, or a cancel was asked."""
    async with engine.begin() as conn:
        await notify(conn)


async def notify(conn: AsyncConnection) -> None:
    """In `conn`'s transaction (PostgreSQL's alone: `NOTIFY` is delivered as it commits): the players listening
    in other processes look at their runs again."""
    await conn.exec_driver_sql(f"NOTIFY {RUNS_CHANNEL}")


async def claim(engine: AsyncEngine, owner: str) -> tuple[str, str] | None:
    """Take the oldest run waiting for a player, if any: its id and its spec's JSON (read by the player, which
    fails the run if it cannot). Others claiming at once skip it."""
    r = t.runs.c
    waiting = (
        select(r.id)
        .where(and_(r.status == "pending", r.owner.is_(None)))
        .order_by(r.created_at, r.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    stmt = update(t.runs).where(r.id == waiting.scalar_subquery()).values(owner=owner).returning(r.id, r.spec)
    async with engine.begin() as conn:
        row = (await conn.execute(stmt)).first()
    return None if row is None else (row.id, row.spec)


async def ask_cancel(engine: AsyncEngine, run_id: str, finished_at: float) -> bool:
    """Ask the player of `run_id` to stop it; True when nobody had claimed it, and it is cancelled now."""
    r = t.runs.c
    async with engine.begin() as conn:
        unclaimed = await conn.execute(
            update(t.runs)
            .where(and_(r.id == run_id, r.status == "pending", r.owner.is_(None)))
            .values(status="cancelled", finished_at=finished_at)
        )
        if unclaimed.rowcount:
            return True
        await conn.execute(
            update(t.runs).where(and_(r.id == run_id, r.status.in_(LIVE_RUN_STATUSES))).values(cancel_at=_NOW)
        )
        await notify(conn)
    return False


async def cancels(engine: AsyncEngine, owner: str) -> set[str]:
    """The runs `owner` plays that were asked to stop."""
    r = t.runs.c
    stmt = select(r.id).where(and_(r.owner == owner, r.cancel_at.is_not(None), r.status.in_(LIVE_RUN_STATUSES)))
    async with engine.connect() as conn:
        return {row.id for row in await conn.execute(stmt)}


async def lost(engine: AsyncEngine, owner: str, run_ids: list[str]) -> tuple[set[str], set[str]]:
    """Of the runs `owner` plays, those it plays no more, in one read: (gone, taken). Gone: the store no longer
    holds them (a reset asked of another process deleted them). Taken: their row no longer names it the player (a
    reaper took it for dead, its beat stopped for longer than its lease, and handed them on)."""
    if not run_ids:
        return set(), set()
    r = t.runs.c
    async with engine.connect() as conn:
        owners = {row.id: row.owner for row in await conn.execute(select(r.id, r.owner).where(r.id.in_(run_ids)))}
    return set(run_ids) - owners.keys(), {run_id for run_id, player in owners.items() if player != owner}


async def report(engine: AsyncEngine, progress: dict[str, dict[str, Any]]) -> None:
    """Write the progress of runs this process plays (only to rows still live: never over a run's end)."""
    if not progress:
        return
    r = t.runs.c
    async with engine.begin() as conn:
        for run_id, values in progress.items():
            await conn.execute(
                update(t.runs)
                .where(and_(r.id == run_id, r.status.in_(LIVE_RUN_STATUSES)))
                .values(progress=json.dumps(values))
            )
