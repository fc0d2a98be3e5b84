"""On PostgreSQL a transaction of rows is written straight on asyncpg's connection. A connection that fails and
cannot even roll back is dropped, and the rows are written on a new one; one that refused the rows themselves is
kept, and the refused change fails alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from simulator.store import Store, direct
from simulator.store import tables as t
from simulator.store import transaction as transaction_module
from simulator.store.writer import Op
from tests.store import pg
from tests.store.test_outbox_notify import rows
from tests.store.test_secrets import subscription


@pytest.fixture
async def store(pg_cluster: pg.Cluster) -> AsyncIterator[Store]:
    opened = await Store.open(pg_cluster.create_database(f"rows_{uuid.uuid4().hex[:8]}"), secret_key="rows")
    yield opened
    await asyncio.wait_for(opened.close(), 30)


async def write(store: Store, op: Op) -> BaseException | None:
    done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    op.done = done.set_result
    store.writer.put_nowait(op)
    return await asyncio.wait_for(done, 30)


async def count(store: Store) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(t.deliveries))).scalar_one())


async def test_a_connection_left_busy_is_dropped_and_the_rows_written_on_another(
    store: Store, monkeypatch: pytest.MonkeyPatch
):
    """As after PostgreSQL's restart mid-statement: the connection is still busy with what failed, so the next
    BEGIN fails ("another operation is in progress", which does not say the connection is lost), and so does
    the ROLLBACK. The busy state itself comes only from a server going away at the wrong moment; it is imitated."""
    await write(store, Op(events=(rows(1)[0],)))  # the writer holds a connection
    real = asyncpg.Connection.execute
    busy: list[Any] = []

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if query == "BEGIN" and not busy:
            busy.append(self)
        if busy and self is busy[0] and query in ("BEGIN", "ROLLBACK"):
            raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")
        return await real(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "execute", execute)
    event, delivery = rows(2)
    assert await write(store, Op(events=(event,), deliveries=(delivery,))) is None
    assert busy and await count(store) == 1


async def test_a_refused_row_fails_its_own_change_and_the_connection_is_kept(store: Store):
    event, delivery = rows(3)
    assert await write(store, Op(events=(event,), deliveries=(delivery,))) is None
    kept = store.writer._conn
    refused = await write(store, Op(deliveries=(delivery,)))  # the same delivery id again
    assert isinstance(refused, IntegrityError) and not refused.connection_invalidated
    assert await write(store, Op(events=(rows(4)[0],), deliveries=(rows(4)[1],))) is None
    assert store.writer._conn is kept and await count(store) == 2


async def test_a_transaction_cancelled_midway_closes_its_connection(store: Store, monkeypatch: pytest.MonkeyPatch):
    """SQLAlchemy does not know of the transaction begun straight on asyncpg, so its pool would not end it: a
    transaction cancelled before its COMMIT must not leave its connection open inside it."""
    started = asyncio.Event()

    async def stalled(self: Any, *args: Any, **kwargs: Any) -> None:
        started.set()
        await asyncio.Event().wait()  # a statement that does not come back

    event = rows(5)[0]
    async with store.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        monkeypatch.setattr(asyncpg.Connection, "executemany", stalled)
        task = asyncio.create_task(
            direct.postgres_rows(conn, [(transaction_module._EVENT_INSERT, [event])], notify_as=None)
        )
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert driver.is_closed()


async def test_a_senders_record_changes_a_delivery_only_under_its_lease(store: Store):
    """A sender cut off from the store past its lease went on attempting; another took the subscription and sent
    the delivery again. The first one's late record, keyed by the id alone, landed over the new holder's: a delivery
    its receiver had answered 204 showed `dead`. Now a record changes the delivery only while the sender holds the
    subscription, unless it is marked unfenced (`_owner` None: a resend, claimed by its own conditional write)."""
    await store.put_subscription(subscription("sub_1", "whsec_" + "A" * 32))
    event, delivery = rows(1)
    assert await write(store, Op(events=(event,), deliveries=(delivery,))) is None
    store.records.sender = "proc_me"

    async def lease_to(owner: str) -> None:
        async with store.engine.begin() as conn:
            await conn.execute(update(t.subscriptions).values(lease_owner=owner, lease_until=None))

    async def record(**state: Any) -> tuple[str, int]:
        done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        row = {**{k: v for k, v in delivery.items() if k in transaction_module._DELIVERY_UPDATE_COLUMNS}, **state}
        store.records.put_nowait(Op(updates=({"_id": delivery["id"], **row},), done=done.set_result))
        assert await asyncio.wait_for(done, 30) is None
        async with store.engine.connect() as conn:
            found = await conn.execute(select(t.deliveries.c.status, t.deliveries.c.attempts))
            status, attempts = found.one()
        return status, attempts

    await lease_to("proc_other")  # taken over: its holder's state stands
    assert await record(status="dead", attempts=1) == ("pending", 0)
    await lease_to("proc_me")
    assert await record(status="succeeded", attempts=1) == ("succeeded", 1)
    await lease_to("proc_other")
    assert await record(status="pending", attempts=1, _owner=None) == ("pending", 1)
