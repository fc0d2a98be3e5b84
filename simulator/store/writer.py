"""The single writer: every change to the store goes through one connection, in batched transactions.

SQLite allows one writer at a time; funnelling writes through one task avoids lock errors and turns thousands
of small writes (deliveries, attempts, status changes) into a few `executemany` calls per transaction. On
PostgreSQL a second writer beside it takes the records of sending (see `Store._record_beside`).

A queued change is a fact someone acted on (an attempt was made, a delivery was sent), so the writer never drops
one. A failure the store can get past (the disk is full, the file is locked, the connection dropped) keeps the
batch and tries it again, with backoff, on a fresh connection, until it commits; owners are told only then.
Meanwhile `unavailable` says why, the core refuses new work with 503, and producers wait in `put` (the queue is
bounded), so memory stays bounded too. A permanent failure (a constraint, a bug) fails only the changes that
caused it: the batch is retried change by change and each owner is told its own outcome; rows without an owner
are counted in the log, never lost silently. Closing gives up on a store that never recovers after a grace
period and logs, at ERROR, what could not be written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from simulator.errors import StoreUnavailable
from simulator.store import direct, postgres
from simulator.store.failures import SQLITE_FULL, SQLITE_IOERR, failure_reason, sqlite_code, transient
from simulator.store.rows_process import RowsProcess
from simulator.store.slow import SLOW, SlowCommits
from simulator.store.transaction import inserts
from simulator.store.transaction import transaction as _transaction
from simulator.waiting import set_within

log = logging.getLogger("webhook_sim.store")

Call = Callable[[AsyncConnection], Awaitable[Any]]
Done = Callable[[BaseException | None], None]
MAX_BATCH = 2000
# Rows queued before producers that can wait do (`put`): what bounds the writer's memory. Counted in rows, not
# changes: a change of a run at speed 0 carries up to 64 events and their deliveries, and a publisher with no lane
# to wait for (a server that leaves sending to workers) grew to 480 MB with 5,000 such changes queued.
MAX_QUEUE_ROWS = 10_000
# How long a patient change may wait for others to share its transaction: a run's events, made ahead of time,
# and attempt records that nothing waits for. One commit for several costs a fraction of one each.
LINGER = 0.01
RETRY_FIRST, RETRY_MAX = 0.1, 5.0  # seconds between tries of a batch the store could not take: doubling
CLOSE_GRACE = 5.0  # how long closing waits for a failing store before giving up on what it holds
# While a timed run plays (or a timed change came within TIMED_RECENT s), others wait once this many rows are
# queued: its rows, made 0.2 s ahead, went late behind a speed-0 run's backlog (commits of 2,000 rows, 0.2-0.3 s).
# Rows, not changes: a change of a run at speed 0 carries up to 64 events and their deliveries, and 256 such
# changes queued made a timed run beside it 0.2-0.3 s late again.
TIMED_ROWS = 512
TIMED_RECENT = 1.0
_KINDS = ("events", "deliveries", "rewrites", "attempts", "updates", "states", "calls")


@dataclass
class Batch:
    events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    rewrites: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    done: list[Done] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)  # what it was made of: a permanent failure is retried op by op
    # A try of it lost its connection as it committed: the server may have committed it (see `Writer._landed`).
    unsure: bool = False

    def __len__(self) -> int:
        return (
            len(self.events)
            + len(self.deliveries)
            + len(self.rewrites)
            + len(self.attempts)
            + len(self.updates)
            + len(self.states)
            + len(self.calls)
        )

    def add(self, op: Op) -> None:
        self.events.extend(op.events)
        self.deliveries.extend(op.deliveries)
        self.rewrites.extend(op.rewrites)
        self.attempts.extend(op.attempts)
        self.updates.extend(op.updates)
        self.states.extend(op.states)
        if op.call is not None:
            self.calls.append(op.call)
        if op.done is not None:
            self.done.append(op.done)
        self.ops.append(op)

    def halves(self) -> list[Batch]:
        """This batch's ops in two batches, in order."""
        middle = len(self.ops) // 2
        out = [Batch(unsure=self.unsure), Batch(unsure=self.unsure)]
        for i, op in enumerate(self.ops):
            out[i >= middle].add(op)
        return out

    def unowned(self) -> Counter[str]:
        """The rows and statements of this batch that no owner hears about, by kind."""
        counts: Counter[str] = Counter()
        for op in self.ops:
            if op.done is None:
                for kind in _KINDS[:-1]:
                    counts[kind] += len(getattr(op, kind))
                counts["calls"] += op.call is not None
        return +counts


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
    # A subscription's delivery-driven state (status, consecutive dead), one per dead delivery: rows, not a
    # statement, because a batch with a statement in it is written on this process's thread, not in the rows
    # process, and failing receivers made one every few rows: commits of 2,000 rows took 5 s.
    states: tuple[dict[str, Any], ...] = ()
    call: Call | None = None
    done: Done | None = None
    # Nothing waits on it before LINGER has passed: the writer may hold it back for company (see `_gather`).
    patient: bool = False
    timed: bool = False  # it carries a delivery of a timed run (speed > 0): a slow commit makes such ones late


