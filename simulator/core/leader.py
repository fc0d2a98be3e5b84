"""Which of several `serve` processes on one PostgreSQL store fires the schedules: the one holding a session-level
advisory lock. The others keep their schedulers paused (they still create, change and list schedules: the jobs
are rows in the shared store) and try for the lock every `TRY_EVERY` seconds, so leadership moves within about
that long once the leader's session ends, whether it stopped, was killed or lost its connection.

The leader tests its session as often: a leader cut off from the store pauses at once, since its lock may already
be someone else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from simulator.store.failures import failure_reason
from simulator.store.postgres import LEADER_LOCK

log = logging.getLogger("webhook_sim.schedules")

TRY_EVERY = 1.0  # seconds


class Leader:
    def __init__(
        self,
        engine: AsyncEngine,
        lead: Callable[[], Awaitable[None]],
        follow: Callable[[], Awaitable[None]],
        tick: Callable[[], Awaitable[None]],
    ) -> None:
        self.engine = engine
        self._lead, self._follow, self._tick = lead, follow, tick
        self._conn: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._step()
        self._task = asyncio.create_task(self._loop(), name="schedules-leader")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._drop()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(TRY_EVERY)
            await self._step()

    async def _step(self) -> None:
        try:
            if self._conn is None:
                await self._try()
            else:
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()
                await self._tick()  # jobs other processes added: the scheduler learns of them only when woken
        except Exception as exc:  # the store went away: whoever holds the lock now, it is not this session
            if self._conn is not None:
                log.warning("lost the schedules' leadership (%s): pausing them", failure_reason(exc))
                await self._follow()
            await self._drop()

    async def _try(self) -> None:
        conn = await self.engine.connect()
        try:
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK})).scalar()
            await conn.commit()  # the lock is the session's: no transaction stays open
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return
        self._conn = conn
        log.info("this process fires the schedules")
        await self._lead()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing ends the session, and the lock with it
                await conn.close()
