"""The writer's transactions: a patient change (a run's event made ahead of time, an attempt record nothing
waits for) waits a little for company and shares one commit with what follows; a change in a hurry is never
held back; a refused row fails its own change only, with SQLAlchemy's error, on every store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from simulator.store import Store
from simulator.store import tables as t
from simulator.store import writer as writer_module
from simulator.store.writer import Op


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url, secret_key="batching")
    yield opened
    await asyncio.wait_for(opened.close(), 30)


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The event keys each transaction wrote, in order."""
    seen: list[list[str]] = []
    real = writer_module._transaction

    async def spy(conn: Any, batch: Any, *args: Any, **kwargs: Any) -> None:
        await real(conn, batch, *args, **kwargs)
        seen.append([row["key"] for row in batch.events])

    monkeypatch.setattr(writer_module, "_transaction", spy)
    return seen


def event(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "id": f"id-{key}",
        "run_id": None,
        "seq": 0,
        "provider": "basistheory",
        "type": "token.created",
        "occurred_at": "2025-01-01T00:00:00+00:00",
        "envelope_id": None,
        "body": "{}",
    }


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.001)


async def stored_keys(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return {row.key for row in await conn.execute(select(t.events.c.key))}


async def test_patient_changes_wait_for_company_and_share_one_commit(
    store: Store, transactions: list[list[str]]
) -> None:
    writer = store.writer
    writer.put_nowait(Op(events=(event("a"),), patient=True))
    await until(writer._queue.empty)  # the writer took it and waits for company
    writer.put_nowait(Op(events=(event("b"),), patient=True))
    await writer.barrier()  # in a hurry: the commit goes now, with both
    assert [keys for keys in transactions if keys] == [["a", "b"]]
    assert await stored_keys(store) >= {"a", "b"}


async def test_a_change_in_a_hurry_is_not_held_back_by_a_patient_one(
    store: Store, transactions: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "LINGER", 60.0)
    writer = store.writer
    writer.put_nowait(Op(events=(event("patient"),), patient=True))
    await until(writer._queue.empty)
    committed = asyncio.get_running_loop().create_future()
    writer.put_nowait(Op(events=(event("hurried"),), done=committed.set_result))
    assert await asyncio.wait_for(committed, 10) is None
    assert [keys for keys in transactions if keys] == [["patient", "hurried"]]


async def test_a_patient_change_alone_is_written_once_its_wait_is_over(store: Store) -> None:
    store.writer.put_nowait(Op(events=(event("alone"),), patient=True))
    deadline = time.monotonic() + 10
    while "alone" not in await stored_keys(store):
        assert time.monotonic() < deadline, "a patient change was never written"
        await asyncio.sleep(0.02)


async def test_a_refused_row_fails_its_own_change_only(store: Store) -> None:
    outcomes: dict[str, BaseException | None] = {}
    store.writer.put_nowait(Op(events=(event("first"),), done=lambda exc: outcomes.setdefault("first", exc)))
    await store.writer.barrier()
    ops = [
        Op(events=(event("first"),), done=lambda exc: outcomes.setdefault("again", exc), patient=True),
        Op(events=(event("second"),), done=lambda exc: outcomes.setdefault("second", exc), patient=True),
    ]
    for op in ops:  # one batch: it is split until the refused change stands alone
        store.writer.put_nowait(op)
    await store.writer.barrier()
    assert outcomes["first"] is None and outcomes["second"] is None
    assert isinstance(outcomes["again"], IntegrityError)  # SQLAlchemy's, whichever way the rows were written
    assert await stored_keys(store) >= {"first", "second"}


def drain(writer: writer_module.Writer) -> None:
    """What the writer's task does as it takes the queue into a batch (for a writer never started)."""
    while not writer._queue.empty():
        writer._taken(writer._queue.get_nowait())
    writer._room.set()


async def test_while_a_timed_run_writes_other_producers_wait_behind_a_short_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A timed run's changes find at most TIMED_ROWS rows of others ahead of them: a run at speed 0 feels the
    store's pace sooner while one writes, and at the full queue's length again once none has for TIMED_RECENT.
    Rows, not changes: one change of a run at speed 0 carries dozens of events."""
    monkeypatch.setattr(writer_module, "TIMED_ROWS", 4)
    writer = writer_module.Writer(engine=None, max_rows=50)  # type: ignore[arg-type]  # never started: nothing drains

    async def stuck(op: Op) -> bool:
        """Whether `put(op)` is still waiting after the loop has had several turns."""
        task = asyncio.create_task(writer.put(op))
        for _ in range(5):
            await asyncio.sleep(0)
        if task.done():
            return False
        task.cancel()
        return True

    for _ in range(6):  # no timed run: the full queue's length applies
        assert not await stuck(Op(events=(event("bulk"),)))
    writer.put_nowait(Op(events=(event("timed"),), timed=True))
    assert writer.crowded
    assert await stuck(Op(events=(event("bulk"),)))  # 7 rows queued, past 4
    assert not await stuck(Op(events=(event("timed-2"),), timed=True))  # the timed run itself is not held back
    drain(writer)
    assert not writer.crowded
    assert not await stuck(Op(events=(event("bulk"),)))  # room again below 4
    drain(writer)
    assert not await stuck(Op(events=tuple(event(f"chunk-{i}") for i in range(3)), deliveries=({"id": "d"},)))
    assert await stuck(Op(events=(event("bulk"),)))  # one change queued, but of 4 rows
    drain(writer)
    monkeypatch.setattr(writer_module, "TIMED_RECENT", 0.0)  # the timed run's last change is long past
    for _ in range(6):
        assert not await stuck(Op(events=(event("bulk"),)))
    with writer.timed_run():  # a timed run plays, its next event minutes away: the queue stays short meanwhile
        assert await stuck(Op(events=(event("bulk"),)))
        with writer.timed_run(False):  # a run at speed 0 changes nothing
            assert await stuck(Op(events=(event("bulk"),)))
    assert not await stuck(Op(events=(event("bulk"),)))


async def test_a_statement_is_not_held_behind_a_timed_runs_queue_only_by_the_bound_on_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run at a high speed keeps the queue above TIMED_ROWS for as long as it plays; a statement someone waits
    on (a new run, a subscription, a twin's change: `submit`) still goes in. Held to TIMED_ROWS, POST /runs went
    unanswered and schedules could not start their runs while such a run played."""
    monkeypatch.setattr(writer_module, "TIMED_ROWS", 4)
    writer = writer_module.Writer(engine=None, max_rows=50)  # type: ignore[arg-type]  # never started: nothing drains

    async def statement(conn: Any) -> None:
        return None

    with writer.timed_run():
        for i in range(10):
            writer.put_nowait(Op(events=(event(f"timed-{i}"),), timed=True))
        assert writer.crowded
        queued = asyncio.create_task(writer.put(Op(call=statement)))
        await asyncio.wait_for(queued, 5)
        assert writer._queue.qsize() == 11
        bulk = asyncio.create_task(writer.put(Op(events=(event("bulk"),))))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not bulk.done()  # a run at speed 0's change still waits behind the timed run's
        bulk.cancel()
        for i in range(40):  # up to the bound on memory
            writer.put_nowait(Op(events=(event(f"more-{i}"),), timed=True))
        held = asyncio.create_task(writer.put(Op(call=statement)))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not held.done()
        drain(writer)
        await asyncio.wait_for(held, 5)


async def test_producers_wait_once_the_queue_holds_its_bound_in_rows_however_few_the_changes() -> None:
    """What bounds the writer's memory is rows: one change of a run at speed 0 carries dozens of events, and a
    publisher with no lane to wait for grew to 480 MB while 5,000 such changes were queued."""
    writer = writer_module.Writer(engine=None, max_rows=50)  # type: ignore[arg-type]  # never started: nothing drains
    await writer.put(
        Op(events=tuple(event(f"e{i}") for i in range(25)), deliveries=tuple({"id": f"d{i}"} for i in range(25)))
    )
    waiting = asyncio.create_task(writer.put(Op(events=(event("next"),))))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done(), "a second change went in past 50 queued rows"
    drain(writer)
    await asyncio.wait_for(waiting, 5)
