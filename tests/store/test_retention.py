"""Retention (`serve --retention`): deliveries that ended before the cutoff go, with their attempts; deliveries
still under way stay whatever their age, and so do the events (the API twins answer from them). On both stores,
and through `serve` on a store whose log is old."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from simulator.core.simulator import Simulator
from simulator.core.watch import DeliveryWatch, Filters
from simulator.models.inputs import EventSpec, RunSpec, SubscriptionSpec
from simulator.store import retention
from simulator.store import tables as t
from simulator.store.retention import prune
from simulator.testing.receiver import Receiver
from tests.api.serving import Served, clean_env
from tests.store import pg

CLOSED = "http://127.0.0.1:9/refused"  # nothing listens: its deliveries wait for their retries


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s"
        await asyncio.sleep(0.02)


async def count(sim: Simulator, table: object) -> int:
    async with sim.store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_ended_deliveries_go_with_their_attempts_and_the_rest_stays(store_url: str, receiver: Receiver) -> None:
    sim = await Simulator.open(store_url)
    try:
        ok = await sim.create_subscription(SubscriptionSpec(url=receiver.url))
        failing = await sim.create_subscription(SubscriptionSpec(url=CLOSED))
        for _ in range(3):
            await sim.emit(EventSpec(type="token.created"))

        async def tried() -> bool:
            done = await sim.store.delivery_counts(subscription_id=ok.id)
            waiting = [d for _, d in await sim.store.list_deliveries(subscription_id=failing.id)]
            return done.get("succeeded") == 3 and len(waiting) == 3 and all(d.attempts >= 1 for d in waiting)

        await eventually(tried)
        await sim.store.writer.barrier()
        events = await count(sim, t.events)
        assert await prune(sim.store, older_than=3600) == 0  # nothing ended an hour ago
        assert await prune(sim.store, older_than=60, now=time.time() + 3600) == 3
        left = [d for _, d in await sim.store.list_deliveries()]
        assert {d.subscription_id for d in left} == {failing.id}  # under way, however old
        assert all(d.status not in ("succeeded", "dead", "dropped") for d in left)
        async with sim.store.engine.connect() as conn:
            owners = {row.delivery_id for row in await conn.execute(select(t.attempts.c.delivery_id))}
        assert owners == {d.id for d in left}  # the pruned deliveries' attempts went with them
        assert await count(sim, t.events) == events  # the twins answer from them
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)


def test_serve_with_retention_prunes_an_old_log_at_start(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "old.db"

    async def fill() -> None:
        sim = await Simulator.open(str(db))
        try:
            await sim.create_subscription(SubscriptionSpec(url=receiver.url))
            for _ in range(4):
                await sim.emit(EventSpec(type="token.created"))

            async def delivered() -> bool:
                return (await sim.store.delivery_counts()).get("succeeded") == 4

            await eventually(delivered)
        finally:
            await sim.close(grace=1)

    asyncio.run(fill())
    with sqlite3.connect(db) as conn:  # two of them ended two hours ago
        conn.execute(
            "UPDATE deliveries SET created_at = created_at - 7200, finished_at = finished_at - 7200 "
            "WHERE id IN (SELECT id FROM deliveries ORDER BY n LIMIT 2)"
        )
    served = Served(tmp_path / "logs", ["--db", str(db), "--retention", "1h"])
    try:

        def kept() -> list[dict[str, object]] | None:
            data = httpx.get(f"{served.url}/deliveries").json()["data"]
            return data if len(data) == 2 else None

        deadline = time.monotonic() + 30
        while (left := kept()) is None:
            assert time.monotonic() < deadline, "the old deliveries were not pruned"
            time.sleep(0.05)
        assert all(d["status"] == "succeeded" for d in left)
    finally:
        served.stop()
    assert "retention: 2 deliveries" in served.log()


def test_a_retention_that_is_no_duration_is_exit_2_naming_the_option(tmp_path: Path) -> None:
    for value in ("soon", "10s", "-1d"):
        command = [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--db", str(tmp_path / "x.db")]
        done = subprocess.run([*command, "--retention", value], env=clean_env(), capture_output=True, text=True)
        assert done.returncode == 2 and "--retention" in done.stderr, done.stderr
    assert not (tmp_path / "x.db").exists()


async def delivered(sim: Simulator, receiver: Receiver, events: int) -> list[str]:
    """`events` ad-hoc events delivered to `receiver`; their deliveries' ids, all succeeded."""
    await sim.create_subscription(SubscriptionSpec(url=receiver.url))
    for _ in range(events):
        await sim.emit(EventSpec(type="token.created"))

    async def done() -> bool:
        return (await sim.store.delivery_counts()).get("succeeded") == events

    await eventually(done)
    await sim.store.writer.barrier()
    return [d.id for _, d in await sim.store.list_deliveries()]


