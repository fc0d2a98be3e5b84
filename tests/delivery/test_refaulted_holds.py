"""Deliveries of events outside a run (`POST /events`) that a subscription's `reorder` or `burst` holds wait for
their window to fill. Its faults changed meanwhile, no later delivery joins the old windows: they and every
delivery after them waited, `pending`, until the server restarted. Now they go when the faults change."""

from __future__ import annotations

import asyncio

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, SubscriptionPatch, SubscriptionSpec
from simulator.testing.receiver import Receiver
from tests.conftest import until


async def _emit(sim: Simulator, sub_id: str, n: int) -> list[str]:
    events = [await sim.emit(EventSpec(type="syncfy:credentials.updated", subscriptions=[sub_id])) for _ in range(n)]
    return [event.id for event, _ in events]


@pytest.mark.parametrize(
    ("before", "after"),
    [({"burst": 3}, {"burst": 4}), ({"reorder": 3}, {"reorder": 2}), ({"reorder": 3}, {})],
    ids=["burst-3-to-4", "reorder-3-to-2", "reorder-3-to-none"],
)
async def test_windows_of_faults_since_changed_go_and_do_not_hold_back_later_ones(
    sim: Simulator, receiver: Receiver, before: dict, after: dict
) -> None:
    sub = await sim.create_subscription(
        SubscriptionSpec(url=receiver.url, events=["syncfy:credentials.updated"], faults=before)
    )
    first = await _emit(sim, sub.id, 2)  # a window of 3 that will never fill
    await sim.store.writer.barrier()
    assert receiver.requests == []
    await sim.update_subscription(sub.id, SubscriptionPatch(faults=after))
    await until(lambda: len(receiver.requests) == 2, what="the two held under the old faults")
    assert sorted(event for r in receiver.requests for event in r.event_ids) == sorted(first)
    size = after.get("burst") or after.get("reorder") or 1
    later = await _emit(sim, sub.id, 2 * size)  # whole windows of the new size
    await until(lambda: len(receiver.requests) == 2 + 2 * size, what="the later windows, full")
    assert sorted(event for r in receiver.requests[2:] for event in r.event_ids) == sorted(later)
    # Each one recorded too (the receiver answers before its record is written).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (counts := await sim.store.delivery_counts(subscription_id=sub.id)) != {"succeeded": 2 + 2 * size}:
        assert loop.time() < deadline, counts
        await asyncio.sleep(0.01)
