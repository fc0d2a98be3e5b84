"""On PostgreSQL the records of sending (attempts, redeliveries) are written on a connection of their own: a lane
frees its slot once its attempt's record is committed, and that commit no longer waits for the writer's
transaction under way (a run's events made ahead)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, SubscriptionSpec
from simulator.testing.receiver import Receiver
from tests.store import pg

_names = itertools.count(1)


@pytest.fixture
async def sim(pg_cluster: pg.Cluster) -> AsyncIterator[Simulator]:
    opened = await Simulator.open(pg_cluster.create_database(f"records_{next(_names)}"))
    yield opened
    await asyncio.wait_for(opened.close(grace=1), 30)


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, f"{what} within {timeout} s"
        await asyncio.sleep(0.02)


async def test_an_attempts_record_commits_while_the_writer_is_held_in_a_transaction(
    sim: Simulator, receiver: Receiver
) -> None:
    receiver.respond(status=204, delay=0.3)  # the attempt is under way while the writer is held below
    await sim.create_subscription(SubscriptionSpec(url=receiver.url))
    _, [delivery_id] = await sim.emit(EventSpec(type="token.created"))

    async def sending() -> bool:
        return receiver.in_flight == 1

    await until(sending, "the attempt was under way")
    gate = asyncio.Event()

    async def hold(conn: AsyncConnection) -> None:
        await gate.wait()

    held = asyncio.create_task(sim.store.writer.submit(hold))
    try:

        async def recorded() -> bool:
            return [a.status_code for a in await sim.store.attempts(delivery_id)] == [204]

        await until(recorded, "the attempt's record was committed beside the held writer")
        assert not held.done()
        counts = await sim.store.delivery_counts()
        assert counts == {"succeeded": 1}  # the delivery's row changed with its record
    finally:
        gate.set()
        await asyncio.wait_for(held, 10)
    await asyncio.wait_for(sim.store.writer.barrier(), 10)


async def test_a_redelivery_is_recorded_in_order_with_its_attempt(sim: Simulator, receiver: Receiver) -> None:
    """Its reset of the delivery (pending, a fresh budget) and the new attempt's record go through one writer, in
    that order, whatever the other writer is doing: the delivery ends succeeded, not pending (the reset last)."""
    await sim.create_subscription(SubscriptionSpec(url=receiver.url))
    _, [delivery_id] = await sim.emit(EventSpec(type="token.created"))

    def attempts(n: int) -> Callable[[], Awaitable[bool]]:
        async def made() -> bool:
            return len(await sim.store.attempts(delivery_id)) == n

        return made

    await until(attempts(1), "the first attempt was recorded")
    gate = asyncio.Event()

    async def hold(conn: AsyncConnection) -> None:
        await gate.wait()

    held = asyncio.create_task(sim.store.writer.submit(hold))  # the writer busy with something long meanwhile
    try:
        assert await sim.engine.redeliver([delivery_id]) == [delivery_id]
        await until(attempts(2), "the redelivery's attempt was recorded")
    finally:
        gate.set()
        await asyncio.wait_for(held, 10)
    await asyncio.wait_for(sim.store.writer.barrier(), 10)
    assert await sim.store.delivery_counts() == {"succeeded": 1}
