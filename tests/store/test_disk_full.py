"""A store whose disk fills up: nothing acknowledged is dropped, new work is refused with StoreUnavailable, every
attempt made meanwhile is recorded once the disk frees, and a restart sends nothing again. On a real 2 MiB tmpfs
filled by a real file, with a real receiver; plus the writer's handling of a change the store refuses outright."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError

from simulator.core.simulator import Simulator
from simulator.errors import StoreUnavailable
from simulator.models.inputs import EventSpec, RetrySpec, RunSpec, SubscriptionSpec
from simulator.store import Store
from simulator.store import tables as t
from simulator.store.writer import Op
from simulator.testing.receiver import Receiver
from tests.api.harness import write_scenarios
from tests.conftest import until
from tests.store.small_disk import fill, small_disk

FULL = "database or disk is full"


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def attempt_row(delivery_id: str, number: int = 1) -> dict[str, Any]:
    """An attempts row as the engine queues it (every column but the id)."""
    return {
        "delivery_id": delivery_id,
        "number": number,
        "started_at": time.time(),
        "latency_ms": 1.0,
        "status_code": 204,
        "error": None,
        "response": "x" * 3000,  # a few rows fill a page: the write needs new room in the WAL
        "response_encoding": None,
        "delivered_at": None,
        "faults": None,
        "request_url": None,
        "request_headers": None,
        "request_body": None,
        "response_headers": None,
    }


async def fill_a_reusable_wal(store: Store) -> None:
    """Rows checkpointed into the database, then changed twice over: the WAL file ends where its frames do, and a
    checkpoint of them needs no new room in the database file, after which the WAL can be written over."""
    rows = [{"key": f"k{i}", "value": f"{i:04d}" + "x" * 2000} for i in range(100)]
    await store.writer.submit(lambda conn: conn.execute(t.settings.insert(), rows))
    async with store.engine.connect() as conn:  # the pages are now in the database file
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        await conn.commit()
    stmt = t.settings.update().where(t.settings.c.key == bindparam("k")).values(value=bindparam("v"))
    for letter in "yz":
        changed = [{"k": f"k{i}", "v": f"{i:04d}" + letter * 2000} for i in range(100)]
        await store.writer.submit(lambda conn, changed=changed: conn.execute(stmt, changed))


def statuses_by_event(receiver: Receiver) -> dict[str, list[int]]:
    """The statuses the receiver answered, per event id, in arrival order."""
    out: dict[str, list[int]] = {}
    for request in list(receiver.requests):
        for event_id in request.event_ids:
            out.setdefault(event_id, []).append(request.status)
    return out


async def test_attempts_made_while_the_disk_is_full_are_recorded_when_it_frees_and_never_sent_again(
    tmp_path: Path, make_receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="webhook_sim.store")
    receiver = make_receiver()
    receiver.respond(503)
    scenarios = write_scenarios(tmp_path / "scenarios")
    with small_disk(tmp_path / "disk") as disk:
        db = str(disk / "sim.db")
        sim = await Simulator.open(db, scenario_dirs=[scenarios])
        try:
            retry = RetrySpec(delays=[0.5] * 50, jitter=0)
            sub = await sim.create_subscription(
                SubscriptionSpec(url=receiver.url, events=["token.created"], signing="standard", retry=retry)
            )
            emitted = {(await sim.emit(EventSpec(type="token.created")))[0].id for _ in range(3)}
            await until(lambda: set(statuses_by_event(receiver)) == emitted, what="each event tried once")
            await sim.store.writer.barrier()

            filler = fill(disk)  # from now on every attempt's record needs room the disk does not have
            await until(lambda: FULL in caplog.text, timeout=30, what="SQLite to report the full disk")
            receiver.respond(204)
            await until(
                lambda: all(s[-1] == 204 for s in statuses_by_event(receiver).values()),
                timeout=30,
                what="every delivery to succeed at the receiver while the disk is full",
            )
            with pytest.raises(StoreUnavailable, match=FULL):
                await sim.emit(EventSpec(type="token.created"))
            with pytest.raises(StoreUnavailable, match=FULL):
                await sim.runs.start(RunSpec(scenario="api-one-event", target=receiver.url))
            with pytest.raises(StoreUnavailable, match=FULL):
                await sim.create_subscription(SubscriptionSpec(url=receiver.url))

            filler.unlink()

            async def all_recorded() -> bool:
                deliveries = [d for _, d in await sim.store.list_deliveries(subscription_id=sub.id)]
                if {d.status for d in deliveries} != {"succeeded"}:
                    return False
                return [len(await sim.store.attempts(d.id)) for d in deliveries] == [d.attempts for d in deliveries]

            await wait_until(all_recorded, what="every delivery succeeded with its attempts recorded")
            assert sim.store.writer.unavailable is None
            answered = statuses_by_event(receiver)
            deliveries = [d for _, d in await sim.store.list_deliveries(subscription_id=sub.id)]
            assert {d.event_ids[0] for d in deliveries} == emitted  # the refused emit left nothing behind
            for d in deliveries:
                recorded = [a.status_code for a in await sim.store.attempts(d.id)]
                assert recorded == answered[d.event_ids[0]]  # every attempt made, and only those, in order
            assert len(await sim.store.list_runs()) == 0
            assert len(await sim.list_subscriptions()) == 1
        finally:
            await asyncio.wait_for(sim.close(grace=1), 60)

        sent_before = len(receiver.requests)
        sim = await Simulator.open(db, scenario_dirs=[scenarios])
        try:
            assert await sim.store.active_subscription_ids() == []  # nothing for the engine to resume
            # A new event through the same receiver: once it is in, anything resumed at the start would be too.
            sentinel, _ = await sim.emit(EventSpec(type="token.created", target=receiver.url))
            await until(lambda: sentinel.id in statuses_by_event(receiver), what="a new event after the restart")
            assert len(receiver.requests) == sent_before + 1
        finally:
            await asyncio.wait_for(sim.close(grace=1), 60)


async def test_closing_gives_up_on_a_disk_that_never_frees_and_logs_what_was_not_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="webhook_sim.store")
    with small_disk(tmp_path / "disk") as disk:
        store = await Store.open(str(disk / "sim.db"))
        closed = False
        try:
            fill(disk)
            store.writer.put_nowait(Op(attempts=tuple(attempt_row("msg_lost", n) for n in range(1, 4))))
            owned = asyncio.ensure_future(store.set_setting("owned", "x" * 5000))
            await until(lambda: FULL in caplog.text, timeout=30, what="SQLite to report the full disk")
            await asyncio.wait_for(store.close(), 60)  # bounded (CLOSE_GRACE), though the disk never frees
            closed = True
            with pytest.raises(StoreUnavailable, match=FULL):
                await owned
            errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
            [told] = [m for m in errors if "store closed without writing 3 attempts" in m]
            assert f"the store never took them ({FULL}" in told, told
        finally:
            if not closed:
                await asyncio.wait_for(store.close(), 60)


async def test_a_full_disk_whose_wal_can_be_reused_takes_the_batch_without_freeing_anything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's WAL only grows until a checkpoint, which on a small disk may never come: the writer checkpoints
    after `database or disk is full`, and the batch then fits in the WAL's own room."""
    caplog.set_level(logging.WARNING, logger="webhook_sim.store")
    with small_disk(tmp_path / "disk") as disk:
        store = await Store.open(str(disk / "sim.db"))
        try:
            await fill_a_reusable_wal(store)

            # Another connection stays open, as the scheduler's does: the writer's reconnecting is then not the
            # last connection closing, which would checkpoint on its own.
            other = sqlite3.connect(disk / "sim.db")
            other.execute("SELECT count(*) FROM settings").fetchall()  # connected for real: SQLite opens lazily
            try:
                fill(disk)
                # 60 rows (about 180 KB): more than the slack a filled disk leaves whatever the schema's layout,
                # less than the room the WAL's checkpointed frames free.
                store.writer.put_nowait(Op(attempts=tuple(attempt_row("msg_fits", n) for n in range(1, 61))))
                await asyncio.wait_for(store.writer.barrier(), 60)
                assert FULL in caplog.text  # the disk was full, and is still
                assert len(await store.attempts("msg_fits")) == 60
                assert store.writer.unavailable is None
            finally:
                other.close()
        finally:
            await asyncio.wait_for(store.close(), 60)


