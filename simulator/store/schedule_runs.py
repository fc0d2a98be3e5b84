"""The run each schedule starts, kept as sealed JSON in a table of the simulator's own.

APScheduler's job store pickles a job's arguments, and unpickling runs code: a run spec there put its secret in
plain sight and gave whoever can write the database a way to run code. So the job holds only the schedule's id
and the simulator's instance, and the run's fields (its secret, a target URL with a password) live here, sealed
with the store's key (see `simulator.store.secrets`). The table has its own metadata and is made when the
schedules start: stores that never schedule anything do not need it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Float, MetaData, String, Table, Text, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store.schema import add_missing_columns
from simulator.store.store import Store
from simulator.timeutil import parse_time

ORPHAN_AFTER = 60.0  # seconds: far longer than a schedule takes from storing its run to adding its job

metadata = MetaData()
schedule_runs = Table(
    "schedule_runs",
    metadata,
    Column("id", String, primary_key=True),  # the schedule's id, which is its APScheduler job's id
    Column("trigger", Text, nullable=False),  # JSON: the trigger as the API shows it
    Column("run", Text, nullable=False),  # JSON of the run's fields, sealed
    Column("created_at", Float, nullable=False),
    # JSON of the last firing: when it was planned and when it happened, and the run it started or why none
    # started (see `Schedules._start_run`).
    Column("last", Text),
    Column("resumed_at", Float),  # when the schedule was last resumed: what it missed while paused is not owed
)


@dataclass(frozen=True)
class ScheduledRun:
    trigger: dict[str, Any]
    run: dict[str, Any]
    last: dict[str, Any] | None = None  # the last firing: {"due", "at", "run", "error"}
    created_at: float = 0.0
    resumed_at: float | None = None

    def settled(self) -> float:
        """The time up to which every firing of the schedule is accounted for: its last firing's planned time
        (its recording's, for a firing an earlier release recorded without it, always a little later), else its
        creation; or its resumption, after which the times it missed while paused are not owed."""
        last = self.last or {}
        fired = last.get("due") or last.get("at") or 0.0  # `due` is null where the firing was not the scheduler's
        return max(float(fired), self.created_at, self.resumed_at or 0.0)


class ScheduleRuns:
    """The schedules' runs in one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def prepare(self) -> None:
        """Make the table if the store has none yet, with the columns an earlier release's table lacks (the last
        firing's, the last resumption's)."""

        def make(conn: Connection) -> None:
            metadata.create_all(conn)
            present = {column["name"] for column in inspect(conn).get_columns(schedule_runs.name)}
            add_missing_columns(conn, schedule_runs, present)
            if "last" not in present:
                _settle_earlier_firings(conn, time.time())

        await self.store.writer.submit(lambda conn: conn.run_sync(make))

    async def fired(self, schedule_id: str, run_id: str | None, error: str | None, due: float | None = None) -> None:
        """Keep what a firing of the schedule did: the run it started, or why none started. `due`: the time the
        firing was planned for, which tells a starting server whether the scheduler moved past a firing that was
        never recorded (see `simulator.core.schedule_catchup`)."""
        last = json.dumps({"due": due, "at": time.time(), "run": run_id, "error": error})
        stmt = schedule_runs.update().where(schedule_runs.c.id == schedule_id).values(last=last)
        await self.store.writer.submit(lambda conn: conn.execute(stmt))

    async def resumed(self, schedule_id: str) -> None:
        """Note that the schedule is being resumed now: the firings it missed while paused are skipped."""
        stmt = schedule_runs.update().where(schedule_runs.c.id == schedule_id).values(resumed_at=time.time())
        await self.store.writer.submit(lambda conn: conn.execute(stmt))

    async def put(self, schedule_id: str, trigger: dict[str, Any], run: dict[str, Any]) -> None:
        """Store (or replace) a schedule's run; 503 while the store cannot write."""
        self.store.writer.check()
        row = {
            "trigger": json.dumps(trigger),
            "run": self.store.sealer.seal(json.dumps(run), _context(schedule_id)),
            "created_at": time.time(),
        }

        async def call(conn: AsyncConnection) -> None:
            await conn.execute(schedule_runs.delete().where(schedule_runs.c.id == schedule_id))
            await conn.execute(schedule_runs.insert().values(id=schedule_id, **row))

        await self.store.writer.submit(call)

    async def get(self, schedule_id: str) -> ScheduledRun | None:
        return (await self.many([schedule_id])).get(schedule_id)

    async def many(self, ids: Iterable[str]) -> dict[str, ScheduledRun]:
        wanted = sorted(set(ids))
        found: dict[str, ScheduledRun] = {}
        async with self.store.engine.connect() as conn:
            for i in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
                stmt = select(schedule_runs).where(schedule_runs.c.id.in_(wanted[i : i + 500]))
                for row in await conn.execute(stmt):
                    run = self.store.sealer.unseal(row.run, _context(row.id)) or "{}"
                    last = json.loads(row.last) if row.last else None
                    trigger = json.loads(row.trigger)
                    found[row.id] = ScheduledRun(trigger, json.loads(run), last, row.created_at, row.resumed_at)
        return found

    async def one_offs(self) -> set[str]:
        """The ids of every one-off stored: those that have fired have no job left to list them by."""
        c = schedule_runs.c
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(select(c.id, c.trigger))).all()
        return {row.id for row in rows if "at" in json.loads(row.trigger)}

    async def owed_one_offs(self, now: float) -> dict[str, datetime]:
        """The one-offs whose time has come and whose firing was never recorded, by id, with their time. A one-off's
        job is removed as it fires, before its run starts: one of these without a job is a firing that was lost."""
        c = schedule_runs.c
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(select(c.id, c.trigger, c.last).where(c.last.is_(None)))).all()
        return {row.id: at for row in rows if (at := _owed_at(row.trigger, row.last, now)) is not None}

    async def delete(self, schedule_id: str) -> None:
        await self.store.writer.submit(
            lambda conn: conn.execute(schedule_runs.delete().where(schedule_runs.c.id == schedule_id))
        )

    async def keep(self, ids: Iterable[str]) -> None:
        """Forget the runs of schedules that no longer exist (a one-off is removed by APScheduler when it fires).

        Only runs stored more than ORPHAN_AFTER seconds ago: a schedule being made, here or by another server on
        the same store, has its run a moment before its job, and must not lose it to a server starting then.
        A one-off whose firing is owed (`owed_one_offs`) is kept too: the server that fires the schedules fires it.
        """
        kept = set(ids)
        now = time.time()
        c = schedule_runs.c
        async with self.store.engine.connect() as conn:
            old = select(c.id, c.trigger, c.last).where(c.created_at < now - ORPHAN_AFTER)
            stored = {row.id for row in await conn.execute(old) if _owed_at(row.trigger, row.last, now) is None}
        for schedule_id in stored - kept:
            await self.delete(schedule_id)

    async def clear(self) -> None:
        await self.store.writer.submit(lambda conn: conn.execute(schedule_runs.delete()))


