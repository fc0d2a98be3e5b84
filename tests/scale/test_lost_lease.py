"""A sender that lost a subscription's lease takes it back only once what it recorded under that lease is in the
store: committed then, such a record is refused (the subscription is not leased to it); committed after it had
taken the subscription back, it was applied over what the other holder had sent."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from simulator.core.simulator import Simulator
from simulator.models import Subscription
from simulator.store import tables as t
from simulator.testing.receiver import Receiver
from tests.scale.helpers import distinct, lease_owners, process_pids, publish, subscribe, until, until_read


async def lease(sim: Simulator, sub_id: str, owner: str | None) -> None:
    """Set the subscription's lease as another process's, for an hour (or free it)."""
    s = t.subscriptions.c
    until_ = None if owner is None else func.extract("epoch", func.clock_timestamp()) + 3600
    async with sim.store.engine.begin() as conn:
        await conn.execute(update(t.subscriptions).where(s.id == sub_id).values(lease_owner=owner, lease_until=until_))


async def lease_until(sim: Simulator, sub_id: str) -> float:
    s = t.subscriptions.c
    async with sim.store.engine.connect() as conn:
        return float((await conn.execute(select(s.lease_until).where(s.id == sub_id))).scalar_one())


async def store_clock(sim: Simulator) -> float:
    async with sim.store.engine.connect() as conn:
        return float((await conn.execute(select(func.extract("epoch", func.clock_timestamp())))).scalar_one())


@dataclass
class OneLane:
    """A sender with one lane, which has made its first delivery, and a publisher beside it on the store."""

    sender: Simulator
    publisher: Simulator
    receiver: Receiver
    sub: Subscription
    gate: asyncio.Event
    held: asyncio.Task[None] | None = None

    def hold_the_writer(self) -> asyncio.Task[None]:
        """Hold the sender's writer with a write that waits for `gate`: every write queued after it waits too."""

        async def hold(conn: Any) -> None:
            await self.gate.wait()

        self.held = asyncio.create_task(self.sender.store.writer.submit(hold))
        return self.held


@contextlib.asynccontextmanager
async def one_lane(db: str) -> AsyncIterator[OneLane]:
    sender = await Simulator.open(db, lease_ttl=2.0)
    publisher = await Simulator.open(db, sends=False)
    gate = asyncio.Event()
    held: asyncio.Task[None] | None = None
    try:
        with Receiver() as receiver:
            [sub] = await subscribe(publisher, receiver, 1)
            await publish(publisher, [sub], 1)
            await until(lambda: distinct(receiver) == 1, 30, "the first delivery")
            assert sub.id in sender.engine.lanes
            lane = OneLane(sender, publisher, receiver, sub, gate)
            try:
                yield lane
            finally:
                held = lane.held
    finally:
        gate.set()
        if held is not None:
            await asyncio.wait_for(asyncio.gather(held, return_exceptions=True), 30)
        await asyncio.wait_for(publisher.close(), 30)
        await asyncio.wait_for(sender.close(grace=0.5), 30)