async def test_a_change_the_store_refuses_fails_alone_and_its_owner_is_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await Store.open(str(tmp_path / "sim.db"))
    try:
        await store.set_setting("taken", "1")
        told: dict[str, BaseException | None] = {}

        def owner(name: str) -> Callable[[BaseException | None], None]:
            return lambda exc: told.__setitem__(name, exc)

        async def duplicate(conn: Any) -> None:
            await conn.execute(text("INSERT INTO settings (key, value) VALUES ('taken', '2')"))

        async def fine(conn: Any) -> None:
            await conn.execute(text("INSERT INTO settings (key, value) VALUES ('fine', '1')"))

        # Queued together, so the writer takes them as one batch.
        store.writer.put_nowait(Op(attempts=(attempt_row("msg_1"),)))
        store.writer.put_nowait(Op(call=duplicate, done=owner("duplicate")))
        store.writer.put_nowait(Op(call=duplicate))  # no owner: it can only be logged
        store.writer.put_nowait(Op(call=fine, done=owner("fine")))
        await store.writer.barrier()

        assert isinstance(told["duplicate"], IntegrityError)
        assert told["fine"] is None
        assert await store.get_setting("fine") == "1"
        assert [a.delivery_id for a in await store.attempts("msg_1")] == ["msg_1"]
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert "store write failed; 0 owners told, lost without an owner: 1 calls" in errors, errors
    finally:
        await store.close()


