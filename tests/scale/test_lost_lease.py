"""A sender that lost a subscription's lease takes it back only once what it recorded under that lease is in the
store: committed then, such a record is refused (the subscription is not leased to it); committed after it had
taken the subscription back, it was applied over what the other holder had sent."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, update

from simulator.core.simulator import Simulator
from simulator.models import Subscription
from simulator.store import tables as t
from simulator.testing.receiver import Receiver
from tests.scale.helpers import distinct, lease_owners, publish, subscribe, until


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
        held = one.hold_the_writer()
        renewed_past = await store_clock(one.publisher) + 2.0 + 1.5  # renewed 1.5 s after the write was held up
        deadline = time.monotonic() + 8  # within the store's limit on a session idle in a transaction (10 s)
        while await lease_until(one.publisher, one.sub.id) < renewed_past:
            assert time.monotonic() < deadline, "the leases were not renewed while a write was held up"
            await asyncio.sleep(0.05)
        assert one.sub.id in one.sender.engine.lanes and not held.done()
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
