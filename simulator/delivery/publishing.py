"""Publishing: an event and its deliveries persisted, each delivery sent once committed (the engine's part that
writes; a mixin, as `Outcomes` is the part that sends). A run at speed 0 waits for room in its lanes rather than
outrun them, a Syncfy batch collects events until it is full or flushed, and the fault hooks see each delivery as
it is made."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from simulator import catalog
from simulator.delivery.batches import Batches, BatchKey, OpenBatch, envelope_of
from simulator.delivery.gate import Gate
from simulator.delivery.gather import Chunk, Row
from simulator.delivery.hooks import FaultHooks
from simulator.delivery.job import Job, event_row
from simulator.delivery.lane import FINAL, Lane
from simulator.ids import new_id
from simulator.models import Event, Subscription
from simulator.store import Store
from simulator.store.failures import failure_reason
from simulator.store.leases import Leases
from simulator.store.writer import LINGER, Op

# The longest a run at speed 0 waits for room in its lanes before letting them spill to the store.
ROOM_WAIT = 1.0
DELETED = "its subscription was deleted"
# How long a Syncfy batch of events made outside a run (POST /events, a twin's jobs) collects before it is sent:
# a run's batch goes when the run waits or ends, and such events have no run to end, so they were held for good.
RUNLESS_WINDOW = 1.0


class Publishing:
    """The engine's part that makes deliveries and writes them (a mixin: the engine provides what is declared
    here, `_lane`, `_number_after_the_store`, `_dispatch`, `_hand_over` and `_notify`)."""

    store: Store
    leases: Leases | None
    me: str
    faults: FaultHooks
    gate: Gate
    observers: list[Callable[[Event, str], None]]
    refused: dict[str | None, tuple[int, str]]
    _lanes: dict[str, Lane]
    _removed: dict[str, None]
    _n: int
    _numbered_runs: set[str]
    _batches: Batches
    _outstanding: dict[str | None, dict[str, int]]
    _chunk: Chunk
    _room: asyncio.Event

    def _lane(self, sub: Subscription, *, spilled: bool = False) -> Lane | None:
        raise NotImplementedError

    async def _number_after_the_store(self, run_id: str | None) -> None:
        raise NotImplementedError

    def _dispatch(self, job: Job) -> None:
        raise NotImplementedError

    def _hand_over(self, jobs: list[Job]) -> None:
        raise NotImplementedError

    def _notify(self) -> None:
        raise NotImplementedError

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
        # One delivery per subscription, however often a request names it (`"subscriptions": [a, a]`): twice,
        # it got every event twice under two message ids, and a Syncfy batch carried the event twice in one body.
        if len(subs) > 1:  # (one, the common case at speed 0, has nothing to merge)
            subs = list({sub.id: sub for sub in subs}.values())
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
                    send.extend(self._take_batch((sub.id, event.run_id)))  # full: written once, as sent
                else:
                    collecting.append((batch.job, batch.keys, opened))
                continue
            jobs = self._jobs(sub, [event], [key], speed, when, faults, seed)
            send.extend(jobs)
            carriers.extend(job.id for job, _, _ in jobs)
        if event.run_id is not None:
            self._hold(event.provider, key, _to_start(subs, send, collecting), None if speed == 0 else when)
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
            if event.run_id is None:
                asyncio.get_running_loop().call_later(RUNLESS_WINDOW, self._close_runless, bkey, batch)
            return batch, True
        self._batches.join(batch, event, key)
        # The latest event's faults and subscription settings govern the batch that carries it.
        batch.sub, batch.speed, batch.faults, batch.seed, batch.due = sub, speed, faults, seed, when
        return batch, False

    def _hold(self, provider: str, key: str, jobs: list[Job], due: float | None) -> None:
        """Keep a run's event from the twins until one of `jobs` starts, or (a timed run's, `due`, when none will)
        until it is due (`delivery.gate`). On a shared
        store, only where this process sends each of them (it holds their subscriptions' leases): the first to
        start may be another process's, which this process would not hear of. A lease given up or lost lets every
        hold go (`DeliveryEngine.drop_lane`)."""
        if self.leases is not None and any(job.subscription_id not in self._lanes for job in jobs):
            return
        self.gate.hold(provider, key, [job.id for job in jobs], due)

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
        rows = [row for bkey in self._batches.keys(run_id) for row in self._take_batch(bkey)]
        if rows:
            await self._persist(self._op(rows, ()))

    def _close_runless(self, bkey: BatchKey, batch: OpenBatch) -> None:
        """Send `batch` (of events outside a run) if it is still the open one: full, it went already."""
        if self._batches.get(bkey) is not batch:
            return
        rows = self._take_batch(bkey)
        if rows:
            self._write_chunk()  # after what `_gather` holds, as `_persist` does
            self.store.writer.put_nowait(self._op(rows, ()))

    def _take_batch(self, bkey: BatchKey) -> list[Row]:
        """Close an open batch: it goes after everything made so far (a new position), with the faults drawn
        for it, due when its latest event is. Its row exists already and is rewritten; copies a fault adds are new
        rows."""
        batch = self._batches.take(bkey)
        if batch is None:
            return []
        self._n += 1
        job = batch.job
        # Not the moment it closes: a batch closed after its events were due (a resumed run's backlog) was due
        # then, and went after every later batch due in the past (the lane sends the earliest due first).
        job.n, job.due = self._n, batch.due
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
            envelope_id=envelope_of(events),
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
                self._refused(send, events, exc)
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

    def _refused(self, send: Sequence[Row], events: Sequence[dict[str, Any]], exc: BaseException) -> None:
        """A change the store refused for good (a constraint, a table gone): its deliveries were never stored and
        will never be sent. Their runs stop waiting for them (they waited for ever, `running`) and end failed,
        with how many and the store's reason (see `RunManager`)."""
        counts: dict[str | None, int] = {row["run_id"]: 0 for row in events}
        for job, _, _ in send:
            counts[job.run_id] = counts.get(job.run_id, 0) + 1
            if job.status not in FINAL:
                self._outstanding[job.run_id][job.subscription_id] -= 1
                self.gate.started(job.id)  # nothing will start it: its events are held for it no longer
        for run_id, count in counts.items():
            self.refused[run_id] = (self.refused.get(run_id, (0, ""))[0] + count, failure_reason(exc))
        self._notify()

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


def _to_start(subs: Sequence[Subscription], *rows: list[Row]) -> list[Job]:
    """The deliveries among `rows` whose first attempt is still to come: not ended, to an enabled subscription."""
    enabled = {sub.id for sub in subs if sub.enabled}
    return [job for part in rows for job, _, _ in part if job.status not in FINAL and job.subscription_id in enabled]
