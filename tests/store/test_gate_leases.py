"""On a shared PostgreSQL store a run at speed 0 holds its events back from the twins only while the process that
publishes them holds the lease of the subscription that takes them: a lease given up or lost lets them go at
once, since another process sends them from there and this one would not hear its deliveries start."""

from __future__ import annotations

import asyncio

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.testing.receiver import Receiver
from tests.conftest import until
from tests.store import pg


async def test_a_lease_let_go_lets_the_events_held_for_it_go(pg_cluster: pg.Cluster, receiver: Receiver) -> None:
    sim = await Simulator.open(pg_cluster.create_database("gate_leases"))
    try:
        sub = await sim.create_subscription(SubscriptionSpec(url=receiver.url, events=["syncfy:*"]))
        warm = await sim.runs.start(RunSpec(scenario="syncfy-two-factor", seed=1, speed=0, subscriptions=[sub.id]))
        await sim.runs.wait(warm.id, timeout=60)
        await until(lambda: sub.id in sim.engine.lanes, 30, "this process to take the subscription's lease")
        receiver.respond(204, delay=float("inf"))  # the first delivery hangs: the run's later events stay held
        run = await sim.runs.start(RunSpec(scenario="syncfy-two-factor", seed=2, speed=0, subscriptions=[sub.id]))

        def held() -> bool:
            return any(key.startswith(f"{run.id}/") for key in sim.engine.gate.firsts("syncfy"))

        await until(held, 30, "an event of the run held from the twins")
        await sim.engine.drop_lane(sub.id, grace=0)
        assert sim.engine.gate.firsts("syncfy") == []
    finally:
        receiver.respond(204)
        await asyncio.wait_for(sim.close(grace=1), 30)
