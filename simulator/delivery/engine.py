"""The delivery engine: persist each delivery before sending it, send it signed, retry it on the provider's
schedule (scaled by the run's speed; a receiver's Retry-After in real seconds), record every attempt, and resume
whatever was unfinished after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from simulator import catalog
from simulator.delivery import reads
from simulator.delivery.batches import Batches, BatchKey, OpenBatch, envelope_of
from simulator.delivery.gate import Gate
from simulator.delivery.gather import Chunk, Records, Row
from simulator.delivery.hooks import BodyForm, FaultHooks
from simulator.delivery.job import Job, event_from_row, event_row, job_from_row
from simulator.delivery.lane import FINAL, Lane
from simulator.delivery.outcomes import Outcomes
from simulator.delivery.sender import Sender
from simulator.delivery.shared import Sharing
from simulator.ids import new_id
from simulator.models import Event, Subscription
from simulator.signing import SigningKey, default_key
from simulator.store import Store
from simulator.store.leases import Leases
from simulator.store.writer import LINGER, Op
from simulator.timeutil import DeliveryClock

log = logging.getLogger("webhook_sim.delivery")

# The longest a run at speed 0 waits for room in its lanes before letting them spill to the store.
ROOM_WAIT = 1.0
# Deleted subscriptions remembered (see `subscription_removed`); ids are never reused, so the oldest can go.
REMOVED_KEPT = 100_000
DELETED = "its subscription was deleted"


class DeliveryEngine(Outcomes):
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
        self.write_errors: list[str] = []
        self._delivered_at = DeliveryClock()
        # Told of every event as it is published, with its store key (the provider API twins index them).
        self.observers: list[Callable[[Event, str], None]] = []
        # Asked, in order, for a subscription's own form of each attempt's body (see `hooks.BodyForm`).
        self.body_forms: list[BodyForm] = []
        # The events of runs at speed 0 the API twins do not show until one of their deliveries starts (`gate`).
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

    async def close(self, grace: float = 5.0) -> None:
        """Persist partial batches, let in-flight attempts finish (up to `grace` s), stop, and flush writes.
        Deliveries not yet sent stay in the store for the next start."""
        await self.flush()
        if self._sharing is not None:
            await self._sharing.stop()
        self.stopping = True  # an attempt cut short from here on is recorded as interrupted (see `Outcomes`)
        await asyncio.gather(*(lane.close(grace) for lane in self._lanes.values()))
        self._lanes.clear()
        await self.store.writer.barrier()
        if self._sharing is not None:
            await self._sharing.leave()
        await self.sender.close()

    async def drop_lane(self, sub_id: str, grace: float) -> None:
        """Stop sending for a subscription whose lease this process gives up or has lost."""
        lane = self._lanes.pop(sub_id, None)
        if lane is not None:
            await lane.close(grace)

    def take_lane(self, sub: Subscription) -> None:
        """Start sending for a subscription whose lease this process took: its deliveries are in the store."""
        self._lane(sub, spilled=True)

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
        self.number_after(await self.store.max_delivery_n())

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

    # -- publishing -----------------------------------------------------------------------------------

    async def publish(
        self,
        event: Event,
        subs: Sequence[Subscription],
        *,
        speed: float = 1.0,
        due: float | None = None,
        faults: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ) -> list[str]:
        """Persist `event` and one delivery per subscription (a Syncfy batch collects events until it is full or
        flushed); each is sent once committed. `faults` and `seed` (the run's, which fault draws derive from) go
        to the fault hooks. Returns the ids of the deliveries that carry the event."""
        if speed == 0:
            await self._wait_for_room(subs)
        if self.leases is not None and event.run_id not in self._numbered_runs:
            await self._number_after_the_store(event.run_id)
        key = f"{event.run_id}/{event.seq}" if event.run_id else new_id("evt")
        for observe in self.observers:
            observe(event, key)
        when = time.time() if due is None else due
        provider = catalog.get_provider(event.provider)
        send: list[Row] = []
        collecting: list[Row] = []
        carriers: list[str] = []
        for sub in subs:
            if sub.id in self._removed:
                # Matched before its deletion: recorded as the deletion ended the rest, never sent.
                job = self._ended_by_deletion(self._new_job(sub, [event], speed, when))
                send.append((job, [key], True))
                carriers.append(job.id)
                continue
            if sub.enabled and sub.id not in self._lanes and self.leases is None:
                # A subscription with nothing pending has no lane after a restart (or after `retire`): without
                # one its new deliveries would wait in the store until the next start.
                self._lane(sub, spilled=True)
            if sub.batch > 1 and provider.max_batch > 1:
                batch, opened = self._collect(sub, event, key, speed, when, faults, seed)
                carriers.append(batch.job.id)
                if len(batch.keys) >= min(sub.batch, provider.max_batch):
                    send.extend(self._take_batch((sub.id, event.run_id), when))  # full: written once, as sent
                else:
                    collecting.append((batch.job, batch.keys, opened))
                continue
            jobs = self._jobs(sub, [event], [key], speed, when, faults, seed)
            send.extend(jobs)
            carriers.extend(job.id for job, _, _ in jobs)
        if speed == 0 and event.run_id is not None and self.leases is None:
            self.gate.hold(event.provider, key, _to_start(subs, send, collecting))
        if speed == 0 and not collecting:
            await self._gather(send, event_row(event, key))
            return carriers
        # Made well ahead of when it is due (a run's lookahead), its commit may wait a little for company.
        patient = due is not None and due - time.time() > 2 * LINGER
        # A timed run's event is timed even where no subscription takes it: the run's next events wait for its commit.
        await self._persist(self._op(send, (event_row(event, key),), collecting, patient=patient, timed=speed > 0))
        return carriers

    def _collect(
        self,
        sub: Subscription,
        event: Event,
        key: str,
        speed: float,
        when: float,
        faults: Mapping[str, Any] | None,
        seed: int | None,
    ) -> tuple[OpenBatch, bool]:
        """Add `event` to the subscription's open batch for its run, opening one when there is none; returns the
        batch and whether it was opened now (its row is new)."""
        bkey = (sub.id, event.run_id)
        batch = self._batches.get(bkey)
        if batch is None:
            batch = OpenBatch(self._new_job(sub, [event], speed, when), [key], sub, speed, faults, seed, when)
            self._batches.open(bkey, batch)
            return batch, True
        self._batches.join(batch, event, key)
        # The latest event's faults and subscription settings govern the batch that carries it.
        batch.sub, batch.speed, batch.faults, batch.seed, batch.due = sub, speed, faults, seed, when
        return batch, False

    async def _wait_for_room(self, subs: Sequence[Subscription]) -> None:
        """At speed 0 nothing is due at a set time, so a run may wait for its lanes rather than outrun them:
        a lane that spills reads its deliveries back from the store, which costs more than the wait. It waits
        only while every lane it feeds is full, so a slow subscription never holds back a fast one, and for at
        most ROOM_WAIT: then those lanes spill, the store holds the rest, and the run goes on. It waits until a
        lane has room for several deliveries (`Lane.roomy`): woken as each delivery ended, the run went in
        lockstep with the lane, an event and a wait a delivery, and a turn never published more than one event."""
        lanes = [lane for sub in subs if (lane := self._lanes.get(sub.id)) is not None and not lane.spilled]
        if not lanes or not all(lane.full for lane in lanes):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ROOM_WAIT
        while all(not lane.roomy and not lane.spilled for lane in lanes):
            if loop.time() >= deadline:
                return  # the lanes take what comes next as spilled: the store holds it until they catch up
            self._room.clear()
            # A timer, not wait_for: that makes a task of every wait.
            timer = loop.call_at(deadline, self._room.set)
            try:
                await self._room.wait()
            finally:
                timer.cancel()

    async def flush(self, run_id: str | None = None) -> None:
        """Send the partial Syncfy batches (of one run, or all), and what a run at speed 0 gathered."""
        self._write_chunk()
        await self.close_batches(run_id)

    async def close_batches(self, run_id: str | None) -> None:
        """Send the partial Syncfy batches of a run (or all): its scenario waits, and a batch holds events only
        until then."""
        rows = [row for bkey in self._batches.keys(run_id) for row in self._take_batch(bkey, time.time())]
        if rows:
            await self._persist(self._op(rows, ()))

    def _take_batch(self, bkey: BatchKey, when: float) -> list[Row]:
        """Close an open batch: it goes after everything made so far (a new position), with the faults drawn
        for it. Its row exists already and is rewritten; copies a fault adds are new rows."""
        batch = self._batches.take(bkey)
        if batch is None:
            return []
        self._n += 1
        job = batch.job
        job.n, job.due = self._n, max(when, batch.due)
        return [(one, batch.keys, one is not job) for one in self._faulted(batch.sub, job, batch.faults, batch.seed)]

    def _jobs(
        self,
        sub: Subscription,
        events: list[Event],
        keys: list[str],
        speed: float,
        when: float,
        faults: Mapping[str, Any] | None,
        seed: int | None,
    ) -> list[Row]:
        job = self._new_job(sub, events, speed, when)
        return [(one, keys, True) for one in self._faulted(sub, job, faults, seed)]

    def _new_job(self, sub: Subscription, events: list[Event], speed: float, when: float) -> Job:
        self._n += 1
        return Job(
            id=new_id("msg"),
            n=self._n,
            subscription_id=sub.id,
            run_id=events[0].run_id,
            events=events,
            envelope_id=envelope_of(sub.id, events),
            speed=speed,
            due=when,
        )

    def _faulted(self, sub: Subscription, job: Job, faults: Mapping[str, Any] | None, seed: int | None) -> list[Job]:
        out = []
        for one in self.faults.on_publish(sub, job, faults, seed):
            if one is not job:
                self._n += 1
                one.n = self._n
            out.append(one)
        return out

    async def _gather(self, send: list[Row], event: dict[str, Any]) -> None:
        """A run at speed 0's event and deliveries, written with the others it publishes in this turn of the loop
        (see `gather`); at once when CHUNK are in, or while a timed run's rows must find a short queue (given at
        the turn's end they would join it without waiting). Their lanes' windows count them now."""
        full = self._chunk.add(send, event, self._count_incoming(send))
        if (full or self.store.writer.crowded) and (op := self._chunk_op()) is not None:
            await self.store.write(op)

    def _write_chunk(self) -> None:
        """Give the writer what `_gather` holds. Every other change with rows calls this first: positions are
        committed in the order they were given, or a lane that read past a later one would skip an earlier."""
        if (op := self._chunk_op()) is not None:
            self.store.writer.put_nowait(op)

    def _chunk_op(self) -> Op | None:
        taken = self._chunk.take()
        return None if taken is None else self._op(taken[0], taken[1], lanes=taken[2])

    def _count_incoming(self, send: list[Row]) -> list[Lane]:
        """Count `send` in its lanes' windows until committed; returns the lanes, one per delivery counted."""
        lanes = []
        for job, _, _ in send:
            if job.status not in FINAL and (lane := self._lanes.get(job.subscription_id)) is not None:
                lane.incoming += 1
                lanes.append(lane)
        return lanes

    async def _persist(self, op: Op) -> None:
        """Commit `op` (see `_op`), after what `_gather` holds."""
        self._write_chunk()
        await self.store.write(op)

    def _op(
        self,
        send: list[Row],
        events: tuple[dict[str, Any], ...],
        collecting: Sequence[Row] = (),
        *,
        patient: bool = False,
        timed: bool = False,
        lanes: list[Lane] | None = None,
    ) -> Op:
        """The change that commits `events` and the rows of `send` (sent once committed) and of `collecting` (open
        batches), and what its commit does. `timed`: they are a timed run's, whatever their rows. `lanes`: the
        lanes whose window counts `send` already (as `_gather` counts it), else counted here."""
        now = time.time()
        rows = [*send, *collecting]
        # Rows another process must not send yet: an open batch, and what a fault holds back.
        for job, _, _ in send:
            job.held_by = self.me if self.faults.holds(job.id) else None
            if job.status == "dropped" and job.finished_at is not None and job.finished_at < now:
                job.finished_at = now  # dropped when due, but not before it was made (a run at speed 0's was)
        for job, _, _ in collecting:
            job.held_by = self.me
        inserts = tuple(job.insert_row(keys, now) for job, keys, new in rows if new)
        rewrites = tuple(job.rewrite_row(keys) for job, keys, new in rows if not new)
        for job, _, _ in send:
            if job.status not in FINAL:
                self._outstanding[job.run_id][job.subscription_id] += 1
        if lanes is None:
            lanes = self._count_incoming(send)

        def committed(exc: BaseException | None) -> None:
            for job, _, _ in send:
                self._batches.committed(job.id)
            for lane in lanes:
                lane.incoming -= 1
            if exc is not None:
                self.write_errors.append(f"{type(exc).__name__}: {exc}")
                return
            self._end_deleted(send, collecting)
            # The fault hooks may hold some back (reorder, burst) and let earlier ones go now.
            go, released = self.faults.on_committed([job for job, _, _ in send if job.status not in FINAL])
            for job in go:
                self._dispatch(job)
            self._hand_over(released)
            self._notify()

        timed = timed or any(job.speed > 0 for job, _, _ in rows)
        return Op(events=events, deliveries=inserts, rewrites=rewrites, done=committed, patient=patient, timed=timed)

    def _ended_by_deletion(self, job: Job) -> Job:
        job.status, job.finished_at, job.last_error, job.held_by = "dead", time.time(), DELETED, None
        return job

    def _end_deleted(self, send: Sequence[Row], collecting: Sequence[Row]) -> None:
        """End the deliveries just committed for a subscription deleted meanwhile. Made before the deletion and
        committed after it (their commit waited for room in the writer's queue), they were left pending for good:
        no lane sends them, and the deletion, which ends what the store holds, had not seen them."""
        ended = []
        for rows, counted in ((send, True), (collecting, False)):  # an open batch is not counted outstanding
            for job, _, _ in rows:
                if job.subscription_id in self._removed and job.status not in FINAL:
                    self._outstanding[job.run_id][job.subscription_id] -= counted
                    ended.append(self._ended_by_deletion(job).update_row())
        if ended:
            self.store.writer.put_nowait(Op(updates=tuple(ended)))

    async def release(self, run_id: str | None = None) -> None:
        """Send what a run (or every run, when None) still holds back: its partial Syncfy batches and the
        deliveries the `reorder` and `burst` faults hold. A run calls this once it has emitted its last event."""
        await self.flush(run_id)
        await self.store.writer.barrier()  # held deliveries are let go only once committed
        self._hand_over(self.faults.release(run_id))
        self._notify()

    def _dispatch(self, job: Job) -> None:
        lane = self._lanes.get(job.subscription_id)
        if lane is None:
            return  # the subscription was removed meanwhile
        lane.offer(job)

    def _hand_over(self, jobs: list[Job]) -> None:
        """Give a lane jobs a fault held back: its reads of the store skipped them, so it takes them as they are.
        On a shared store the lane may be another process's: the rows are let go there, each at a new position
        after what that lane has read, in the order they go (as a closing batch moves)."""
        if self.leases is not None:
            self._let_go_at_the_end(jobs)
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
        self.store.let_go([(job.id, job.n, job.due) for job in jobs])

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

    async def settled(self, run_id: str | None, timeout: float | None = None) -> bool:
        """Wait until the run's deliveries are settled (see `is_settled`); False on timeout. On a shared store
        other processes may be sending them: the store says when none is left."""
        if self._sharing is not None:
            return await self._sharing.settled(run_id, timeout)

        async def wait() -> None:
            while True:
                self._changed.clear()  # before the check, so a change after it is never missed
                if self.is_settled(run_id):
                    return
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            return False
        await self.store.writer.barrier()  # settled means recorded too: readers see every attempt
        return True

    async def redeliver(self, delivery_id: str) -> bool:
        """Send a delivery again with a fresh retry budget (same id, same body); one waiting for its next retry
        has that attempt now instead (see `_hasten`). False if it is being delivered and cannot be."""
        page = await self.store.outbox_rows([delivery_id])
        if not page:
            return False
        row, events = page[0]
        if row.status == "failed":
            return self._hasten(row.subscription_id, delivery_id)
        if row.status == "pending":
            return False
        sub = await self.store.get_subscription(row.subscription_id)
        if sub is None or sub.id in self._removed:
            return False
        job = job_from_row(row, [event_from_row(e) for e in events])
        job.status, job.retries, job.due, job.finished_at = "pending", 0, time.time(), None
        if self.leases is not None and sub.id not in self._lanes:
            # Another process sends this subscription's deliveries and has read past this one.
            self._let_go_at_the_end([job])
        self._records.write()  # its last attempt's record first
        self.store.records.put_nowait(Op(updates=(job.update_row(),)))  # before its next attempt's record
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


def _to_start(subs: Sequence[Subscription], *rows: list[Row]) -> list[str]:
    """The deliveries among `rows` whose first attempt is still to come: not ended, to an enabled subscription."""
    enabled = {sub.id for sub in subs if sub.enabled}
    return [job.id for part in rows for job, _, _ in part if job.status not in FINAL and job.subscription_id in enabled]
