"""Sending many dead deliveries again: read a page at a time, sent again in their order, each once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from simulator.core.simulator import Simulator
from simulator.delivery import engine
from simulator.errors import Conflict
from simulator.models.inputs import EventSpec, RetrySpec, SubscriptionSpec
from simulator.testing.receiver import Receiver
from tests.conftest import until


async def test_a_subscriptions_dead_deliveries_are_read_a_page_at_a_time_and_sent_again_in_order(
    sim: Simulator, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "REDELIVER_PAGE", 20)
    receiver.respond(status=500)
    spec = SubscriptionSpec(url=receiver.url, retry=RetrySpec(delays=[], jitter=0), disable_after=0)
    sub = await sim.create_subscription(spec)
    for _ in range(45):
        await sim.emit(EventSpec(type="token.created"))
    await until(lambda: len(receiver.requests) >= 45, timeout=30, what="every first attempt")
    await sim.engine.settled(None, timeout=10)
    dead = [d.id for _, d in await sim.store.list_deliveries(subscription_id=sub.id, status="dead")]
    assert len(dead) == 45
    reads: list[int] = []
    outbox_rows = sim.store.outbox_rows

    async def counted(ids: list[str]) -> list[tuple[Any, list[Any]]]:
        reads.append(len(ids))
        return await outbox_rows(ids)

    monkeypatch.setattr(sim.store, "outbox_rows", counted)
    receiver.respond(status=204)
    assert await sim.redeliver_dead(sub.id) == dead  # in their order, every one
    assert reads == [20, 20, 5]  # a read per page, not per delivery
    await until(lambda: len(receiver.requests) >= 90, timeout=30, what="every delivery sent again")
    await sim.engine.settled(None, timeout=10)
    assert await sim.store.delivery_counts(subscription_id=sub.id) == {"succeeded": 45}
    again = [r.json()["event"]["id"] for r in receiver.requests[45:]]
    assert len(set(again)) == 45  # each sent again once


async def test_a_redeliver_racing_another_is_told_so_not_told_to_send_again_now(
    sim: Simulator, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty redelivers of one delivery at once: those refused were told it "ended (succeeded) while it was
    asked: send it again now", which a client follows with one more send than it asked for."""
    await sim.create_subscription(SubscriptionSpec(url=receiver.url))
    [delivery_id] = (await sim.emit(EventSpec(type="token.created")))[1]
    await until(lambda: len(receiver.requests) == 1, what="its first attempt")
    assert await sim.engine.settled(None, timeout=10)
    let_go = asyncio.Event()
    redeliver = sim.engine.redeliver

    async def held(ids: list[str]) -> list[str]:  # the first request's resend waits here, claimed
        await let_go.wait()
        return await redeliver(ids)

    monkeypatch.setattr(sim.engine, "redeliver", held)
    first = asyncio.ensure_future(sim.redeliver(delivery_id))
    await until(lambda: delivery_id in sim.redelivering(), what="the first request's claim")
    try:
        with pytest.raises(Conflict) as refused:
            await asyncio.wait_for(sim.redeliver(delivery_id), 10)
    finally:
        let_go.set()
    assert (await first).id == delivery_id
    assert "is being sent again by another request now" in str(refused.value), refused.value
    assert [e.field for e in refused.value.errors] == ["id"]
