"""On PostgreSQL, a process stopped inside a transaction (SIGSTOP, a paused VM) does not keep its row locks for
as long as it stays stopped: the server ends its session once it has sat idle in the transaction for a lease's
length, and the others' writes go on."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from simulator.core.schedules import Schedules
from simulator.store import Store, postgres
from simulator.store import tables as t
from simulator.store.failures import transient
from tests.store import pg

LEASE = 1.0  # seconds: the stopped session is ended after this long (the floor lowered to it below)
BOUND = 30.0  # the other process's write must not wait for the stopped one to wake (it never does here)
_names = itertools.count(1)


@pytest.fixture
async def stores(pg_cluster: pg.Cluster, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Store, Store]]:
    monkeypatch.setattr(postgres, "HOLD_FLOOR", LEASE)
    url = pg_cluster.create_database(f"stopped_{next(_names)}")
    stopped = await Store.open(url, secret_key="stopped", lease_ttl=LEASE)
    other = await Store.open(url, secret_key="stopped", lease_ttl=LEASE)
    yield stopped, other
    for store in (stopped, other):
        await asyncio.wait_for(store.close(), 30)


async def test_a_session_stopped_inside_its_transaction_lets_its_row_locks_go(stores: tuple[Store, Store]) -> None:
    stopped, other = stores
    await other.set_setting("shared", "before")
    # The stopped process had updated the row and was stopped before its commit: its session is idle in the
    # transaction, holding the row's lock.
    conn = await stopped.engine.connect()
    await conn.begin()
    await conn.execute(update(t.settings).where(t.settings.c.key == "shared").values(value="stopped"))
    try:
        async with asyncio.timeout(BOUND):  # without the limit this waits until the stopped one commits
            await other.set_setting("shared", "after")
        assert await other.get_setting("shared") == "after"
        # Woken, the stopped process finds its session ended, a failure its writer tries again on a new one.
        with pytest.raises(DBAPIError) as ended:
            await conn.execute(text("SELECT 1"))
        assert transient(ended.value), ended.value
    finally:
        await conn.invalidate()
        await conn.close()


async def test_the_limit_is_a_lease_and_never_under_the_floor(pg_cluster: pg.Cluster) -> None:
    store = await Store.open(pg_cluster.create_database("limit"), secret_key="limit", lease_ttl=2.0)
    try:
        async with store.engine.connect() as conn:
            shown = (await conn.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar()
        assert shown == f"{postgres.HOLD_FLOOR:.0f}s"
    finally:
        await store.close()
    store = await Store.open(pg_cluster.create_database("limit_long"), secret_key="limit", lease_ttl=45.0)
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar() == "45s"
    finally:
        await store.close()


async def test_the_schedules_sessions_have_the_same_limit(pg_cluster: pg.Cluster) -> None:
    """APScheduler's job store connects on its own (psycopg): a server stopped as it moved a job on held that row."""
    store = await Store.open(pg_cluster.create_database("limit_jobs"), secret_key="limit", lease_ttl=30.0)
    schedules = await Schedules.start(store, start_run=_never, check_run=_never)  # type: ignore[arg-type]
    try:

        def shown() -> object:
            with schedules.jobs.engine.connect() as conn:
                return conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()

        assert await asyncio.to_thread(shown) == "30s"
    finally:
        await schedules.close()
        await store.close()


async def _never(*_args: object) -> None:
    raise AssertionError("no schedule fires here")


async def test_an_editor_lock_outlasts_the_limit(stores: tuple[Store, Store]) -> None:
    """`one_editor` holds its lock in a transaction that idles while the block works elsewhere: a block longer
    than the limit must still end as it would have, not with its session ended under it."""
    stopped, _ = stores
    async with postgres.one_editor(stopped.engine, "a long change"):
        await asyncio.sleep(LEASE * 2.5)  # the block's work, on other connections
    assert await stopped.get_setting("absent") is None  # the store still answers
