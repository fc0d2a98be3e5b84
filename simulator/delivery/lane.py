"""A lane: one subscription's queue of deliveries, sent in order with at most `max_in_flight` at once.

The store is the queue of record; a lane keeps a bounded window of it in memory. When the window is full
the lane "spills": new deliveries stay only in the store and are read back, in order, as room frees. Recovery
after a restart is the same path: a lane starts spilled and reads every active delivery back.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from simulator.delivery.job import Job
from simulator.models import Subscription
from simulator.models.enums import FINAL_DELIVERY_STATUSES
from simulator.store.failures import failure_reason

log = logging.getLogger("webhook_sim.delivery")

HIGH_WATER = 2000
LOW_WATER = 500
# A run that waits for room in a lane goes on once this many deliveries fit (a quarter of a small window).
ROOM = 64
TIMER_TICK = 0.001  # seconds: the event loop's timer resolution
CRASH_BACKOFF_MAX = 300.0  # seconds between tries of a job whose attempt keeps raising
Loader = Callable[[str, int, int], Awaitable[list[Job]]]
# Active deliveries at or before a position, but none of the given ids (see `Lane.catch_up`).
BehindLoader = Callable[[str, int, Callable[[], set[str]]], Awaitable[list[Job]]]
Attempter = Callable[["Lane", Job], Awaitable[None]]
# Set in `Job.extra` on a job a fault held back, as it is let go: it takes its place in the queue (`Lane.force`).
IN_PLACE = "in_place"


class Fence(Protocol):
    """Whether the right to send may have lapsed, and a wait until it is confirmed (a shared store's leases)."""

    def stale(self) -> bool: ...

    async def fresh(self) -> None: ...


FINAL = FINAL_DELIVERY_STATUSES


class Slots:
    """At most `size` attempts in flight: a slot is taken without waiting when one is free (what a timer's
    callback needs), or waited for. A new size applies at once, to the attempts already in flight too."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0
        self._freed = asyncio.Event()

    def take(self) -> bool:
        if self.busy >= self.size:
            return False
        self.busy += 1
        return True

    def give(self) -> None:
        self.busy -= 1
        self._freed.set()

    def resize(self, size: int) -> None:
        self.size = size
        self._freed.set()

    async def freed(self) -> None:
        self._freed.clear()
        await self._freed.wait()


class Lane:
    def __init__(
        self,
        sub: Subscription,
        attempt: Attempter,
        load: Loader,
        *,
        spilled: bool = False,
        behind: BehindLoader | None = None,
        fence: Fence | None = None,
    ) -> None:
        self.sub = sub
        self._attempt = attempt
        self._fence = fence  # on a shared store: the leases, which must still hold when an attempt starts
        self._load = load
        self._behind = behind
        self._heap: list[tuple[float, int, str, Job]] = []
        self._wake = asyncio.Event()
        self._slots = Slots(sub.max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self.held = 0  # jobs in memory: queued, in flight, or waiting for a retry
        # Their ids, until their last attempt is over (and, on a shared store, recorded): a job is taken once.
        self._ids: set[str] = set()
        self._catch_up = False  # a read of what other processes numbered behind `loaded_upto` is wanted
        # Several processes publish to the shared store lately (told each poll): a delivery may be numbered behind
        # what this lane has read. One alone numbers them in the order it commits them.
        self.several_publishers = False
        self._ended_meanwhile: set[str] | None = None  # ids whose last attempt ended during such a read
        self.incoming = 0  # jobs published for this lane whose commit is still in flight
        self.loaded_upto = 0  # highest delivery position ever taken into memory
        self._read_upto = 0  # highest position a read of the store returned
        self.spilled = spilled
        self._refused_upto = 0
        # Jobs offered while spilled (committed, so a read that starts later sees them; one under way may not),
        # unless more came than fit: then reads alone catch up.
        self._offered: dict[str, Job] = {}
        self._overflowed = False
        # Jobs a fault held back, handed over while spilled at positions the reads have not reached: taken as they
        # reach them (see `force`).
        self._waiting: dict[str, Job] = {}
        self._failed_reads = 0
        self._closing = False
        self.removed = False  # closed because its subscription was deleted: attempts cut short end the delivery
        self._task: asyncio.Task[None] | None = None
        self._reading = False  # a read of the store is under way
        self._read_timer: asyncio.TimerHandle | None = None

    # -- feeding ------------------------------------------------------------------------------------------

    def offer(self, job: Job) -> bool:
        """Take a newly committed job into memory, or leave it in the store when the window is full."""
        if job.n <= self._read_upto:
            if job.id not in self._ids and self.several_publishers:
                # Numbered behind other processes' rows this lane has read, it may have been committed after that
                # read: taken for read, it waited for the next catch-up (a second), and the run's next event,
                # numbered past them, went first. The store knows whether a read took it (and it ended).
                self.catch_up()
            return True  # a read of the store took it already (its commit was announced after the read saw it)
        if self.spilled or self.held >= HIGH_WATER:
            self.spilled = True
            self._refused_upto = max(self._refused_upto, job.n)
            if self.held < HIGH_WATER and len(self._offered) < LOW_WATER:
                self._offered[job.id] = job  # a read under way may not see it: kept for when that read ends
            else:
                self._overflowed = True
            return False
        self._take(job)
        return True

    @property
    def closing(self) -> bool:
        """Closed, or closing: its attempts cut short from now on are this process's last of them."""
        return self._closing

    @property
    def full(self) -> bool:
        """The window has no room for what is published next."""
        return self.held + self.incoming >= HIGH_WATER

    @property
    def roomy(self) -> bool:
        """The window has room for a run to go on publishing (see `DeliveryEngine._wait_for_room`)."""
        return HIGH_WATER - self.held - self.incoming >= min(ROOM, HIGH_WATER // 4)

    @property
    def _ordered(self) -> bool:
        """Its deliveries start in event order: one at a time, or held behind a retry (`strict_order`)."""
        return self.sub.strict_order or self.sub.max_in_flight == 1

    def force(self, job: Job) -> None:
        """Take a job regardless of the window: a redelivery the store order has already passed, or one a fault
        (`reorder`, `burst`) held back and lets go now (`IN_PLACE`). The latter keeps its place: while the lane reads
        its backlog back, one at a position the reads have not reached waits for them. Taken at once, it went ahead
        of deliveries planned before it that were still in the store, and the next read went on from past it: those
        waited for a restart (on a shared store, for a sweep)."""
        in_place = job.extra.pop(IN_PLACE, False)
        if in_place and self.spilled and job.n > self.loaded_upto:
            self._waiting[job.id] = job
            return
        self._take(job)

    def poll(self, *, sweep: bool) -> None:
        """Read the store for what other processes committed (a shared store): what comes after the last read,
        or, with `sweep`, everything active (the lane holds nothing, so nothing read can be a duplicate)."""
        if self.held >= LOW_WATER:
            return
        if sweep:
            self.loaded_upto = self._refused_upto = 0
        self.spilled = True
        self._wake.set()

    def catch_up(self) -> None:
        """Read, once, the deliveries other processes committed at positions this lane has read past (a shared
        store: each publishing process numbers its own). Without it they waited until the lane had nothing else
        to send, which on a busy subscription is the end of the longest run."""
        if self._behind is not None and not self._catch_up:
            self._catch_up = True
            self._wake.set()

    def _take(self, job: Job) -> None:
        if job.id in self._ids:
            return  # taken already, by another read or as it was committed
        self._ids.add(job.id)
        self.held += 1
        self.loaded_upto = max(self.loaded_upto, job.n)
        self._push(job)

    def _push(self, job: Job) -> None:
        # In strict order the lowest position always goes first, retry or not; otherwise the earliest due. Then
        # the id: two processes publishing at once can give two deliveries one position, and a tie left to the
        # jobs themselves raised TypeError (jobs do not compare), which ended the lane with its deliveries.
        key = (float(job.n), job.n) if self.sub.strict_order else (job.due, job.n)
        heapq.heappush(self._heap, (key[0], key[1], job.id, job))
        self._wake.set()
        if self._reading:
            self._meanwhile()

    def hasten(self, delivery_id: str) -> Job | None:
        """Make a job that waits in the queue for its next attempt due now (a resend asked for while it waits for
        a retry); the job, or None when it is not waiting here (its attempt under way, or not read from the
        store)."""
        for i, entry in enumerate(self._heap):
            if entry[2] == delivery_id:
                job = entry[-1]
                self._heap.pop(i)
                heapq.heapify(self._heap)
                job.due = time.time()
                self._push(job)
                return job
        return None

    def sending(self, delivery_id: str) -> bool:
        """Whether an attempt at the delivery is under way: taken by the lane, and not in its queue."""
        return delivery_id in self._ids and all(entry[2] != delivery_id for entry in self._heap)

    def requeue(self, job: Job) -> None:
        """Put back a job whose attempt failed; it goes again at `job.due`."""
        self._push(job)

    def release(self, job: Job) -> None:
        """A job reached a final state and leaves memory."""
        self.held -= 1
        self._wake.set()

    def update(self, sub: Subscription) -> None:
        order_changed = sub.strict_order != self.sub.strict_order
        self._slots.resize(sub.max_in_flight)
        self.sub = sub
        if order_changed:
            jobs = [job for *_, job in self._heap]
            self._heap.clear()
            for job in jobs:
                self._push(job)
        self._wake.set()

    # -- running ------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"lane-{self.sub.id}")
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A lane's task ends only when it is closed: anything else is a fault, said at once (not when the task is
        collected), so that deliveries held by a lane that stopped never wait unexplained."""
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("the lane of %s stopped: %r", self.sub.id, error, exc_info=error)

    async def close(self, grace: float) -> None:
        """Stop starting attempts; let those in flight finish for up to `grace` seconds."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._in_flight:
            _, pending = await asyncio.wait(self._in_flight, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self) -> None:
        while not self._closing:
            if self._catch_up:
                await self._read_behind()
            if self.spilled and self.held < LOW_WATER:
                if not await self._reload():
                    continue
                if self.spilled and not self._heap:
                    # Deliveries were refused while the read ran and are not in it: read again (after the
                    # pause `_reload` took) rather than sleep until a wake-up that will never come.
                    continue
            if not self.sub.enabled or not self._heap:
                await self._sleep(None)
                continue
            due = self._heap[0][-1].due
            wait = due - time.time()
            if wait > 0:
                await self._sleep(wait, head_due=True)
                continue
            if not self._slots.take():
                await self._slots.freed()  # then everything above again: the head may have changed meanwhile
                continue
            self._start(heapq.heappop(self._heap)[-1])

    def _start(self, job: Job) -> None:
        task = asyncio.create_task(self._send(job))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    def _fall_due(self) -> None:
        """The head falls due: its attempt starts from the timer itself when nothing the lane's own turn checks
        first stands in the way. Waking the lane's task to start it cost a turn of the loop more, and under load
        each turn waits behind everything else ready (fifty readers' steps): deliveries went out late by it."""
        self._wake.set()  # the lane's task looks at the next head
        if self._closing or not self.sub.enabled or (self.spilled and self.held < LOW_WATER):
            return
        self._start_due()

    def _start_due(self) -> None:
        """Start the heads that are due, while a slot is free (in event order, after a catch-up asked for: what it
        reads may come first)."""
        if self._catch_up and self._ordered:
            return  # the lane's task reads it first, then starts them
        now = time.time()
        while self._heap and self._heap[0][-1].due <= now and self._slots.take():
            self._start(heapq.heappop(self._heap)[-1])

    async def _send(self, job: Job) -> None:
        try:
            if self._fence is not None and self._fence.stale():
                await self._fence.fresh()
                if self._closing:  # the lease went to another process meanwhile: the job is its to send
                    return
            await self._attempt(self, job)
        except Exception:
            # The attempter records every failed attempt itself, so this is a bug outside the attempt (rendering,
            # recording). The lane survives it and tries the job again, later each time: a lasting fault is
            # logged at a slowing pace, never a busy loop.
            crashes = job.extra["crashes"] = job.extra.get("crashes", 0) + 1
            log.exception("attempt of %s could not be made or recorded (%d times)", job.id, crashes)
            job.due = time.time() + min(CRASH_BACKOFF_MAX, 2.0 ** (crashes - 1))
            self.requeue(job)
        finally:
            if job.status in FINAL:
                self._ids.discard(job.id)
                if self._ended_meanwhile is not None:
                    self._ended_meanwhile.add(job.id)
            self._slots.give()
            if self._reading:
                self._meanwhile()

    async def _sleep(self, timeout: float | None, *, head_due: bool = False) -> None:
        """Until woken, or `timeout` seconds. A timer that sets the wake-up, not `wait_for`: that wraps the wait in a
        task of its own, and a timeout then takes three turns of the event loop before the lane runs again, each
        one behind whatever else is queued (a delivery falling due was late by all three). With `head_due` the
        timer starts the head's attempt itself (see `_fall_due`)."""
        self._wake.clear()
        if timeout is None:
            await self._wake.wait()
            return
        if head_due:
            # The loop's timers tick in whole milliseconds of a clock read at the start of its turn, so a timer
            # may fire up to a millisecond early; one that fired early found its head not yet due and cost two
            # turns more.
            timer = asyncio.get_running_loop().call_later(timeout + TIMER_TICK, self._fall_due)
        else:
            timer = asyncio.get_running_loop().call_later(timeout, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()

    def _meanwhile(self) -> None:
        """While the lane reads the store, one that sends by due time (not `strict_order`) goes on sending what it
        holds as it falls due, from a timer: a read takes tens of ms on a busy store, and every delivery falling
        due meanwhile waited for it. In strict order a read may bring an earlier position, which must go first."""
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        if not self._reading or self.sub.strict_order or self._closing or not self.sub.enabled:
            return
        self._start_due()
        if self._heap and self._slots.busy < self._slots.size:  # else a slot given back calls this again
            wait = self._heap[0][-1].due - time.time() + TIMER_TICK
            self._read_timer = asyncio.get_running_loop().call_later(wait, self._meanwhile)

    async def _read_behind(self) -> None:
        """See `catch_up`. What the lane holds is left out of the read, and so is what ended during it (its
        record is committed, but the read may have seen it before) and what waits in `_offered` or `_waiting`
        (taken when the lane's reads catch up: taken here too, it could go twice)."""
        assert self._behind is not None
        self._catch_up = False
        ended = self._ended_meanwhile = set()
        try:
            jobs = await self._behind(
                self.sub.id, self.loaded_upto, lambda: self._ids | ended | set(self._offered) | set(self._waiting)
            )
        except Exception as exc:  # the store is restarting: the next round asks again
            log.warning("lane %s cannot read the store (%s): trying again", self.sub.id, failure_reason(exc))
            return
        finally:
            self._ended_meanwhile = None
        for job in jobs:
            if job.id not in ended:
                self._take(job)

    async def _reload(self) -> bool:
        """Read the next page of the store; False when the read failed (and was waited out)."""
        limit = HIGH_WATER - self.held
        self._reading = True
        self._meanwhile()
        try:
            jobs = await self._load(self.sub.id, self.loaded_upto, limit)
        except Exception as exc:  # the store is down or restarting: its rows are safe, read them later
            self._failed_reads += 1
            log.warning("lane %s cannot read the store (%s): trying again", self.sub.id, failure_reason(exc))
            await self._sleep(min(5.0, 0.1 * 2 ** min(self._failed_reads, 6)))
            return False
        finally:
            self._reading = False
            self._meanwhile()
        self._failed_reads = 0
        if jobs and self._ordered and self.several_publishers and self._behind is not None:
            # In event order: what a publisher numbered behind this lane's position, committed before these rows
            # (a process's rows commit in its order), goes ahead of them. Left to the next catch-up (a second),
            # a run's event numbered before another process's rows went after its next one, numbered past them.
            await self._read_behind()
        for job in jobs:
            self._read_upto = max(self._read_upto, job.n)
            self._offered.pop(job.id, None)
            self._waiting.pop(job.id, None)  # read here once let go in the store: taken as read
            self._take(job)
        if len(jobs) < limit and not self._overflowed:
            # Caught up with what was committed when the read began; what was offered since is in `_offered`.
            # Taking it ends the spill even while deliveries keep coming (reads alone would chase them forever).
            for job in sorted(self._offered.values(), key=lambda j: j.n):
                self._read_upto = max(self._read_upto, job.n)
                self._take(job)
            self._offered.clear()
            self._end_spill()
        elif len(jobs) < limit and self._refused_upto <= self.loaded_upto:
            self._offered.clear()
            self._overflowed = False
            self._end_spill()
        else:
            # The store still holds more: what waits at positions this read reached goes with it (a held delivery's
            # row is not read while a fault holds it, nor, just let go, by the read after: `Holds.loaded`).
            reached = max((job.n for job in jobs), default=self.loaded_upto)
            for job in [job for job in self._waiting.values() if job.n <= reached]:
                del self._waiting[job.id]
                self._take(job)
            if not jobs:
                await self._sleep(0.05)  # refused jobs not visible yet: their commit is in flight
        return True

    def _end_spill(self) -> None:
        """The reads caught up: what waited for them is taken, and the lane takes new jobs as they come again."""
        for job in self._waiting.values():
            self._take(job)
        self._waiting.clear()
        self.spilled = False