async def test_what_is_being_sent_again_or_was_made_pending_meanwhile_stays(store_url: str, receiver: Receiver) -> None:
    sim = await Simulator.open(store_url)
    try:
        first, second, third = await delivered(sim, receiver, 3)
        later = time.time() + 3600
        sim.redelivering().add(first)  # a resend under way in this process, its new state not committed yet
        candidates = await retention._ended_before(sim.store, later - 60)
        assert set(candidates) == {first, second, third}
        async with sim.store.engine.begin() as conn:  # another process made `second` pending after the read
            await conn.execute(
                t.deliveries.update().where(t.deliveries.c.id == second).values(status="pending", finished_at=None)
            )
        deleted = await retention._delete(sim.store, candidates, later - 60, sim.redelivering)
        assert deleted == 1  # the count is what the DELETE removed, not what was read
        assert {d.id for _, d in await sim.store.list_deliveries()} == {first, second}
    finally:
        sim.redelivering().clear()
        await asyncio.wait_for(sim.close(grace=1), 30)


async def test_a_run_under_way_keeps_its_deliveries_and_the_live_list_hears_of_what_went(
    store_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    Path(tmp_path, "slow.yaml").write_text(
        "name: slow\nprovider: basistheory\ndescription: one event, then a long wait\nsteps:\n"
        "  - emit: token.created\n  - wait: 1h\n  - emit: token.created\n"
    )
    sim = await Simulator.open(store_url, scenario_dirs=[tmp_path])
    try:
        ids = await delivered(sim, receiver, 1)
        run = await sim.runs.start(RunSpec(scenario="slow", speed=1, seed=1))

        async def sent() -> bool:
            return (await sim.store.delivery_counts(run.id)).get("succeeded") == 1

        await eventually(sent)
        await sim.store.writer.barrier()
        with DeliveryWatch(sim.store, Filters()) as watch:  # the dashboard's unfiltered list
            assert await prune(sim.store, older_than=60, now=time.time() + 3600) == 1  # not the running run's
            await asyncio.wait_for(watch.wait(10), 15)
            change = await watch.take()
        assert change.left == ids and change.other  # the page drops the row; runs' counts moved
        await sim.runs.cancel(run.id)
        await sim.runs.wait(run.id, timeout=30)
        assert await prune(sim.store, older_than=60, now=time.time() + 3600) == 1
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)


async def test_on_a_shared_store_a_resend_of_what_another_server_pruned_is_refused_not_sent(
    pg_cluster: pg.Cluster, receiver: Receiver
) -> None:
    """Another server's retention deletes the delivery between this server's read of it and its resend: the resend
    claims the row first, finds it gone, and sends nothing (it sent a webhook no delivery was left to record)."""
    sim = await Simulator.open(pg_cluster.create_database("retention_claim"))
    try:
        [delivery_id] = await delivered(sim, receiver, 1)
        read_subscription = sim.store.get_subscription

        async def pruned_meanwhile(sub_id: str) -> Any:  # called between the read of the row and the resend
            async with sim.store.engine.begin() as conn:
                await conn.execute(t.attempts.delete().where(t.attempts.c.delivery_id == delivery_id))
                await conn.execute(t.deliveries.delete().where(t.deliveries.c.id == delivery_id))
            return await read_subscription(sub_id)

        sim.store.get_subscription = pruned_meanwhile  # type: ignore[method-assign]
        assert await sim.engine.redeliver([delivery_id]) == []
        sim.store.get_subscription = read_subscription  # type: ignore[method-assign]
        await sim.store.writer.barrier()
        assert len(receiver.requests) == 1  # the first delivery only
        assert await sim.store.list_deliveries() == []
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)


async def test_a_pass_whose_whole_batch_is_busy_ends(store_url: str, receiver: Receiver, monkeypatch: Any) -> None:
    """Read again and again, a batch this process is sending again would hold the pass for good."""
    monkeypatch.setattr(retention, "BATCH", 2)
    sim = await Simulator.open(store_url)
    try:
        ids = await delivered(sim, receiver, 3)
        busy = set(ids)
        pruning = prune(sim.store, older_than=60, now=time.time() + 3600, busy=lambda: busy)
        assert await asyncio.wait_for(pruning, 30) == 0
        assert len(await sim.store.list_deliveries()) == 3
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)
