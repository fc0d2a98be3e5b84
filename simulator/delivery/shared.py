"""An engine's part in a store several processes share (PostgreSQL): which subscriptions it sends for.

Every round (a third of a lease's length, at most a second) the engine beats, renews its leases, reaps
processes that stopped beating, and takes or gives back subscriptions so that each sending process holds an even
share of those with work. Between rounds, each of its lanes reads what other processes committed for it: when a
PostgreSQL notification says there is some, and every `POLL` seconds besides (`LISTENING_POLL` while listening).
A lane whose lease is lost (this process stalled past the lease and another took it) stops at once; one given back
stops after its attempts under way end and their records commit, so the next owner starts from the truth.

A process cut off from the store stops sending once its leases may have lapsed, so two processes never send the
same subscription's deliveries for longer than an attempt takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from simulator.store.failures import failure_reason
from simulator.store.leases import Leases
from simulator.store.postgres import DELETED, OUTBOX_CHANNEL
from simulator.store.run_queue import RUNS_CHANNEL

if TYPE_CHECKING:
    from simulator.delivery.engine import DeliveryEngine

log = logging.getLogger("webhook_sim.delivery")

POLL = 0.05  # seconds between reads of the store for deliveries other processes committed, when not told of them
# ... and while a LISTEN connection tells of them: a read only in case a notification went missing (each read of an
# idle lane waits for this process's writes and re-reads what is active, about 10 % of a core at POLL's pace).
LISTENING_POLL = 1.0
NUDGE_GAP = 0.002  # seconds at least between two such reads
CLAIM_GAP = 0.1  # seconds at least between two claims that a notification prompts
RENEW = 1 / 3  # of a lease's length, between renewals
ROUND_MAX = 1.0  # seconds between rounds at most: a sender that joins gets its share within about two
SAFE = 0.6  # of a lease's length without a renewal, after which this process stops sending
GIVE_BACK_GRACE = 5.0  # seconds a lane's attempts under way may take when its leases may have lapsed
# Seconds at least between two reads, by a busy lane, of deliveries other processes numbered behind its position
# (each publishing process numbers its own): such a read lists every active delivery the lane has passed.
CATCH_UP = 1.0
PUBLISHERS_WINDOW = 60.0  # seconds: a process that committed deliveries this recently still counts as publishing
# Seconds after a subscription's delete when what other processes made for it meanwhile is ended: a publish begun
# before the delete commits within a moment of it.
SWEEPS = (1.0, 5.0)


class Sharing:
    def __init__(self, engine: DeliveryEngine, leases: Leases) -> None:
        self.engine = engine
        self.leases = leases
        self._task: asyncio.Task[None] | None = None
        self._renewed = time.monotonic()
        self._fresh = asyncio.Event()  # set by each renewal: what a fenced send waits for
        self._failures = 0
        self._nudge = asyncio.Event()
        self._others = False  # told of work another process committed since the last read
        self._stopping = False
        self._shared_at = 0.0  # when this process last took its share
        self._polled_at = 0.0  # when its lanes last read the store for others' work
        self._behind_at = 0.0  # when its busy lanes last read what others numbered behind them
        self._publishers: dict[str, float] = {}  # the processes that committed deliveries, and when they last did
        self._listener: tuple[Any, Any] | None = None  # the LISTEN connection, and its asyncpg connection
        self._sweeps: list[tuple[float, str]] = []  # (when, deleted subscription) (see `sweep_later`)
        self._removing: set[asyncio.Task[None]] = set()
        self._handing_over: set[str] = set()  # subscriptions given back whose lanes are still finishing
        self._hand_overs: set[asyncio.Task[None]] = set()
        self._closing = False  # see `closing`
        self._unflushed: set[asyncio.Task[None]] = set()  # see `_records_of_lost_leases`
        # Beside the rounds, work that waits on this process's writer (see `_beside`): a round that waited on it
        # beat and renewed nothing while a write was slow, and its lanes lost their leases.
        self._besides: set[asyncio.Task[None]] = set()
        self._refreshing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.leases.register()
        await self._listen()
        await self._round()
        self._task = asyncio.create_task(self._loop(), name="leases")

    async def closing(self) -> None:
        """The process is stopping: from now on the rounds only beat and renew (no claim, no hand-over, no read of
        new work), so the lanes' attempts under way finish under live leases. Stopped first, the rounds renewed
        nothing through the lanes' grace: another sender reaped this one and sent its open deliveries again."""
        self._closing = True
        if self._refreshing is not None:  # it may stop lanes, and the lanes are the closing's now
            self._refreshing.cancel()
            await asyncio.gather(self._refreshing, return_exceptions=True)
        if self.leases.sends:
            with contextlib.suppress(Exception):  # the store is away: the others count it until its beat stops
                await self.leases.leaving()
        if self._hand_overs:  # their lanes' attempts end and are recorded before the leases go
            await asyncio.gather(*self._hand_overs, return_exceptions=True)

    async def stop(self) -> None:
        await self.closing()
        self._stopping = True
        for task in (self._task, *self._unflushed, *self._besides):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self._unlisten()

    async def _listen(self) -> None:
        """Wake at each commit that adds or lets go deliveries, in any process (PostgreSQL's NOTIFY), so a lane
        reads new work within milliseconds rather than at the next poll; polling stays as the fallback."""
        if self._listener is not None:
            return
        try:
            conn = await self.engine.store.engine.connect()
        except Exception as exc:  # the store is down: the rounds try again, and polling goes on meanwhile
            log.debug("cannot listen for new deliveries (%s)", exc)
            return
        try:
            raw = (await conn.get_raw_connection()).driver_connection
            if raw is None:
                raise ConnectionError("the connection has no driver connection")
            await raw.add_listener(OUTBOX_CHANNEL, self._told)
            await raw.add_listener(RUNS_CHANNEL, lambda *_: self._runs_told())
        except BaseException as exc:
            # The connection goes back to the pool whatever stopped it here, a stop's cancellation included: left
            # to the garbage collector, it was terminated there with a warning, outside any loop.
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.close())
            if not isinstance(exc, Exception):
                raise
            log.debug("cannot listen for new deliveries (%s)", exc)
            return
        self._listener = (conn, raw)

    def _told(self, _conn: Any, _pid: int, _channel: str, sender: str) -> None:
        """New work was committed: perhaps for a subscription nobody holds (a claim is due), and when another
        process made it, perhaps for a lane here (a read is due; this process's own lanes took its own work). Or
        a subscription was deleted: its lane here stops now."""
        if sender.startswith(DELETED):
            removing = asyncio.get_running_loop().create_task(self.engine.subscription_removed(sender[len(DELETED) :]))
            self._removing.add(removing)
            removing.add_done_callback(self._removing.discard)
            return
        self._others = self._others or sender != self.engine.me
        self._publishers[sender] = time.monotonic()
        self._nudge.set()

    def _several_publishers(self) -> bool:
        """Whether deliveries may be numbered behind a lane's position: several processes committed some lately
        (each numbers its own; one alone numbers them in the order it commits them), or this one cannot hear who
        did."""
        if self._listener is None:
            return True
        since = time.monotonic() - PUBLISHERS_WINDOW
        self._publishers = {sender: at for sender, at in self._publishers.items() if at >= since}
        return len(self._publishers) >= 2

    def _runs_told(self) -> None:
        for told in self.engine.runs_told:
            told()

    async def _unlisten(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):  # a connection the store dropped is closed already
                await listener[0].close()

    async def leave(self) -> None:
        try:
            await self.leases.leave()
        except Exception as exc:  # the store is gone: the leases lapse and the reaper lets go what was held
            log.warning("could not give back leases at exit (%s); they lapse in %.0f s", exc, self.leases.ttl)

    def stale(self) -> bool:
        """Whether this process's leases may have lapsed: no renewal for most of a lease's length (a stopped or
        frozen process, a store that does not answer). Others may hold its subscriptions by now."""
        return time.monotonic() - self._renewed > self.leases.ttl * SAFE

    async def fresh(self) -> None:
        """Return once the leases are renewed (at once if they were lately). A lane checks this before each
        attempt: a process frozen past its leases (SIGSTOP, a paused VM) found its timers due on waking and sent
        what the new holders had sent already, before its next round told it the leases were gone."""
        while self.stale():
            self._fresh.clear()
            self._nudge.set()  # the round is overdue: run it now
            await self._fresh.wait()

    async def _loop(self) -> None:
        every = min(ROUND_MAX, max(POLL, self.leases.ttl * RENEW))
        next_round = time.monotonic() + every
        claim_wanted = False  # told of new work, which may be for a subscription nobody holds yet
        while not self._stopping:
            now = time.monotonic()
            every_poll = POLL if self._listener is None else LISTENING_POLL
            wait = min(every_poll, next_round - now)
            if claim_wanted:
                wait = min(wait, self._shared_at + CLAIM_GAP - now)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the cancellation that stops this
            # loop when the event is set at the same moment.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wait)):
                    await self._nudge.wait()
            claim_wanted = claim_wanted or (self._nudge.is_set() and self.leases.sends)
            # Read when another process committed work, and when a poll is due; not when the wait ended for a
            # claim: this process's own commits prompt claims, and a read each time held its lanes back from
            # sending what fell due meanwhile (ten reads a second while it played a run).
            poll_due = time.monotonic() - self._polled_at >= every_poll
            told_of_others = self._others
            self._nudge.clear()
            self._others = False
            if (told_of_others or poll_due or self._listener is None) and not self._closing:
                self._polled_at = time.monotonic()
                await self._poll(next_round)
            await self._sweep()
            if claim_wanted and time.monotonic() - self._shared_at > CLAIM_GAP and not self._closing:
                claim_wanted = False  # take it now, not at the next round
                with contextlib.suppress(Exception):  # the store is restarting: the rounds say so
                    await self._share(give_back=False)
            await asyncio.sleep(NUDGE_GAP)  # commits may come by the thousand a second: read at most this often
            if time.monotonic() >= next_round:
                if self._listener is not None and self._listener[1].is_closed():
                    await self._unlisten()  # the store restarted: listen on a new connection
                await self._listen()
                await self._round()
                next_round = time.monotonic() + every

    def sweep_later(self, sub_id: str) -> None:
        """End, a moment after a subscription's delete, what other processes made for it meanwhile (`SWEEPS`)."""
        now = time.monotonic()
        self._sweeps.extend((now + after, sub_id) for after in SWEEPS)

    async def _sweep(self) -> None:
        now = time.monotonic()
        due = [sub_id for at, sub_id in self._sweeps if at <= now]
        if not due:
            return
        self._sweeps = [(at, sub_id) for at, sub_id in self._sweeps if at > now]
        for sub_id in dict.fromkeys(due):
            with contextlib.suppress(Exception):  # the store is restarting: the later sweep, or none, then
                await self.engine.store.end_deliveries_of_deleted(sub_id)

    async def _poll(self, next_round: float) -> None:
        lanes = self.engine.lanes
        idle = {lane for lane in lanes.values() if lane.held == 0 and lane.incoming == 0 and not lane.spilled}
        if idle:
            # An idle lane reads everything active, so nothing committed out of order is ever left behind; its
            # own records must be in the store first, or it would read its finished deliveries as still due. Not
            # waited for past the next round's time: a writer retrying while the store is away, or held up by a
            # row another session locked, held the rounds here, and the leases went unrenewed meanwhile.
            wait = min(self.leases.ttl * SAFE, max(POLL, next_round - time.monotonic()))
            try:
                async with asyncio.timeout(wait):
                    await self.engine.store.writer.barrier()
            except TimeoutError:
                return  # the next poll reads them
        several = self._several_publishers()
        behind = time.monotonic() - self._behind_at >= CATCH_UP and several
        if behind:
            self._behind_at = time.monotonic()
        for lane in lanes.values():
            lane.several_publishers = several
            sweep = lane in idle and lane.held == 0 and lane.incoming == 0
            lane.poll(sweep=sweep)
            if behind and not sweep:
                lane.catch_up()  # a busy lane: what others numbered behind it must not wait for it to idle

    async def _round(self) -> None:
        try:
            await self._balance()
        except Exception as exc:  # the store is down or restarting: keep sending while the leases hold
            self._failures += 1
            if self._failures == 1 or self._failures % 30 == 0:
                log.warning("cannot renew leases (%s): trying again", failure_reason(exc))
            if time.monotonic() - self._renewed > self.leases.ttl * SAFE and self.engine.lanes:
                log.warning("leases may have lapsed: stopping %d lanes until the store answers", len(self.engine.lanes))
                # Attempts under way finish: they were sent, and their records go once the store is back.
                lanes = list(self.engine.lanes)
                await asyncio.gather(*(self.engine.drop_lane(s, grace=GIVE_BACK_GRACE) for s in lanes))
                self._records_of_lost_leases()
            return
        if self._failures:
            log.info("leases renewed again after %d failed tries", self._failures)
        self._failures = 0

    async def _balance(self) -> None:
        leases, engine = self.leases, self.engine
        await leases.beat()
        asked = time.monotonic()  # the leases held from when the renewal was asked for
        held = await leases.renew()
        for sub_id in [s for s in engine.lanes if s not in held]:
            log.warning(
                "lease on %s lapsed (the store was away, or this process stalled, for longer than it) and may be "
                "another process's now: stopping its lane",
                sub_id,
            )
            await engine.drop_lane(sub_id, grace=0)
            self._records_of_lost_leases()
        # Only now: a send waiting on `fresh` (or starting meanwhile) in a lane just dropped must not go.
        self._renewed = asked
        self._fresh.set()
        # Leases held with no lane here (stopped while the store was away, or a hand-over that could not finish):
        # given up, so that a sender, this one too, claims them. Kept, they were renewed for good while nothing
        # sent their deliveries: after an outage of a few seconds, most of a run stayed pending until a restart.
        orphans = held - set(engine.lanes) - self._handing_over
        if orphans:
            await self._give_back(sorted(orphans))  # beside the rounds: it waits for their records first
        # Numbering after every position the store holds: a process numbers its deliveries itself, from the highest
        # when it started, and another's since would otherwise put its next ones behind what senders have read.
        engine.number_after(await engine.store.max_delivery_n())
        dead = await leases.reap()
        if dead:
            log.info("reaped %d processes that stopped: their subscriptions are free", len(dead))
            self._beside(self._tell_reaped(), "reaped")  # it writes (their runs are over): see `_beside`
        if not leases.sends or self._closing:
            return
        await self._share(give_back=True)
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = self._beside(self._refresh(), "refresh")

    def _beside(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run work that waits on this process's writer beside the rounds, never in them. A round waiting on the
        writer beat and renewed nothing for as long as one write took (a row another session locked, a slow
        disk): the lanes lapsed, the next holder sent their deliveries again, and the others reaped this one."""
        task = asyncio.create_task(work, name=name)
        self._besides.add(task)
        task.add_done_callback(self._besides.discard)
        return task

    async def _tell_reaped(self) -> None:
        try:
            for told in self.engine.reaped:
                await told()
        except Exception as exc:  # the store is away: the runs are marked when the next reap is told
            log.warning("cannot mark the runs of stopped processes yet (%s)", failure_reason(exc))

    async def _share(self, *, give_back: bool) -> None:
        """Take subscriptions with work up to this process's share; with `give_back`, hand over the excess."""
        self._shared_at = time.monotonic()
        share = await self.leases.share()
        # Only lanes with work count: an idle one keeps its lease (its next deliveries go where its last went)
        # but must not keep this process from taking work that others dropped.
        busy = [lane for lane in self.engine.lanes.values() if lane.held or lane.incoming]
        if len(busy) > share and give_back:  # a sender joined: hand over the excess, the least loaded lanes first
            excess = sorted(busy, key=lambda lane: lane.held)[: len(busy) - share]
            await self._give_back([lane.sub.id for lane in excess])
        elif len(busy) < share and not self._unflushed:
            for sub_id in await self.leases.claim(share - len(busy)):
                await self._take(sub_id)

    def _records_of_lost_leases(self) -> None:
        """Lanes were stopped because their leases may be another's now: no claim until what they recorded is
        committed. A delivery's update applies only while its subscription is leased to this process (see
        `store.transaction`), so committed now, a record made under the lost lease is refused, as it must be: the
        next holder's is the delivery's state. Committed after this process had taken the subscription back, such
        a record was applied, over what the other holder had sent."""
        task = asyncio.create_task(self._committed(), name="records-of-lost-leases")
        self._unflushed.add(task)
        task.add_done_callback(self._unflushed.discard)

    async def _committed(self) -> None:
        with contextlib.suppress(Exception):  # a write the writer gave up on is not written later either
            await self.engine.store.writer.barrier()

    async def _take(self, sub_id: str) -> None:
        sub = await self.engine.store.get_subscription(sub_id)
        if sub is None:
            await self.leases.give_up([sub_id])
            return
        self.engine.take_lane(sub)

    async def _give_back(self, sub_ids: list[str]) -> None:
        """Hand subscriptions over, beside the rounds: their lanes' attempts under way are waited for, and a
        round waiting for them beat and renewed nothing meanwhile. Under a lease of a few seconds this
        process's other leases lapsed, the others took them and sent their deliveries again, and reaped it."""
        self._handing_over.update(sub_ids)
        task = asyncio.create_task(self._hand_over(sub_ids), name="hand-over")
        self._hand_overs.add(task)
        task.add_done_callback(self._hand_overs.discard)

    async def _hand_over(self, sub_ids: list[str]) -> None:
        # Attempts under way end on their own, within their subscription's timeout: cut after a grace of 5 s
        # they were sent again by the next owner, and two senders handing a subscription back and forth as the
        # work drained cut one attempt after another (three requests for one delivery). The rounds go on
        # renewing the leases meanwhile, so waiting costs the newcomer its share for that long, no more.
        lanes = self.engine.lanes
        grace = {sub_id: lanes[sub_id].sub.timeout + GIVE_BACK_GRACE for sub_id in sub_ids if sub_id in lanes}
        try:
            await asyncio.gather(*(self.engine.drop_lane(s, grace=wait) for s, wait in grace.items()))
            await self.engine.store.writer.barrier()  # their records first: the next owner reads the state they leave
            await self.leases.give_up(sub_ids)
        except Exception as exc:  # the store is away: a later round gives up what is still held with no lane
            log.warning("cannot hand over %d subscriptions yet (%s)", len(sub_ids), failure_reason(exc))
        finally:
            self._handing_over.difference_update(sub_ids)

    async def _refresh(self) -> None:
        """Take up changes other processes made to the subscriptions this one sends for (a PATCH served
        elsewhere). Its own changes are committed first, so the store's answer is never older than the lane's."""
        lanes = self.engine.lanes
        if not lanes:
            return
        try:
            await self.engine.store.writer.barrier()
            for sub_id in list(lanes):
                sub = await self.engine.store.get_subscription(sub_id)
                lane = lanes.get(sub_id)  # the rounds went on meanwhile: it may be gone, or another lane now
                if lane is None:
                    continue
                if sub is None:
                    await self.engine.drop_lane(sub_id, grace=0)
                elif sub != lane.sub:
                    self.engine.subscription_changed(sub)
        except Exception as exc:  # the store is away: the next round's refresh reads them
            log.debug("cannot refresh subscriptions yet (%s)", failure_reason(exc))


async def settled_in_store(engine: DeliveryEngine, run_id: str | None, timeout: float | None) -> bool:
    """Wait until none of the run's deliveries is left to make on an enabled subscription, whoever sends them (or
    made them: a resumed run's first deliveries are another process's); False on timeout. The store says when."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        if not engine.holds(run_id):
            await engine.store.writer.barrier()
            with contextlib.suppress(Exception):  # a store restarting: ask again
                if await engine.store.active_count(run_id) == 0:
                    return True
        if deadline is not None and loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL)
