"""`webhook-sim worker` processes on one PostgreSQL store: they share the subscriptions, keep each one's order,
take over from a worker killed mid-run, and lose nothing when the database restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulator.core.simulator import Simulator
from simulator.testing.receiver import Receiver
from tests.scale.helpers import by_path, distinct, duplicates, lease_owners, process_pids, publish, subscribe, until
from tests.store import pg

TTL = "2"  # seconds: a killed worker's subscriptions move on quickly


@pytest.fixture
async def publisher(db: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Simulator]:
    """A simulator on the shared store that publishes and leaves sending to the workers."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")  # the workers unseal the subscriptions' secrets
    sim = await Simulator.open(db, sends=False, lease_ttl=float(TTL))
    yield sim
    await sim.close()


async def test_two_workers_share_the_subscriptions_and_keep_each_ones_order(db: str, spawn: Any, publisher: Simulator):
    workers = [spawn("worker", "--db", db, "--lease-ttl", TTL, ready="sending") for _ in range(2)]
    with Receiver() as receiver:
        receiver.respond(204, delay=0.002)
        subs = await subscribe(publisher, receiver, 4, strict_order=True)
        published = await publish(publisher, subs, 150)

        async def owners() -> set[str | None]:
            return set((await lease_owners(publisher)).values())

        seen: set[str | None] = set()
        while distinct(receiver) < 600:  # who holds what, while they send
            seen |= await owners()
            await asyncio.sleep(0.05)
            assert all(w.popen.poll() is None for w in workers), [w.output() for w in workers]
        assert await publisher.engine.settled(None, timeout=60)
    pids = await process_pids(publisher)
    senders = {owner for owner in seen if owner is not None}
    assert len(senders) == 2, f"one worker did all the work: {seen}"
    assert {pids[o] for o in senders} == {w.pid for w in workers}
    assert duplicates(receiver) == 0
    arrived = by_path(receiver)
    assert sorted(arrived) == [f"/hook/s{i}" for i in range(4)]
    for path, ids in arrived.items():
        assert ids == published, f"{path} out of order"
    counts = await publisher.store.delivery_counts()
    assert counts == {"succeeded": 600}


async def test_a_killed_workers_subscriptions_go_on_from_another(db: str, spawn: Any, publisher: Simulator):
    workers = [spawn("worker", "--db", db, "--lease-ttl", TTL, ready="sending") for _ in range(2)]
    with Receiver() as receiver:
        receiver.respond(204, delay=0.01)
        subs = await subscribe(publisher, receiver, 4, max_in_flight=2)
        published = await publish(publisher, subs, 200)
        total = len(published) * len(subs)
        await until(lambda: distinct(receiver) >= total * 0.3, 60, "30 % of the deliveries")
        owners = await lease_owners(publisher)
        pids = await process_pids(publisher)
        victim = workers[0]
        held = [sub for sub, owner in owners.items() if owner and pids.get(owner) == victim.pid]
        victim.kill()
        await until(lambda: distinct(receiver) >= total, 60, "every delivery after the kill")
        assert await publisher.engine.settled(None, timeout=30)
    arrived = by_path(receiver)
    for ids in arrived.values():
        assert set(ids) == set(published)
    # Sent again: only what the killed worker had sent and not yet recorded (at most its attempts under way).
    in_flight = len(held) * 2
    assert duplicates(receiver) <= 2 * in_flight, (duplicates(receiver), held)
    assert await publisher.store.delivery_counts() == {"succeeded": total}
    assert workers[1].popen.poll() is None


async def test_a_database_restart_mid_run_loses_nothing(db: str, cluster: pg.Cluster, spawn: Any, publisher: Simulator):
    worker = spawn("worker", "--db", db, ready="sending")
    with Receiver() as receiver:
        receiver.respond(204, delay=0.01)
        subs = await subscribe(publisher, receiver, 2, max_in_flight=2)
        published = await publish(publisher, subs, 200)
        total = len(published) * len(subs)
        await until(lambda: distinct(receiver) >= total * 0.4, 60, "40 % of the deliveries")
        await asyncio.to_thread(pg.restart, cluster)
        await until(lambda: distinct(receiver) >= total, 60, f"every delivery after the restart\n{worker.output()}")
        assert await publisher.engine.settled(None, timeout=60), worker.output()
        counts = await publisher.store.delivery_counts()
    assert counts == {"succeeded": total}, (counts, worker.output())
    assert duplicates(receiver) == 0, worker.output()
    assert worker.popen.poll() is None, worker.output()
