"""The single writer: every change to the store goes through one connection, in batched transactions.

SQLite allows one writer at a time; funnelling writes through one task avoids lock errors and turns thousands
of small writes (deliveries, attempts, status changes) into a few `executemany` calls per transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from simulator.store import tables as t

log = logging.getLogger("webhook_sim.store")

Call = Callable[[AsyncConnection], Awaitable[Any]]
MAX_BATCH = 5000

_DELIVERY_UPDATE = (
    update(t.deliveries)
    .where(t.deliveries.c.id == bindparam("_id"))
    .values(status=bindparam("status"), attempts=bindparam("attempts"), retries=bindparam("retries"),
            sim_offset=bindparam("sim_offset"), next_attempt_at=bindparam("next_attempt_at"),
            finished_at=bindparam("finished_at"), last_status=bindparam("last_status"),
            last_error=bindparam("last_error"), faults=bindparam("faults"))
)


@dataclass
class _Batch:
    events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    done: list[Callable[[BaseException | None], None]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events) + len(self.deliveries) + len(self.attempts) + len(self.updates) + len(self.calls)


@dataclass(frozen=True)
class Op:
    """One queued change: rows for a table, an arbitrary statement, and who to tell when it is committed."""

    events: tuple[dict[str, Any], ...] = ()
    deliveries: tuple[dict[str, Any], ...] = ()
    attempts: tuple[dict[str, Any], ...] = ()
    updates: tuple[dict[str, Any], ...] = ()
    call: Call | None = None
    done: Callable[[BaseException | None], None] | None = None


class Writer:
    def __init__(self, engine: AsyncEngine, max_queue: int = 20000) -> None:
        self._engine = engine
        # Unbounded, so a callback can always queue a write; producers that can wait do so in `put`.
        self._queue: asyncio.Queue[Op | None] = asyncio.Queue()
        self._max_queue = max_queue
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="store-writer")

    async def put(self, op: Op) -> None:
        """Queue `op`; waits while the queue is long, which is how producers feel the store's pace."""
        while self._queue.qsize() >= self._max_queue:
            self._room.clear()
            await self._room.wait()
        self._queue.put_nowait(op)

    def put_nowait(self, op: Op) -> None:
        """Queue `op` without waiting (from callbacks: a write is never dropped)."""
        self._queue.put_nowait(op)

    async def submit(self, op_call: Call) -> Any:
        """Run `op_call` in the writer's next transaction and return its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        result: list[Any] = []

        async def call(conn: AsyncConnection) -> None:
            result.append(await op_call(conn))

        def done(exc: BaseException | None) -> None:
            if future.done():
                return
            if exc is None:
                future.set_result(result[0] if result else None)
            else:
                future.set_exception(exc)

        await self.put(Op(call=call, done=done))
        return await future

    async def barrier(self) -> None:
        """Wait until everything queued so far is committed."""
        await self.submit(_noop)

    async def close(self) -> None:
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None

    async def _run(self) -> None:
        async with self._engine.connect() as conn:
            while True:
                first = await self._queue.get()
                batch, stop = self._drain(first)
                if self._queue.qsize() < self._max_queue:
                    self._room.set()
                if len(batch) or batch.done:
                    await self._commit(conn, batch)
                if stop:
                    return

    def _drain(self, first: Op | None) -> tuple[_Batch, bool]:
        batch = _Batch()
        op: Op | None = first
        while True:
            if op is None:
                return batch, True
            batch.events.extend(op.events)
            batch.deliveries.extend(op.deliveries)
            batch.attempts.extend(op.attempts)
            batch.updates.extend(op.updates)
            if op.call is not None:
                batch.calls.append(op.call)
            if op.done is not None:
                batch.done.append(op.done)
            if len(batch) >= MAX_BATCH or self._queue.empty():
                return batch, False
            op = self._queue.get_nowait()

    async def _commit(self, conn: AsyncConnection, batch: _Batch) -> None:
        error: BaseException | None = None
        try:
            async with conn.begin():
                if batch.events:
                    await conn.execute(t.events.insert(), batch.events)
                if batch.deliveries:
                    await conn.execute(t.deliveries.insert(), batch.deliveries)
                if batch.attempts:
                    await conn.execute(t.attempts.insert(), batch.attempts)
                if batch.updates:
                    await conn.execute(_DELIVERY_UPDATE, batch.updates)
                for call in batch.calls:
                    await call(conn)
        except Exception as exc:  # a failed batch must not stop the writer; its owners are told
            log.exception("store write failed")
            error = exc
        for done in batch.done:
            done(error)


async def _noop(conn: AsyncConnection) -> None:
    return None