async def test_a_shutdown_on_a_disk_that_never_frees_closes_everything_and_the_next_start_goes_on_with_its_runs(
    tmp_path: Path, make_receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    """A run cut by the shutdown is handed back for the next start; when the store cannot write that, the shutdown
    goes on (it stopped there: the engine and the store were never closed) and the next start goes on with it."""
    caplog.set_level(logging.WARNING)
    receiver = make_receiver()
    scenarios = write_scenarios(tmp_path / "scenarios")
    with small_disk(tmp_path / "disk") as disk:
        db = str(disk / "sim.db")
        sim = await Simulator.open(db, scenario_dirs=[scenarios])
        run = await sim.runs.start(RunSpec(scenario="api-slow", target=receiver.url))  # waits an hour after one
        await until(lambda: len(receiver.requests) == 1, what="the run's first delivery")
        await sim.store.writer.barrier()
        filler = fill(disk)
        sim.store.writer.put_nowait(Op(attempts=tuple(attempt_row("msg_lost", n) for n in range(1, 4))))
        await until(lambda: FULL in caplog.text, timeout=30, what="SQLite to report the full disk")
        await asyncio.wait_for(sim.close(grace=1), 60)  # raised StoreUnavailable, half closed
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any(run.id in m and "could not be handed back" in m for m in errors), errors

        filler.unlink()
        sim = await Simulator.open(db, scenario_dirs=[scenarios])
        try:
            await until(lambda: run.id in sim.runs._emitted, what="the next start to go on with the run")
            going = await sim.runs.get(run.id)
            assert (going.status, going.events, going.error) == ("running", 1, None), going
            assert len(receiver.requests) == 1  # its first event is not made again
        finally:
            await asyncio.wait_for(sim.close(grace=1), 60)