class Writer:
    def __init__(self, engine: AsyncEngine, max_rows: int = MAX_QUEUE_ROWS) -> None:
        self._engine = engine
        # Unbounded, so a callback can always queue a write; producers that can wait do so in `put`.
        self._queue: asyncio.Queue[Op | None] = asyncio.Queue()
        self._max_rows = max_rows
        self._room = asyncio.Event()
        self._room.set()
        self._hurry = asyncio.Event()  # a queued change must not wait for company
        self._task: asyncio.Task[None] | None = None
        # Told after each commit, on the writer's task: they must be quick and must not raise.
        self.listeners: list[Listener] = []
        # Who this process is to the others on a shared store (the payload of its notifications).
        self.sender = ""
        # A writer on another connection of the same store (the records of sending, on a shared store): waiting
        # for everything queued here waits for it too, and it fails or is given up on with this one.
        self.beside: Writer | None = None
        # Why writes fail, while they do (None when the store takes them): the core refuses new work meanwhile.
        self.unavailable: str | None = None
        # The latest failure's cause, kept once writes go again: a piece of a split batch may commit (the store
        # "writes again") while the rest never does, and what was not written was told with a cause of None.
        self._cause: str | None = None
        # Why a SQLite database's file is no longer the one opened (see `StoreLock.replaced`), checked before each
        # commit: what it would write goes nowhere, so it waits as for a full disk.
        self.check_file: Callable[[], str | None] | None = None
        # What the warning of a store that cannot write adds: what this process refuses meanwhile (a worker,
        # which takes no runs, events or subscriptions, says nothing).
        self.refused = "; new runs, events and subscriptions are refused"
        self._conn: AsyncConnection | None = None
        self._failures = 0  # failed tries since the last commit
        self._failing_since = 0.0
        self._give_up_at: float | None = None  # set by closing(): a failing store is given up on after this
        self._abandoned = False
        self._unwritten: Counter[str] = Counter()  # what was given up on, by kind, for the closing log line
        self._slow = SlowCommits()
        self._timed_at = -TIMED_RECENT  # when a change of a timed run was last queued (monotonic)
        self._timed_runs = 0  # timed runs playing: between their events too, the queue stays short
        self._rows = 0  # rows (and statements) queued, not yet taken into a batch
        # On a SQLite file: the process that writes rows once the store is busy (see `rows_process`).
        self.rows_process: RowsProcess | None = None
        # The records of sending on a shared store: a delivery's changes apply only under this sender's lease.
        self.fenced = False
        # Called before a barrier and at closing: those who gather rows for a turn of the loop give them now.
        self.before_barrier: list[Callable[[], None]] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="store-writer")

    async def put(self, op: Op) -> None:
        """Queue `op`; waits while the queue is long, which is how producers feel the store's pace. While a
        timed run writes, the others feel it sooner (TIMED_ROWS), so its changes find a short queue. A statement
        (`submit`: a run, a subscription, a twin's change) is one row someone is waiting on, and a run at a high
        speed keeps the queue above TIMED_ROWS for as long as it plays: held to it, POST /runs went unanswered
        and schedules could not start their runs. Only the bound on memory holds it back."""
        while self._waits(op.timed or op.call is not None):
            self._room.clear()
            await self._room.wait()
        self.put_nowait(op)

    def _waits(self, timed: bool) -> bool:
        if self._rows >= self._max_rows:
            return True
        if timed or (not self._timed_runs and time.monotonic() - self._timed_at > TIMED_RECENT):
            return False
        return self._rows >= TIMED_ROWS

    @property
    def crowded(self) -> bool:
        """A change that is not a timed run's would wait in `put` now (what gathers rows gives them now)."""
        return self._waits(False)

    @contextlib.contextmanager
    def timed_run(self, timed: bool = True) -> Iterator[None]:
        """A timed run plays inside: a run whose events are minutes apart finds a short queue for each."""
        self._timed_runs += timed
        try:
            yield
        finally:
            self._timed_runs -= timed

    def put_nowait(self, op: Op) -> None:
        """Queue `op` without waiting (from callbacks: a write is never dropped)."""
        if op.timed:
            self._timed_at = time.monotonic()
        self._rows += _rows(op)
        self._queue.put_nowait(op)
        if not op.patient:
            self._hurry.set()

    async def submit(self, op_call: Call) -> Any:
        """Run `op_call` in the writer's next transaction and return its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        result: list[Any] = []

        async def call(conn: AsyncConnection) -> None:
            # Replaced, not appended: a try that did not commit is run again.
            result[:] = [await op_call(conn)]

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
        """Wait until everything queued so far is settled: committed, or (a store that never recovered, given up
        on at closing) logged as unwritten. Another change's failure is its owner's to hear, not the caller's."""
        self._gathered()
        # Given up on at closing: everything before it is settled too, as the log says.
        with contextlib.suppress(StoreUnavailable):
            await self.submit(_noop)
        if self.beside is not None:
            await self.beside.barrier()

    def _gathered(self) -> None:
        for give in self.before_barrier:
            give()

    def check(self) -> None:
        """Raise `StoreUnavailable` (503) while writes fail: new work would only queue behind them."""
        if self.unavailable is not None:
            raise StoreUnavailable(f"the store cannot write: {self.unavailable}")
        if self.beside is not None:
            self.beside.check()

    def closing(self, grace: float = CLOSE_GRACE) -> None:
        """The process is stopping: while the store keeps failing, retry for `grace` more seconds, then give up on
        what is queued (owners told, the rest logged at ERROR), so a shutdown ends even if the disk never frees.
        A store that takes writes is not affected. An earlier deadline stands."""
        deadline = time.monotonic() + grace
        if self._give_up_at is None or deadline < self._give_up_at:
            self._give_up_at = deadline
        if self.rows_process is not None:
            self.rows_process.closing()
        if self.beside is not None:
            self.beside.closing(grace)

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """Write what is queued (giving up after `grace` seconds if the store keeps failing) and stop."""
        if self._task is None:
            return
        self.closing(grace)
        self._gathered()
        self._queue.put_nowait(None)
        self._hurry.set()
        await self._task
        self._task = None

    async def _run(self) -> None:
        try:
            while True:
                first = self._taken(await self._queue.get())
                if first is not None and first.patient:
                    await self._gather(first)
                batch, stop = self._drain(first)
                if self._queue.empty():
                    self._hurry.clear()  # else what is left may be in a hurry: the next batch goes at once
                if self._rows < self._max_rows:
                    self._room.set()
                if len(batch) or batch.done:
                    await self._commit(batch)
                if stop:
                    return
        finally:
            if self.rows_process is not None:
                await self.rows_process.close()
            await self._disconnect()
            if self._unwritten:
                log.error(
                    "store closed without writing %s: the store never took them (%s)",
                    _count(self._unwritten),
                    self._cause,
                )

    async def _gather(self, first: Op) -> None:
        """Wait up to LINGER for company for `first`, unless a change in a hurry is queued or a batch is full
        already."""
        if self._hurry.is_set() or _rows(first) + self._rows >= MAX_BATCH:
            return
        await set_within(self._hurry, LINGER)

    def _drain(self, first: Op | None) -> tuple[Batch, bool]:
        batch = Batch()
        op: Op | None = first
        while True:
            if op is None:
                return batch, True
            batch.add(op)
            if len(batch) >= MAX_BATCH or self._queue.empty():
                return batch, False
            op = self._taken(self._queue.get_nowait())

    def _taken(self, op: Op | None) -> Op | None:
        """`op`, taken off the queue: its rows no longer count as queued."""
        if op is not None:
            self._rows -= _rows(op)
        return op

    async def _commit(self, batch: Batch) -> None:
        """Commit `batch`, in order; on a failure, in halves down to single changes: a smaller transaction may fit
        where the whole did not (a disk with a little room), and a change the store refuses for good must not take
        the others with it. A single change that fails transiently is tried again with backoff until it commits
        (or, at closing, the store is given up on)."""
        parts = [batch]
        delay = RETRY_FIRST
        while parts:
            part = parts[0]
            seen = await self._landed(part) if part.unsure else False
            if seen is True:  # committed by the try whose answer was lost
                parts.pop(0)
                self._settle(part, None)
                continue
            error = seen if isinstance(seen, BaseException) else await self._try(part)
            if error is None:
                parts.pop(0)
                self._settle(part, None)
                delay = RETRY_FIRST
            elif transient(error) and (self._abandoned or self._past_grace()):
                self._abandoned = True
                parts.pop(0)
                self._settle(part, StoreUnavailable(f"the store cannot write: {self.unavailable}"))
            elif len(part.ops) > 1:
                parts[0:1] = part.halves()
            elif not transient(error):
                parts.pop(0)
                self._settle(part, error)
            else:
                await asyncio.sleep(self._pause(delay))
                delay = min(delay * 2, RETRY_MAX)

    async def _landed(self, batch: Batch) -> bool | BaseException:
        """For a batch a lost connection left unsure: whether its transaction is in the store, or the error met
        asking (the store still away). Written again as it was, a committed one was refused for good
        (`events_pkey`): a run lost its deliveries and failed, most of its events never made."""
        try:
            if self._conn is None:
                self._conn = await self._engine.connect()
            committed = await direct.landed(self._conn, inserts(batch))
            await self._conn.rollback()  # ends the read's implicit transaction
        except Exception as exc:
            if transient(exc):
                await self._disconnect(invalidate=True)
                self._failed(exc)
            return exc
        if committed:
            log.warning("a transaction whose commit lost its connection was committed: not written again")
            return True
        batch.unsure = False
        return False

    async def _try(self, batch: Batch) -> BaseException | None:
        """One attempt at committing `batch`: None once committed, else the error."""
        try:
            if self.check_file is not None and (gone := self.check_file()) is not None:
                raise FileNotFoundError(gone)
            if self._conn is None:
                self._conn = await self._engine.connect()
            began = time.monotonic()
            await _transaction(self._conn, batch, self.sender, self.rows_process, fenced=self.fenced)
            if (took := time.monotonic() - began) >= SLOW and any(op.timed for op in batch.ops):
                self._slow.note(took, len(batch))
        except Exception as exc:
            # A connection lost on PostgreSQL may have lost the answer to a COMMIT the server made.
            batch.unsure = batch.unsure or (
                postgres.is_postgresql(self._engine.dialect.name) and postgres.unreachable(exc)
            )
            if transient(exc):
                await self._disconnect(invalidate=True)  # the next try gets a fresh connection
                self._failed(exc)
                if sqlite_code(exc) in (SQLITE_FULL, SQLITE_IOERR):  # the WAL could not grow: let it be reused
                    await self._checkpoint()
            return exc
        if self.unavailable is not None:
            log.warning(
                "store writes again after %d failed tries in %.1f s; nothing was lost",
                self._failures,
                time.monotonic() - self._failing_since,
            )
            self.unavailable, self._failures = None, 0
        return None

    async def _checkpoint(self) -> None:
        """Let SQLite reuse its WAL. Committed pages stay in the WAL until a checkpoint, which runs only once the
        WAL passes 1,000 pages: on a disk that filled up first it never comes, and the WAL can only grow. A
        passive checkpoint (it never waits for readers) moves the pages into the database, after which the next
        transaction writes over the WAL from its start instead of needing new room."""
        try:
            self._conn = await self._engine.connect()
            await self._conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            await self._conn.commit()  # ends SQLAlchemy's implicit transaction: the next batch begins its own
        except Exception:  # the disk may have no room for the database to grow either: the next try tells
            await self._disconnect(invalidate=True)

    def _failed(self, exc: BaseException) -> None:
        reason = failure_reason(exc)
        if self._failures == 0:
            self._failing_since = time.monotonic()
        self._failures += 1
        if reason != self.unavailable:  # one line per cause, not one per try
            log.warning("store cannot write (%s): retrying until it can%s", reason, self.refused)
        self.unavailable = self._cause = reason

    def _past_grace(self) -> bool:
        return self._give_up_at is not None and time.monotonic() >= self._give_up_at

    def _pause(self, delay: float) -> float:
        """The backoff `delay`, cut short so a closing deadline is not overslept."""
        if self._give_up_at is None:
            return delay
        return max(0.0, min(delay, self._give_up_at - time.monotonic()))

    async def _disconnect(self, *, invalidate: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if invalidate:
                await conn.invalidate()  # never back into the pool: it may be the broken part
            await conn.close()
        except Exception:  # a connection that cannot even close is being dropped anyway
            log.debug("closing a failed store connection failed", exc_info=True)

    def _settle(self, batch: Batch, error: BaseException | None) -> None:
        """Tell the owners of `batch` how it ended; a failure is logged with what had no owner to hear of it."""
        for done in batch.done:
            done(error)
        if error is None:
            if self.listeners:
                self._tell(batch)
            return
        unowned = batch.unowned()
        if isinstance(error, StoreUnavailable):
            self._unwritten.update(unowned)
            self._unwritten["owned changes"] += len(batch.done)
            return
        log.error(
            "store write failed; %d owners told, lost without an owner: %s",
            len(batch.done),
            _count(unowned) or "nothing",
            exc_info=error,
        )

    def _tell(self, batch: Batch) -> None:
        ids = {row["id"] for row in batch.deliveries}
        ids.update(row["_id"] for rows in (batch.rewrites, batch.updates) for row in rows)
        ids.update(row["delivery_id"] for row in batch.attempts)
        self.announce(Committed(frozenset(ids), bool(batch.calls or batch.states)))

    def announce(self, committed: Committed) -> None:
        """Tell the listeners of a change (the writer does after each commit)."""
        for listener in list(self.listeners):
            try:
                listener(committed)
            except Exception:  # a watcher's bug must not stop the writer
                log.exception("store listener failed")


def _rows(op: Op) -> int:
    """The rows `op` writes, its statement counted as one (a change with neither still takes its place)."""
    n = len(op.events) + len(op.deliveries) + len(op.rewrites) + len(op.attempts) + len(op.updates) + len(op.states)
    return n + (op.call is not None) or 1


def _count(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)


async def _noop(conn: AsyncConnection) -> None:
    return None
