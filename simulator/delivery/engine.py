"""The delivery engine: persist each delivery before sending it, send it signed, retry it on the provider's
schedule (scaled by the run's speed; a receiver's Retry-After in real seconds), record every attempt, and resume
whatever was unfinished after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from simulator.delivery import reads
from simulator.delivery.batches import Batches
from simulator.delivery.gate import Gate
from simulator.delivery.gather import Chunk, Records
from simulator.delivery.hooks import BodyForm, FaultHooks
from simulator.delivery.job import Job, event_from_row, job_from_row
from simulator.delivery.lane import Lane
from simulator.delivery.outcomes import Outcomes
from simulator.delivery.publishing import Publishing
from simulator.delivery.sender import Sender
from simulator.delivery.shared import Sharing, settled_in_store
from simulator.ids import new_id
from simulator.models import Event, Subscription
from simulator.signing import SigningKey, default_key
from simulator.store import Store, codec, postgres
from simulator.store.leases import Leases
from simulator.store.writer import Op
from simulator.timeutil import DeliveryClock

log = logging.getLogger("webhook_sim.delivery")

# Deleted subscriptions remembered (see `subscription_removed`); ids are never reused, so the oldest can go.
REMOVED_KEPT = 100_000
# Deliveries read at once when many are sent again (a subscription's dead ones).
REDELIVER_PAGE = 500
# How often the lanes of ad-hoc targets with nothing left to send are stopped (see `_retire_idle_targets`).
IDLE_TARGETS_EVERY = 60.0


class DeliveryEngine(Publishing, Outcomes):
    def __init__(
        self,
        store: Store,
        *,
        key: SigningKey | None = None,
        faults: FaultHooks | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.store = store
        # On a shared store the engine sends only for the subscriptions it holds a lease on (see `Sharing`).
        self.leases = leases
        self.me = leases.id if leases is not None else new_id("proc")  # marks what this process holds back
        store.writer.sender = store.records.sender = self.me
        self._sharing: Sharing | None = None
        self._retiring: asyncio.Task[None] | None = None
        # Called after processes that stopped beating were reaped (their runs are over).
        self.reaped: list[Callable[[], Awaitable[None]]] = []
        # Called when another process says a run waits for a player or a cancel was asked (shared store).
        self.runs_told: list[Callable[[], None]] = []
        self.key = key or default_key()
        self.faults = faults or FaultHooks()
        self.sender = Sender()
        self._lanes: dict[str, Lane] = {}
        # Subscriptions deleted in this process (insertion-ordered, bounded): no lane starts for one again.
        self._removed: dict[str, None] = {}
        self._n = 0
        self._numbered_runs: set[str] = set()  # runs whose first delivery this process numbered (shared store)
        self._batches = Batches()
        self._outstanding: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        # Rows given to the writer once a turn of the loop (see `gather`); a barrier on the store gives them first.
        self._chunk = Chunk(self._write_chunk)
        self._records = Records(store.writer)
        store.writer.before_barrier += [self._write_chunk, self._records.write]
        # Set on every change a waiter may care about; waiters clear it, re-check, and wait again. (A Condition
        # would need a task per notification: one per attempt, measurable at thousands per second.)
        self._changed = asyncio.Event()
        self._room = asyncio.Event()
        # Runs with deliveries the store refused for good: how many, and why (see `Publishing._refused`).
        self.refused: dict[str | None, tuple[int, str]] = {}
        self._delivered_at = DeliveryClock()
        # Told of every event as it is published, with its store key (the provider API twins index them).
        self.observers: list[Callable[[Event, str], None]] = []
        # Asked, in order, for a subscription's own form of each attempt's body (see `hooks.BodyForm`).
        self.body_forms: list[BodyForm] = []
        # The events of runs the API twins do not show until one of their deliveries starts (`gate`).
        self.gate = Gate()

    # -- life cycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start sending, and resume every delivery the store still holds as active."""
        await self.sender.start()
        self._n = await self.store.max_delivery_n()
        if self.leases is not None:
            self._sharing = Sharing(self, self.leases)
            await self._sharing.start()
            return
        await self.store.release_holds()  # what an earlier process held back is nobody's any more
        for sub_id in await self.store.active_subscription_ids():
            sub = await self.store.get_subscription(sub_id)
            if sub is not None:
                self._lane(sub, spilled=True)
        self._retiring = asyncio.create_task(self._retire_idle_targets(), name="retire-idle-targets")

    async def _retire_idle_targets(self) -> None:
        """Now and then, stop the lanes of ad-hoc targets (`POST /events` or `trigger` with a `target`) that have
        nothing left to send: a run's is stopped as it settles, but an event's was kept for good, a task and its
        memory per target URL and secret (`trigger --target` makes a secret per call) in a long-running server.
        The next event there starts the lane again. (On a shared store the leases decide which lanes run.)"""
        while True:
            await asyncio.sleep(IDLE_TARGETS_EVERY)
            for sub_id, lane in list(self._lanes.items()):
                if lane.sub.ephemeral:
                    await self.retire(sub_id)

    async def close(self, grace: float = 5.0) -> None:
        """Persist partial batches, let in-flight attempts finish (up to `grace` s), stop, and flush writes.
        Deliveries not yet sent stay in the store for the next start."""
        await self.flush()
        if self._retiring is not None:
            self._retiring.cancel()
        if self._sharing is not None:
            await self._sharing.closing()  # the lease rounds go on renewing while the lanes finish
        self.stopping = True  # an attempt cut short from here on is recorded as interrupted (see `Outcomes`)
        await asyncio.gather(*(lane.close(grace) for lane in self._lanes.values()))
        self._lanes.clear()
        if self._sharing is not None:
            await self._sharing.stop()
        await self.store.writer.barrier()
        if self._sharing is not None:
            await self._sharing.leave()
        await self.sender.close()

    async def drop_lane(self, sub_id: str, grace: float) -> None:
        """Stop sending for a subscription whose lease this process gives up or has lost."""
        lane = self._lanes.pop(sub_id, None)
        if lane is not None:
            # Another process sends what it held from here: the twins here would not hear its deliveries start.
            self.gate.forget()
            await lane.close(grace)

    def take_lane(self, sub: Subscription) -> None:
        """Start sending for a subscription whose lease this process took: its deliveries are in the store."""
        self._lane(sub, spilled=True)

    async def lease_new(self, sub: Subscription) -> None:
        """Send from the start for a subscription made here for a run this process plays (its `target`), its lease
        taken at once: a run's events are held from the twins only for subscriptions sent from here
        (`Publishing._hold`), and a lease round claimed a new one up to a second later, after the first events."""
        if self.leases is None or not self.leases.sends or self.stopping or sub.id in self._lanes:
            return
        if await self.leases.take(sub.id):
            self.take_lane(sub)

    def number_after(self, n: int) -> None:
        """Give the next deliveries positions after `n` (the highest another process gave, on a shared store)."""
        self._n = max(self._n, n)

    async def _number_after_the_store(self, run_id: str | None) -> None:
        """On a shared store, number an ad-hoc event, and a run's first, after every position committed so far.
        Each process numbers its own deliveries and catches up with the others once a round: meanwhile an event
        made through one server after another server's had answered got the lower position, and a strict
        subscription received them the wrong way round. One indexed query, for what a caller waits on anyway; a
        run's later events keep its own order."""
        if run_id is not None:
            if len(self._numbered_runs) > 10_000:
                self._numbered_runs.clear()  # bounded: a run numbered again only catches up again
            self._numbered_runs.add(run_id)
        # Through a restart of the store: a run's first event, made as PostgreSQL went down, failed its run outright.
        self.number_after(await postgres.read_through_restarts(self.store.max_delivery_n))

    def holds(self, run_id: str | None) -> bool:
        """Whether this process still collects a Syncfy batch of the run."""
        return self._batches.holds(run_id)

    @property
    def lanes(self) -> dict[str, Lane]:
        return self._lanes

    def _lane(self, sub: Subscription, *, spilled: bool = False) -> Lane | None:
        """The subscription's lane, started if it has none; None for a deleted one. A caller may hold the record
        from before the deletion (a publish that matched it, then waited for the store): a lane started for it
        then sent to a subscription whose DELETE had answered."""
        if sub.id in self._removed:
            return None
        lane = self._lanes.get(sub.id)
        if lane is None:
            behind = self._load_behind if self.leases is not None else None
            lane = self._lanes[sub.id] = Lane(
                sub, self._attempt, self._load, spilled=spilled, behind=behind, fence=self._sharing
            )
            lane.start()
        return lane

    def subscription_changed(self, sub: Subscription) -> None:
        """Tell the engine a subscription was edited (re-enabled, new URL, new limits…)."""
        self.subscriptions_version += 1
        lane = self._lanes.get(sub.id)
        if lane is not None:
            lane.update(sub)
            self._notify()
        elif sub.enabled and self.leases is None:
            self._lane(sub, spilled=True)  # it may have deliveries waiting in the store
        if released := self.faults.refaulted(sub):
            self._hand_over(released)
            self._notify()

    async def subscription_removed(self, sub_id: str) -> None:
        # First, before anything awaits: from here no lane starts for it and what is published to it ends dead.
        self._removed[sub_id] = None
        if len(self._removed) > REMOVED_KEPT:
            del self._removed[next(iter(self._removed))]
        self.subscriptions_version += 1
        lane = self._lanes.pop(sub_id, None)
        if lane is not None:
            lane.removed = True
            await lane.close(grace=0)
        self._delivered_at.forget(sub_id)
        self.faults.forget(sub_id)
        self._batches.forget(sub_id)
        if self._sharing is not None:
            self._sharing.sweep_later(sub_id)
        self._notify()

    async def retire(self, sub_id: str) -> None:
        """Stop the lane of a subscription with nothing left to send (a run's ad-hoc target once the run has
        settled), so lanes do not pile up; a redelivery starts it again."""
        lane = self._lanes.get(sub_id)
        if lane is None or lane.held or lane.incoming or lane.spilled:
            return
        del self._lanes[sub_id]
        await lane.close(grace=0)

    async def release(self, run_id: str | None = None, *, ended: bool = True) -> None:
        """Send what a run (or every run, when None) still holds back: its partial Syncfy batches and the
        deliveries the `reorder` and `burst` faults hold. A run calls this once it has emitted its last event.
        `ended` False: the run goes on in another process, whose later deliveries fill the windows cut here."""
        await self.flush(run_id)
        await self.store.writer.barrier()  # held deliveries are let go only once committed
        self._hand_over(self.faults.release(run_id, ended=ended))
        self._notify()

    def _dispatch(self, job: Job) -> None:
        lane = self._lanes.get(job.subscription_id)
        if lane is None:
            return  # the subscription was removed meanwhile
        lane.offer(job)

    def _hand_over(self, jobs: list[Job]) -> None:
        """Give a lane jobs a fault held back: its reads of the store skipped them, so it takes them as they are.
        On a shared store the lane may be another process's: the rows are let go there, each at a new position
        after what that lane has read, in the order they go (as a closing batch moves). On a store of its own
        they are let go where they stand, due when they go: a restart reads them in that order. Left marked
        held, a restart took every one for a hold cut short, and sent the windows that had filled in their
        arrival order, not the order the seed drew."""
        if self.leases is not None:
            self._let_go_at_the_end(jobs)
        elif jobs:
            self.store.let_go([_moved(job) for job in jobs])
        for job in jobs:
            job.held_by = None
            lane = self._lanes.get(job.subscription_id)
            if lane is not None:
                lane.force(job)

    def _let_go_at_the_end(self, jobs: list[Job]) -> None:
        """Give `jobs` new positions after everything made so far, in order, and queue them as free to send: a
        lane in another process has read past their old ones, and its next read reaches these."""
        if not jobs:
            return
        self._write_chunk()
        for job in jobs:
            self._n += 1
            job.n = self._n
        self.store.let_go([_moved(job) for job in jobs])

    async def _load(self, sub_id: str, after_n: int, limit: int) -> list[Job]:
        return await reads.page(self.store, self._batches, self.faults, sub_id, after_n, limit)

    async def _load_behind(self, sub_id: str, upto_n: int, held: Callable[[], set[str]]) -> list[Job]:
        return await reads.behind(self.store, self._batches, self.faults, sub_id, upto_n, held)

    def _finish(self, lane: Lane, job: Job) -> None:
        lane.release(job)
        self._outstanding[job.run_id][job.subscription_id] -= 1
        if lane.roomy:
            self._room.set()
        self._notify()

    # -- waiting and redelivery -------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()

    def is_settled(self, run_id: str | None) -> bool:
        """Every delivery of the run is final, or waits on a subscription that is disabled."""
        if self._batches.holds(run_id):
            return False
        for sub_id, count in self._outstanding.get(run_id, {}).items():
            lane = self._lanes.get(sub_id)
            if count > 0 and lane is not None and lane.sub.enabled:
                return False
        return True

    async def settled(self, run_id: str | None, timeout: float | None = None, *, ask_store: bool = False) -> bool:
        """Wait until the run's deliveries are settled (see `is_settled`); False on timeout. On a shared store
        other processes may be sending them, and with `ask_store` (a resumed run) another process made some: the
        store says when none is left."""
        if self._sharing is not None or ask_store:
            return await settled_in_store(self, run_id, timeout)

        async def wait() -> None:
            while True:
                self._changed.clear()  # before the check, so a change after it is never missed
                if self.is_settled(run_id):
                    return
                await self._changed.wait()

        try:
            async with asyncio.timeout(timeout):  # not wait_for, which may swallow a cancellation (`waiting`)
                await wait()
        except TimeoutError:
            return False
        await self.store.writer.barrier()  # settled means recorded too: readers see every attempt
        return True

    async def redeliver(self, delivery_ids: list[str]) -> list[str]:
        """Send deliveries again, in the order given, with a fresh retry budget (same id, same body); one waiting
        for its next retry has that attempt now instead (see `_hasten`). The ones sent again: not those being
        delivered, which cannot be. Read REDELIVER_PAGE at a time: one read each took 79 s for 11,000."""
        redone: list[str] = []
        subs: dict[str, Subscription | None] = {}
        for start in range(0, len(delivery_ids), REDELIVER_PAGE):
            ids = delivery_ids[start : start + REDELIVER_PAGE]
            found = {row.id: (row, events) for row, events in await self.store.outbox_rows(ids)}
            ended = []
            for row, _ in found.values():
                if row.status not in ("failed", "pending") and await self._sendable(row.subscription_id, subs):
                    ended.append((row.id, row.status))
            # Deleted (a retention pass) or changed since it was read: not sent, or it went with no record of it.
            claimed = await self.store.claim_again(ended)
            for delivery_id in ids:
                if delivery_id not in found:
                    continue
                row, events = found[delivery_id]
                if row.status == "failed":
                    sent = self._hasten(row.subscription_id, delivery_id)
                else:
                    sent = delivery_id in claimed and self._redeliver(row, events, subs[row.subscription_id])
                if sent:
                    redone.append(delivery_id)
        return redone

    async def _sendable(self, sub_id: str, subs: dict[str, Subscription | None]) -> bool:
        """Whether the subscription exists and is not being deleted here (`subs` caches the reads)."""
        if sub_id not in subs:
            subs[sub_id] = await self.store.get_subscription(sub_id)
        sub = subs[sub_id]
        return sub is not None and sub.id not in self._removed

    def _redeliver(self, row: Any, events: list[Any], sub: Subscription | None) -> bool:
        """Send an ended delivery again, its row made pending already (`Store.claim_again`)."""
        assert sub is not None
        job = job_from_row(row, [event_from_row(e) for e in events])
        job.status, job.retries, job.due, job.finished_at = "pending", 0, time.time(), None
        if self.leases is not None and sub.id not in self._lanes:
            # Another process sends this subscription's deliveries and has read past this one.
            self._let_go_at_the_end([job])
        self._records.write()  # its last attempt's record first
        # Before its next attempt's record; not fenced by the lease (see `transaction`): claimed above, it may be
        # another process's to send.
        self.store.records.put_nowait(Op(updates=({**job.update_row(), "_owner": None},)))
        self._outstanding[job.run_id][job.subscription_id] += 1
        if (self.leases is None or sub.id in self._lanes) and (lane := self._lane(sub)) is not None:
            lane.force(job)
        return True

    def _hasten(self, sub_id: str, delivery_id: str) -> bool:
        """Make the next attempt of a delivery waiting for its retry now: same id and body, its retry budget as it
        stands, the attempt recorded like any other. False when no lane of this process holds it waiting (its
        attempt is under way, or it waits in the store: a busy subscription's, or another process's)."""
        lane = self._lanes.get(sub_id)
        job = lane.hasten(delivery_id) if lane is not None else None
        if job is None:
            return False
        self._records.write()  # its last attempt's record first: written after, it would say the old due time
        self.store.records.put_nowait(Op(updates=(job.update_row(),)))
        return True

    def sending(self, sub_id: str, delivery_id: str) -> bool:
        """Whether an attempt at the delivery is under way in this process."""
        lane = self._lanes.get(sub_id)
        return lane is not None and lane.sending(delivery_id)


def _moved(job: Job) -> tuple[str, int, float, str | None]:
    """A held delivery as it is let go: its id, position, due time, and its fault record where letting it go
    changed it (a window cut short), else None."""
    return job.id, job.n, job.due, codec.dumps(job.faults) if job.extra.pop("faults_changed", False) else None
