"""What other processes change in a shared store, told to this process's watchers (the dashboard's live stream).

On a shared store other processes make and send deliveries (all of them, for a server that does not send), and
their commits never pass through this process's writer, so its watchers would hear of them only on a reload.
While anyone watches, this reads the store twice a second for attempts and deliveries added since, by the
attempts' ids and the deliveries' positions, and announces them as the writer announces its own commits. Both
look back a little and remember what they told: rows of several processes are numbered before they commit, so
they may become visible out of order.

A new watcher calls `joined` before it tells its client to read the list: that first read learns what is there
without telling it. Told, the rows it looks back over went to every new stream as changed (500-700 deliveries on
a busy store); learned later, after the client's read of the list, a row committed in between was never told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from sqlalchemy import func, select

from simulator.store import tables as t
from simulator.store.store import Store
from simulator.store.writer import Committed

log = logging.getLogger("webhook_sim.store")

EVERY = 0.5  # seconds between reads while someone watches
LOOK_BACK = 500  # ids or positions read again, for rows committed after later-numbered ones
LIMIT = 2000  # rows a read takes at most; past it, the watchers are told to read the list again
REMEMBERED = 20_000  # rows told of, kept to tell each one once


class RemoteChanges:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._task: asyncio.Task[None] | None = None
        self._marks: dict[str, int] | None = None  # the highest attempt id and delivery position read
        self._told: set[tuple[str, int]] = set()
        self._order: deque[tuple[str, int]] = deque()
        self._lock = asyncio.Lock()  # one read at a time: a watcher's first and the loop's

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="remote-changes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(EVERY)
            if not self.store.writer.listeners:
                self._marks = None  # nobody watches: start from the present when someone does
                continue
            with contextlib.suppress(Exception):  # the store is restarting: the next read catches up
                await self.read()

    async def joined(self) -> None:
        """A watcher has started listening and has not yet read the list: learn what is there now, telling
        nothing (the list it reads next shows it), so that later reads tell only what changes after."""
        async with self._lock:
            if self._marks is None:
                with contextlib.suppress(Exception):  # the store is restarting: the loop's first read tells all
                    await self._read(tell=False)

    async def read(self) -> None:
        """Announce the deliveries that other processes added or attempted since the last read."""
        async with self._lock:
            await self._read(tell=True)

    async def _read(self, tell: bool) -> None:
        a, d = t.attempts.c, t.deliveries.c
        async with self.store.engine.connect() as conn:
            if self._marks is None:
                top_a = (await conn.execute(select(func.max(a.id)))).scalar() or 0
                top_d = (await conn.execute(select(func.max(d.n)))).scalar() or 0
                self._marks = {"attempts": int(top_a), "deliveries": int(top_d)}
            attempts = (
                await conn.execute(
                    select(a.id, a.delivery_id)
                    .where(a.id > self._marks["attempts"] - LOOK_BACK)
                    .order_by(a.id)
                    .limit(LIMIT)
                )
            ).all()
            added = (
                await conn.execute(
                    select(d.n, d.id).where(d.n > self._marks["deliveries"] - LOOK_BACK).order_by(d.n).limit(LIMIT)
                )
            ).all()
        ids = {row.delivery_id for row in attempts if self._first(("a", row.id))}
        ids |= {row.id for row in added if self._first((row.id, row.n))}
        if attempts:
            self._marks["attempts"] = max(self._marks["attempts"], attempts[-1].id)
        if added:
            self._marks["deliveries"] = max(self._marks["deliveries"], added[-1].n)
        if ids and tell:
            self.store.writer.announce(Committed(frozenset(ids), other=False))

    def _first(self, key: tuple[str, int]) -> bool:
        """Whether `key` is told of for the first time (remembering it, and forgetting the oldest past a bound)."""
        if key in self._told:
            return False
        self._told.add(key)
        self._order.append(key)
        if len(self._order) > REMEMBERED:
            self._told.discard(self._order.popleft())
        return True
