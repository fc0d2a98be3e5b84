"""The single writer: every change to the store goes through one connection, in batched transactions.

SQLite allows one writer at a time; funnelling writes through one task avoids lock errors and turns thousands
of small writes (deliveries, attempts, status changes) into a few `executemany` calls per transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from simulator.store import tables as t

log = logging.getLogger("webhook_sim.store")

Call = Callable[[AsyncConnection], Awaitable[Any]]
MAX_BATCH = 2000


def _update_delivery(columns: Sequence[str]) -> Any:
    """UPDATE of `columns` of the delivery whose id is the `_id` parameter."""
    return (
        update(t.deliveries)
        .where(t.deliveries.c.id == bindparam("_id"))
        .values({name: bindparam(name) for name in columns})
    )


# A delivery's state after an attempt (Job.update_row).
_DELIVERY_UPDATE = _update_delivery(
    (
        "status",
        "attempts",
        "retries",
        "sim_offset",
        "next_attempt_at",
        "finished_at",
        "last_status",
        "last_error",
        "faults",
    )
)
# An open Syncfy batch's row, rewritten as events join it (see delivery/batches.py).
_DELIVERY_REWRITE = _update_delivery([c.name for c in t.deliveries.c if c.name not in ("id", "created_at")])
_EVENT_INSERT = t.events.insert()
_DELIVERY_INSERT = t.deliveries.insert()
_ATTEMPT_INSERT = t.attempts.insert().values({c.name: bindparam(c.name) for c in t.attempts.c if c.name != "id"})
_COMPILED: dict[tuple[int, str], tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]] | None]] = {}


async def _executemany(conn: AsyncConnection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """`executemany` straight to the driver with a statement compiled once per dialect.

    SQLAlchemy's per-row parameter processing runs on the event loop; for thousands of rows a batch that
    stalled every other coroutine (late deliveries). Our rows are already plain driver values.
    """
    key = (id(stmt), conn.dialect.name)
    if key not in _COMPILED:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(rows[0]))
        order = compiled.positiontup if conn.dialect.positional else None
        _COMPILED[key] = (compiled.string, _tuple_getter(order) if order else None)
    sql, getter = _COMPILED[key]
    params = list(map(getter, rows)) if getter else rows
    await conn.exec_driver_sql(sql, params)


def _tuple_getter(names: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row dict to its parameter tuple. itemgetter does it in C: a third of the cost of a generator per row,
    which at four rows per delivery was a measurable part of persisting one."""
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return itemgetter(*names)


@dataclass
class _Batch:
    events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    rewrites: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    done: list[Callable[[BaseException | None], None]] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.events)
            + len(self.deliveries)
            + len(self.rewrites)
            + len(self.attempts)
            + len(self.updates)
            + len(self.calls)
        )


@dataclass(frozen=True)
class Committed:
    """What one committed transaction changed, for those watching (the control API's event stream)."""

    deliveries: frozenset[str]  # inserted, rewritten, updated, or given an attempt
    other: bool  # some other statement ran too (runs, subscriptions…)
    reset: bool = False  # everything was deleted


Listener = Callable[[Committed], None]


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times as much, twice per delivery
class Op:
    """One queued change: rows for a table, an arbitrary statement, and who to tell when it is committed."""

    events: tuple[dict[str, Any], ...] = ()
    deliveries: tuple[dict[str, Any], ...] = ()
    rewrites: tuple[dict[str, Any], ...] = ()
    attempts: tuple[dict[str, Any], ...] = ()
    updates: tuple[dict[str, Any], ...] = ()
    call: Call | None = None
    done: Callable[[BaseException | None], None] | None = None


class Writer:
    def __init__(self, engine: AsyncEngine, max_queue: int = 5000) -> None:
        self._engine = engine
        # Unbounded, so a callback can always queue a write; producers that can wait do so in `put`.
        self._queue: asyncio.Queue[Op | None] = asyncio.Queue()
        self._max_queue = max_queue
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None
        # Told after each commit, on the writer's task: they must be quick and must not raise.
        self.listeners: list[Listener] = []

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
            batch.rewrites.extend(op.rewrites)
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
                for stmt, rows in (
                    (_EVENT_INSERT, batch.events),
                    (_DELIVERY_INSERT, batch.deliveries),
                    (_DELIVERY_REWRITE, batch.rewrites),
                    (_ATTEMPT_INSERT, batch.attempts),
                    (_DELIVERY_UPDATE, batch.updates),
                ):
                    if rows:
                        await _executemany(conn, stmt, rows)
                for call in batch.calls:
                    await call(conn)
        except Exception as exc:  # a failed batch must not stop the writer; its owners are told
            log.exception("store write failed")
            error = exc
        for done in batch.done:
            done(error)
        if error is None and self.listeners:
            self._tell(batch)

    def _tell(self, batch: _Batch) -> None:
        ids = {row["id"] for row in batch.deliveries}
        ids.update(row["_id"] for rows in (batch.rewrites, batch.updates) for row in rows)
        ids.update(row["delivery_id"] for row in batch.attempts)
        self.announce(Committed(frozenset(ids), bool(batch.calls)))

    def announce(self, committed: Committed) -> None:
        """Tell the listeners of a change (the writer does after each commit)."""
        for listener in list(self.listeners):
            try:
                listener(committed)
            except Exception:  # a watcher's bug must not stop the writer
                log.exception("store listener failed")


async def _noop(conn: AsyncConnection) -> None:
    return None
