"""On PostgreSQL, a commit that adds deliveries tells the senders in other processes (`NOTIFY`), in the name of
the process that made them, and a commit of other rows does not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from simulator import catalog
from simulator.delivery.job import Job, event_row
from simulator.store import Store
from simulator.store.postgres import OUTBOX_CHANNEL
from simulator.store.writer import Op
from simulator.timeutil import now_utc
from tests.store import pg


@pytest.fixture
async def store(pg_cluster: pg.Cluster) -> AsyncIterator[Store]:
    opened = await Store.open(pg_cluster.create_database("notify"), secret_key="notify")
    opened.writer.sender = "proc_maker"
    yield opened
    await asyncio.wait_for(opened.close(), 30)


def rows(n: int) -> tuple[dict, dict]:
    event = catalog.build_event(catalog.resolve("basistheory:token.created"), catalog.new_context(n, now_utc()))
    job = Job(
        id=f"msg_{n}", n=n, subscription_id="sub_1", run_id=None, events=[event], envelope_id=None, speed=0, due=0
    )
    return event_row(event, f"k{n}"), job.insert_row([f"k{n}"], 0.0)


async def commit(store: Store, op: Op) -> None:
    done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    op.done = done.set_result
    store.writer.put_nowait(op)
    assert await asyncio.wait_for(done, 10) is None


async def test_a_commit_of_deliveries_notifies_the_senders_and_one_of_events_alone_does_not(store: Store):
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(store.engine.url.render_as_string(hide_password=False).replace("+asyncpg", ""))
    try:
        await listener.add_listener(OUTBOX_CHANNEL, lambda *args: heard.put_nowait(args[3]))
        event, delivery = rows(1)
        await commit(store, Op(events=(event,)))  # no delivery: no word
        await commit(store, Op(events=(rows(2)[0],), deliveries=(delivery,)))
        assert await asyncio.wait_for(heard.get(), 10) == "proc_maker"
        assert heard.empty()  # the first commit said nothing (notifications arrive in commit order)
    finally:
        await listener.close()


async def test_a_sender_that_cannot_listen_gives_its_connection_back(
    pg_cluster: pg.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`LISTEN` failing (the store restarting as it was asked) left the connection taken for it checked out, to be
    terminated by the garbage collector with a warning (an error here); it goes back to the pool, and the sender
    polls instead."""
    from simulator.core.simulator import Simulator

    async def refused(*_: object) -> None:
        raise ConnectionError("the server closed the connection")

    sim = await Simulator.open(pg_cluster.create_database("unlistened"))
    try:
        sharing = sim.engine._sharing
        assert sharing is not None and sharing._listener is not None
        await sharing._unlisten()  # as after a restart of the store: the next round listens anew
        pool = sim.store.engine.pool
        before = pool.checkedout()  # type: ignore[attr-defined]
        monkeypatch.setattr(asyncpg.Connection, "add_listener", refused)
        await sharing._listen()
        assert pool.checkedout() == before  # type: ignore[attr-defined]
        assert sharing._listener is None
    finally:
        await asyncio.wait_for(sim.close(), 30)