# The last firing of a schedule an earlier release fired, which kept no record of it: when, and what it started,
# is not known. Shown as no firing (`last_firing` null); it owes nothing.
UNRECORDED = json.dumps({"due": None, "at": None, "run": None, "error": None})


def _settle_earlier_firings(conn: Connection, now: float) -> None:
    """A table an earlier release made has no record of the firings it made (its `last` column is new). Unmarked,
    every one of them looked lost: a one-off that had fired (its record kept until the next start) fired again,
    and an interval or a cron fired at once what it had fired already. So what is due by now counts as fired: the
    schedules go on from their next time, and a one-off whose time has passed owes nothing (one that has not
    fired still has its job, which fires it)."""
    c = schedule_runs.c
    earlier = conn.execute(select(c.id, c.trigger).where(c.last.is_(None))).all()
    conn.execute(update(schedule_runs).where(c.last.is_(None)).values(resumed_at=now))
    passed = [row.id for row in earlier if _owed_at(row.trigger, None, now) is not None]
    if passed:
        conn.execute(update(schedule_runs).where(c.id.in_(passed), c.last.is_(None)).values(last=UNRECORDED))


def _context(schedule_id: str) -> str:
    return f"schedule:{schedule_id}"


def _owed_at(trigger: str, last: str | None, now: float) -> datetime | None:
    """The time of a one-off (its trigger and last firing as stored) that is due and has never fired."""
    at = json.loads(trigger).get("at")
    if last is not None or not isinstance(at, str):
        return None
    moment = parse_time(at)
    return moment if moment.timestamp() <= now else None