async def test_a_write_held_up_does_not_stop_the_sender_renewing_its_leases(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round that waited on the writer (to read the subscriptions after its own changes, or to give up leases
    after their records) renewed nothing for as long as a write took: the lanes lapsed and another sender took
    them over."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    async with one_lane(db) as one:
        await renewals_go_on(one)


async def test_a_write_held_up_does_not_stop_the_sender_renewing_its_leases_as_it_reaps(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that stopped is reaped and its run marked as interrupted, a write: the round that reaped it
    waited for that write, and renewed nothing while the writer was held up (by the stopped process's own locks,
    until its session was ended)."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    async with one_lane(db) as one:

        async def reaped() -> bool:
            return "proc_stopped" not in await process_pids(one.publisher)

        await renewals_go_on(one, then=stopped_process_with_a_run)
        # Reaped (its lease row is gone) by a round, and its run's mark waits for the writer, beside the rounds. A
        # reap that cannot take its locks at once is tried again at the next round: not always before the renewal.
        await until_read(reaped, 10, "the stopped process reaped")
        assert await run_status(one.publisher, "run_of_a_stopped_process") == "running"
        one.gate.set()
        await until_read(lambda: run_failed(one.publisher), 30, "the run marked as over")


async def test_a_reap_that_waits_for_a_stopped_processs_locks_does_not_stop_the_renewals(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process stopped inside a transaction keeps its row locks until the store ends its session (after 10 s at
    least): the reap that frees its subscriptions waited for them, and the round behind it renewed nothing."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    async with one_lane(db) as one:
        [other] = await subscribe(one.publisher, one.receiver, 1)
        await stopped_process_with_a_run(one.publisher)
        await lease(one.publisher, other.id, "proc_stopped")
        s = t.subscriptions.c
        # as the stopped process's session would: its subscription's row locked
        async with one.publisher.store.engine.connect() as locker, locker.begin():
            await locker.execute(select(s.id).where(s.id == other.id).with_for_update())
            # past the first round that can reap (a process reaps once it has beaten a lease long, 2 s here)
            await renewals_go_on(one, hold=False, after=3.5)
            assert "proc_stopped" in await process_pids(one.publisher)  # not reaped: its rows are locked
        await until_read(lambda: reaped(one.publisher), 30, "the stopped process reaped once unlocked")


async def reaped(sim: Simulator) -> bool:
    return "proc_stopped" not in await process_pids(sim)


async def stopped_process_with_a_run(sim: Simulator) -> None:
    """A process that stopped beating an hour ago, and the run it was playing."""
    now = await store_clock(sim)
    async with sim.store.engine.begin() as conn:
        await conn.execute(
            insert(t.processes).values(
                id="proc_stopped",
                kind="serve",
                sends=True,
                host="elsewhere",
                pid=1,
                started_at=now - 7200,
                heartbeat_at=now - 3600,
                ttl=2.0,
            )
        )
        await conn.execute(
            insert(t.runs).values(
                id="run_of_a_stopped_process",
                scenario="basistheory-token-lifecycle",
                spec="{}",
                status="running",
                events=0,
                created_at=now - 7200,
                owner="proc_stopped",
            )
        )


async def run_status(sim: Simulator, run_id: str) -> str | None:
    async with sim.store.engine.connect() as conn:
        return (await conn.execute(select(t.runs.c.status).where(t.runs.c.id == run_id))).scalar_one_or_none()


async def run_failed(sim: Simulator) -> bool:
    return await run_status(sim, "run_of_a_stopped_process") == "failed"


async def renewals_go_on(
    one: OneLane, then: Callable[[Simulator], Awaitable[None]] | None = None, hold: bool = True, after: float = 1.5
) -> None:
    """Hold the sender's writer (unless `hold` is False), do `then` on the publisher, and wait for a renewal of
    the sender's lease (of 2 s) `after` seconds on: within 8 s, as the store ends a session idle in a transaction
    after 10."""
    held = one.hold_the_writer() if hold else None
    renewed_past = await store_clock(one.publisher) + 2.0 + after
    if then is not None:
        await then(one.publisher)
    deadline = time.monotonic() + 8
    while await lease_until(one.publisher, one.sub.id) < renewed_past:
        assert time.monotonic() < deadline, "the leases were not renewed while a write was held up"
        await asyncio.sleep(0.05)
    assert one.sub.id in one.sender.engine.lanes and (held is None or not held.done())
    leases = one.sender.engine.leases
    assert leases is not None and (await lease_owners(one.publisher))[one.sub.id] == leases.id


async def test_a_lost_lease_is_claimed_again_only_after_its_records_are_committed(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    async with one_lane(db) as one:
        sender, publisher, receiver, sub = one.sender, one.publisher, one.receiver, one.sub
        leases = sender.engine.leases
        assert leases is not None
        held = one.hold_the_writer()  # its records wait behind this write
        await lease(publisher, sub.id, "proc_elsewhere")
        await until(lambda: sub.id not in sender.engine.lanes, 30, "the sender to see its lease lost")
        await lease(publisher, sub.id, None)  # free again, with work
        await publish(publisher, [sub], 1, seed=19)

        shares = 0
        real_share = leases.share

        async def counted() -> int:
            nonlocal shares
            shares += 1
            return await real_share()

        monkeypatch.setattr(leases, "share", counted)
        await until(lambda: shares >= 2, 30, "two of the sender's shares taken with its writer held")
        assert (await lease_owners(publisher))[sub.id] is None  # not claimed while its records wait

        one.gate.set()
        await asyncio.wait_for(held, 30)
        await until(lambda: distinct(receiver) == 2, 30, "the second delivery, once the records are in")
        assert (await lease_owners(publisher))[sub.id] == leases.id
