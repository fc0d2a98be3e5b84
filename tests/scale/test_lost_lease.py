"""A sender that lost a subscription's lease takes it back only once what it recorded under that lease is in the
store: committed then, such a record is refused (the subscription is not leased to it); committed after it had
taken the subscription back, it was applied over what the other holder had sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, update

from simulator.core.simulator import Simulator
from simulator.store import tables as t
from simulator.testing.receiver import Receiver
from tests.scale.helpers import distinct, lease_owners, publish, subscribe, until


async def lease(sim: Simulator, sub_id: str, owner: str | None) -> None:
    """Set the subscription's lease as another process's, for an hour (or free it)."""
    s = t.subscriptions.c
    until_ = None if owner is None else func.extract("epoch", func.clock_timestamp()) + 3600
    async with sim.store.engine.begin() as conn:
        await conn.execute(update(t.subscriptions).where(s.id == sub_id).values(lease_owner=owner, lease_until=until_))


async def test_a_lost_lease_is_claimed_again_only_after_its_records_are_committed(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    sender = await Simulator.open(db, lease_ttl=2.0)
    publisher = await Simulator.open(db, sends=False)
    gate = asyncio.Event()

    async def hold(conn: Any) -> None:
        await gate.wait()

    held: asyncio.Task[None] | None = None
    try:
        with Receiver() as receiver:
            [sub] = await subscribe(publisher, receiver, 1)
            await publish(publisher, [sub], 1)
            await until(lambda: distinct(receiver) == 1, 30, "the first delivery")
            leases = sender.engine.leases
            assert leases is not None and sub.id in sender.engine.lanes

            held = asyncio.create_task(sender.store.writer.submit(hold))  # its records wait behind this write
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

            gate.set()
            await asyncio.wait_for(held, 30)
            await until(lambda: distinct(receiver) == 2, 30, "the second delivery, once the records are in")
            assert (await lease_owners(publisher))[sub.id] == leases.id
    finally:
        gate.set()
        if held is not None:
            await asyncio.wait_for(asyncio.gather(held, return_exceptions=True), 30)
        await asyncio.wait_for(publisher.close(), 30)
        await asyncio.wait_for(sender.close(grace=0.5), 30)
