"""Publishing many deliveries fast, and reading who holds what in a shared store."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select

from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.models import Subscription
from simulator.models.inputs import SubscriptionSpec
from simulator.store import tables as t
from simulator.testing.receiver import Receiver


async def subscribe(sim: Simulator, receiver: Receiver, count: int, **spec: object) -> list[Subscription]:
    return [
        await sim.create_subscription(
            SubscriptionSpec(url=f"{receiver.url}/s{i}", events=["token.created"], signing="standard", **spec)
        )
        for i in range(count)
    ]


async def publish(sim: Simulator, subs: Sequence[Subscription], count: int, seed: int = 18) -> list[str]:
    """`count` token.created events to every one of `subs`, committed; their ids in order."""
    etype = catalog.resolve("token.created")
    ctx = catalog.new_context(seed, catalog.SAMPLE_TIME)
    ids = []
    for _ in range(count):
        event = catalog.build_event(etype, ctx)
        await sim.engine.publish(event, subs, speed=0)
        ids.append(event.id)
    await sim.store.writer.barrier()
    return ids


def by_path(receiver: Receiver) -> dict[str, list[str]]:
    """The event ids each subscription's path received, in arrival order."""
    out: dict[str, list[str]] = collections.defaultdict(list)
    for request in list(receiver.requests):
        out[request.path].extend(request.event_ids)
    return out


def duplicates(receiver: Receiver) -> int:
    counts = collections.Counter((r.path, r.headers["webhook-id"]) for r in list(receiver.requests))
    return sum(n - 1 for n in counts.values())


def distinct(receiver: Receiver) -> int:
    return len({(r.path, r.headers["webhook-id"]) for r in list(receiver.requests)})


async def lease_owners(sim: Simulator) -> dict[str, str | None]:
    s = t.subscriptions.c
    async with sim.store.engine.connect() as conn:
        return {row.id: row.lease_owner for row in await conn.execute(select(s.id, s.lease_owner))}


async def process_pids(sim: Simulator) -> dict[str, int]:
    p = t.processes.c
    async with sim.store.engine.connect() as conn:
        return {row.id: row.pid for row in await conn.execute(select(p.id, p.pid))}


async def until_read(check: Callable[[], Awaitable[object]], timeout: float, what: str) -> None:
    """`until` for a check that reads the store: wait until what it returns is truthy."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.05)


async def until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
