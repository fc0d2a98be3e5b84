"""The lease contract on PostgreSQL: a subscription with work has at most one live holder; processes claiming at
once get disjoint sets; a lapsed lease is free to take; a reaped process's holds are let go."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.store import holds
from simulator.store.leases import Leases
from simulator.testing.receiver import Receiver
from tests.scale.helpers import lease_owners, publish, subscribe


@pytest.fixture
async def filled(db: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Simulator]:
    """Four subscriptions with a delivery each, and nobody sending."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    sim = await Simulator.open(db, sends=False)
    with Receiver() as receiver:
        await publish(sim, await subscribe(sim, receiver, 4), 1)
        yield sim
    await sim.close()


async def eventually(attempt: Callable[[], Awaitable[list[str]]], what: str, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while not (got := await attempt()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return got


async def senders(sim: Simulator, count: int, ttl: float) -> list[Leases]:
    out = [Leases(sim.store.engine, kind="worker", sends=True, ttl=ttl) for _ in range(count)]
    for leases in out:
        await leases.register()
    return out


async def test_processes_claiming_at_once_get_disjoint_subscriptions(filled: Simulator):
    leases = await senders(filled, 4, ttl=30)
    claimed = await asyncio.gather(*(one.claim(4) for one in leases))
    everything = [sub for got in claimed for sub in got]
    assert sorted(everything) == sorted(set(everything)) and len(everything) == 4
    owners = await lease_owners(filled)
    for one, got in zip(leases, claimed, strict=True):
        assert all(owners[sub] == one.id for sub in got)


async def test_a_held_lease_is_not_taken_until_it_lapses(filled: Simulator):
    # Long enough that a loaded machine gets from the first claim to the second within it.
    first, second = await senders(filled, 2, ttl=3.0)
    assert len(await first.claim(4)) == 4
    assert await second.claim(4) == []
    assert await first.renew() == set(await lease_owners(filled))  # renewing keeps them all
    taken = await eventually(lambda: second.claim(4), "the leases to lapse", 15.0)  # no renewal for 3 s
    assert len(taken) == 4
    assert await first.renew() == set()  # the first learns it lost them


async def test_a_reaped_process_lets_go_what_it_held(filled: Simulator):
    gone, survivor = await senders(filled, 2, ttl=0.5)
    await gone.claim(4)
    reaped: list[str] = []

    async def released() -> list[str]:
        await survivor.beat()
        # The simulator's own round (every second) runs the same reap and may come first: whoever reaps, the
        # silent process's subscriptions are let go.
        reaped.extend(await survivor.reap())
        return ["let go"] if set((await lease_owners(filled)).values()) == {None} else []

    await eventually(released, "the silent process to be reaped")
    assert set(reaped) <= {gone.id}  # never the one that beats
    assert await survivor.alive([gone.id, survivor.id]) == {survivor.id}


async def test_a_process_leaving_lets_go_its_holds_and_their_records_say_they_were_cut(
    db: str, monkeypatch: pytest.MonkeyPatch
):
    """Another process sends them in their usual order: a record that still gave the burst's group told of a spike
    that never came."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    holder = await Simulator.open(db)
    with Receiver() as receiver:
        [sub] = await subscribe(holder, receiver, 1)
        ctx = catalog.new_context(3, catalog.SAMPLE_TIME)
        for _ in range(2):  # two of a burst of five: held until the fifth
            event = catalog.build_event(catalog.resolve("token.created"), ctx)
            await holder.engine.publish(event, [sub], speed=0, faults={"burst": 5}, seed=1)
        await holder.store.writer.barrier()
        await holder.close(grace=1)
    reader = await Simulator.open(db, sends=False)
    try:
        left = [d for _, d in await reader.store.list_deliveries(subscription_id=sub.id)]
        assert len(left) == 2 and all(d.faults and d.faults["burst"]["cut"] == holds.CUT for d in left), left
    finally:
        await reader.close()


async def test_a_process_back_from_losing_the_store_reaps_nobody_until_the_others_could_beat(
    filled: Simulator, monkeypatch: pytest.MonkeyPatch
):
    """After the store was away, every beat looks old: the first process back reaped the others, alive, and let
    go what they were holding."""
    quiet, back = await senders(filled, 2, ttl=0.5)
    await asyncio.sleep(0.7)  # `quiet` has not beaten for longer than its lease: it looks dead
    real = back.engine

    class Away:
        def begin(self) -> object:
            raise ConnectionRefusedError("the store is away")

    monkeypatch.setattr(back, "engine", Away())
    with pytest.raises(ConnectionRefusedError):
        await back.beat()
    monkeypatch.setattr(back, "engine", real)
    await back.beat()  # the store is back
    assert await back.reap() == []  # `quiet` may be beating again by the next round: not yet

    async def a_round() -> list[str]:  # as the process's rounds do: a beat, then a reap
        await back.beat()
        return await back.reap()

    reaped = await eventually(a_round, "the silent process to be reaped once `back` has beaten a lease long")
    assert reaped == [quiet.id]


async def test_a_process_leaving_is_not_counted_in_the_others_shares(filled: Simulator):
    """A stopping process takes no more work: counted until its beat stopped, it drew hand-overs to itself."""
    staying, leaving = await senders(filled, 2, ttl=30)
    assert await staying.share() == 2  # four subscriptions with work, two senders
    await leaving.leaving()
    assert await staying.share() == 4
    await leaving.beat()  # it goes on beating while its attempts finish, still not a sender
    assert await staying.share() == 4
