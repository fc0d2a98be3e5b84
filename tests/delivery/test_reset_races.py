"""A reset empties the store: what emits, subscribes or resends at the same time either ends before it or starts
after it, never half of each (an emit that matched its subscription before the reset wrote its event and delivery
after it, and they outlived the reset, for a subscription it had deleted)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, RunSpec, SubscriptionSpec
from simulator.testing.receiver import Receiver
from tests.api.harness import write_scenarios


async def test_nothing_an_emit_racing_a_reset_writes_outlives_the_reset(sim: Simulator, receiver: Receiver) -> None:
    left = []
    for _ in range(5):
        await sim.create_subscription(SubscriptionSpec(url=receiver.url, events=["token.*"], signing="standard"))
        emits = [asyncio.ensure_future(sim.emit(EventSpec(type="token.created"))) for _ in range(20)]
        await asyncio.sleep(0)  # each has started: it is reading the subscriptions it matches
        await sim.reset()
        await asyncio.gather(*emits)
        await sim.store.writer.barrier()
        left += [(d.id, d.status, d.last_error) for _, d in await sim.store.list_deliveries()]
    assert left == []


async def test_a_run_started_as_a_reset_begins_is_cancelled_by_it_and_leaves_nothing(
    tmp_path: Path, receiver: Receiver
) -> None:
    scenarios = write_scenarios(tmp_path / "scenarios")
    sim = await Simulator.open(str(tmp_path / "sim.db"), scenario_dirs=[scenarios])
    try:
        left = []
        for _ in range(5):
            sub = await sim.create_subscription(SubscriptionSpec(url=receiver.url, signing="standard"))
            spec = RunSpec(scenario="api-slow", subscriptions=[sub.id], speed=0)
            starts = [asyncio.ensure_future(sim.start_run(spec)) for _ in range(5)]
            await asyncio.sleep(0)
            await sim.reset()
            await asyncio.gather(*starts, return_exceptions=True)  # one that waited for the reset: 404
            await sim.store.writer.barrier()
            left += [(d.id, d.status) for _, d in await sim.store.list_deliveries()]
            left += [(r.id, r.status) for r in await sim.store.list_runs()]
        assert left == []
    finally:
        await asyncio.wait_for(sim.close(grace=1), 10)
