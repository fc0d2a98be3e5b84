"""Once a subscription's DELETE has answered, nothing more goes to it: an event published to it meanwhile (matched
before the deletion) is recorded as a delivery the deletion ended, never sent."""

from __future__ import annotations

import asyncio

import pytest

from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, SubscriptionSpec
from simulator.store.writer import Op
from simulator.testing.receiver import Receiver
from tests.conftest import until

DELETED = ("dead", "its subscription was deleted", 0)


async def ended(sim: Simulator, delivery_id: str) -> tuple[str, str | None, int]:
    found = await sim.delivery(delivery_id)
    return found.status, found.last_error, found.attempts


@pytest.mark.parametrize("speed", [0.0, 1.0])
async def test_an_event_matched_before_a_deletion_and_published_after_it_is_not_sent(
    sim: Simulator, receiver: Receiver, speed: float
) -> None:
    """A publish holds the subscriptions it matched: one deleted before it went on started a lane of its own
    again, which sent to the deleted subscription (and its attempt recorded the delivery as succeeded)."""
    gone = await sim.create_subscription(SubscriptionSpec(url=receiver.url, events=["token.*"], signing="standard"))
    etype = catalog.resolve("token.created")
    matched = await sim.subscriptions.matching(etype)
    await sim.delete_subscription(gone.id)
    event = catalog.build_event(etype, catalog.new_context(7, catalog.SAMPLE_TIME))
    [delivery_id] = await sim.engine.publish(event, matched, speed=speed)
    await sim.engine.flush()
    await sim.store.writer.barrier()

    assert gone.id not in sim.engine.lanes
    assert await ended(sim, delivery_id) == DELETED
    # A later event to a subscription on the same receiver arrives alone.
    await sim.create_subscription(SubscriptionSpec(url=receiver.url, events=["token.*"], signing="standard"))
    _, [later] = await sim.emit(EventSpec(type="token.created"))
    await until(lambda: receiver.requests, what="the other subscription's delivery")
    await sim.engine.settled(None, timeout=5)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [later]
    assert await ended(sim, delivery_id) == DELETED


async def test_a_delivery_committed_after_its_subscriptions_deletion_ends_dead(
    sim: Simulator, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish that waited for room in the store's queue committed its delivery after the deletion had ended the
    subscription's others: it stayed pending for good, with no lane to send it."""
    gone = await sim.create_subscription(SubscriptionSpec(url=receiver.url, events=["token.*"], signing="standard"))
    write, waiting, go = sim.store.write, asyncio.Event(), asyncio.Event()

    async def crowded(op: Op) -> None:  # the queue has no room until the deletion has answered
        if op.deliveries:
            waiting.set()
            await go.wait()
        await write(op)

    monkeypatch.setattr(sim.store, "write", crowded)
    emitting = asyncio.create_task(sim.emit(EventSpec(type="token.created")))
    await asyncio.wait_for(waiting.wait(), 5)
    await sim.delete_subscription(gone.id)
    go.set()
    _, [delivery_id] = await asyncio.wait_for(emitting, 5)
    await sim.store.writer.barrier()

    assert await ended(sim, delivery_id) == DELETED
    assert gone.id not in sim.engine.lanes
    assert receiver.requests == []
