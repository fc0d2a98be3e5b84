"""A reset under way, kept in the store until it is done.

A reset is several steps: the runs cancelled, the schedules cleared, the subscriptions removed, then every table
emptied in one transaction. A process killed between them left the schedules gone and the subscriptions and
history kept, with nothing to say so. The mark is written first and deleted in the transaction that empties the
tables: a store that opens with it finishes the reset before anything is resumed, sent or fired.
"""

from __future__ import annotations

import time

from sqlalchemy import Delete, Insert, inspect, table
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store import tables as t

SETTING = "reset.under_way"
# The scheduler's own table (APScheduler's `SQLAlchemyJobStore`), made when the schedules first start.
_JOBS = "apscheduler_jobs"


def forget() -> Delete:
    """The statement that deletes the mark: run in the transaction that finishes the reset."""
    return t.settings.delete().where(t.settings.c.key == SETTING)


def mark() -> tuple[Delete, Insert]:
    """The statements that write the mark (replacing one a killed reset left)."""
    return forget(), t.settings.insert().values(key=SETTING, value=repr(time.time()))


async def clear_schedules(conn: AsyncConnection) -> None:
    """Delete every schedule, as `Schedules.clear` does, without a scheduler running."""
    from simulator.store.schedule_runs import schedule_runs  # which needs the store, which needs this

    await conn.execute(schedule_runs.delete())
    if await conn.run_sync(lambda sync: inspect(sync).has_table(_JOBS)):
        await conn.execute(table(_JOBS).delete())
