"""The store contract end to end, on SQLite and on PostgreSQL: a scenario delivered over real HTTP to a real
receiver, schedules in APScheduler's job store on the same database, and the schema version a store records."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from simulator.core.schedules import Schedules
from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, ScheduleSpec
from simulator.store import Store, schema, tables
from simulator.store.schema import SCHEMA_VERSION, VERSION_SETTING, StoreTooNew, StoreVersionUnreadable
from simulator.testing.receiver import Receiver
from tests.store import pg


async def test_a_scenario_is_delivered_end_to_end(store_url: str, receiver: Receiver):
    sim = await Simulator.open(store_url)
    try:
        run = await sim.runs.start(
            RunSpec(scenario="syncfy-credential-lifecycle", seed=11, speed=0, target=receiver.url)
        )
        done = await sim.runs.wait(run.id, timeout=60)
        assert done.status == "completed" and done.events > 0

        async def settled() -> dict[str, int]:
            return await sim.store.delivery_counts(run.id)

        counts: dict[str, int] = {}
        deadline = asyncio.get_running_loop().time() + 60
        while set(counts) != {"succeeded"}:
            assert asyncio.get_running_loop().time() < deadline, f"deliveries did not all succeed: {counts}"
            counts = await settled()
            await asyncio.sleep(0.02)
        deliveries = [d for _, d in await sim.store.list_deliveries(run_id=run.id)]
        arrived = await receiver.wait_for_async(len(deliveries), timeout=30)
        assert len(arrived) == len(deliveries) == counts["succeeded"]
        for delivery in deliveries:
            attempts = await sim.store.attempts(delivery.id)
            assert [(a.number, a.status_code) for a in attempts] == [(1, 204)]
        attempts_made, latencies = await sim.store.run_attempt_stats(run.id)
        assert attempts_made == len(latencies) == len(deliveries)
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)


async def test_schedules_live_in_the_same_database_and_fire(store_url: str, receiver: Receiver):
    sim = await Simulator.open(store_url)
    schedules = await Schedules.start(sim.store, sim.start_run, sim.validate_run)
    try:
        made = await schedules.create(
            ScheduleSpec(scenario="syncfy-credential-lifecycle", interval=1, speed=0, target=receiver.url)
        )
        runs: list[object] = []

        async def fired() -> None:
            runs[:] = await sim.store.list_runs()

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not runs:
            assert loop.time() < deadline, "the schedule did not start a run in 30 s"
            await fired()
            await asyncio.sleep(0.05)
    finally:
        await schedules.close()
    again = await Schedules.start(sim.store, sim.start_run, sim.validate_run)
    try:
        listed, _ = await again.list(10, None)
        assert [s["id"] for s in listed] == [made["id"]]
        await again.delete(made["id"])
    finally:
        await again.close()
        await asyncio.wait_for(sim.close(grace=1), 30)


async def test_a_store_records_its_schema_version(store_url: str):
    store = await Store.open(store_url)
    try:
        assert await store.get_setting(VERSION_SETTING) == str(SCHEMA_VERSION)
    finally:
        await store.close()


async def test_a_store_written_by_a_newer_release_is_refused_naming_both_versions(store_url: str):
    store = await Store.open(store_url)
    try:
        await store.set_setting(VERSION_SETTING, str(SCHEMA_VERSION + 1))
    finally:
        await store.close()
    with pytest.raises(StoreTooNew) as refused:
        await (await Store.open(store_url)).close()
    assert f"version {SCHEMA_VERSION + 1}" in refused.value.detail
    assert f"version {SCHEMA_VERSION}:" in refused.value.detail
    # Refused before anything was changed: the newer version is still recorded, and the store can be opened once
    # the newer release (here: the setting put back) says so.
    reopened = await _open_as_version(store_url, SCHEMA_VERSION + 1)
    assert reopened == str(SCHEMA_VERSION + 1)


async def test_a_store_whose_version_is_not_a_number_is_refused_saying_so(store_url: str):
    store = await Store.open(store_url)
    try:
        await store.set_setting(VERSION_SETTING, "abc")
    finally:
        await store.close()
    with pytest.raises(StoreVersionUnreadable) as refused:
        await (await Store.open(store_url)).close()
    assert "'abc', not a number" in refused.value.detail


async def test_a_store_of_an_earlier_release_gets_the_columns_and_indexes_added_since(store_url: str):
    """`attempts.response_encoding` and `ix_deliveries_n` came after their tables: a store made before them gets
    them as it is opened (a new store is made whole at once, without a look at each table and index)."""
    await (await Store.open(store_url)).close()
    engine = create_async_engine(store_url.replace("sqlite:///", "sqlite+aiosqlite:///"))
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP INDEX ix_deliveries_n")
            await conn.exec_driver_sql("ALTER TABLE attempts DROP COLUMN response_encoding")
        await (await Store.open(store_url)).close()
        async with engine.connect() as conn:
            columns, indexes = await conn.run_sync(
                lambda sync: (
                    {c["name"] for c in inspect(sync).get_columns("attempts")},
                    {i["name"] for i in inspect(sync).get_indexes("deliveries")},
                )
            )
    finally:
        await engine.dispose()
    assert "response_encoding" in columns and "ix_deliveries_n" in indexes


def test_a_new_store_is_made_without_looking_for_what_is_missing(tmp_path: Path):
    """Each table's columns and each index were looked up on a store just made, which had them all: 136
    statements to make a store, where opening it again takes 93. Counted, not timed."""
    statements: list[str] = []
    engine = create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with engine.begin() as conn:
        schema.prepare(conn)
    made = len(statements)
    statements.clear()
    with engine.begin() as conn:
        schema.prepare(conn)  # the same store again: now it is looked over
    engine.dispose()
    looked_over = len(statements)
    lookups = sum("PRAGMA" in s and ("table_xinfo" in s or "table_info" in s or "index_list" in s) for s in statements)
    assert lookups > len(tables.metadata.tables)  # what an opening of an existing store does
    assert made < looked_over, (made, looked_over)


async def _open_as_version(store_url: str, version: int) -> str | None:
    from simulator.store import schema

    saved = schema.SCHEMA_VERSION
    schema.SCHEMA_VERSION = version
    try:
        store = await Store.open(store_url)
    finally:
        schema.SCHEMA_VERSION = saved
    try:
        return await store.get_setting(VERSION_SETTING)
    finally:
        await store.close()


async def test_plain_postgresql_urls_use_asyncpg(pg_cluster: pg.Cluster):
    plain = pg_cluster.create_database("plain_url").replace("postgresql+asyncpg://", "postgresql://", 1)
    store = await Store.open(plain)
    try:
        assert store.engine.url.drivername == "postgresql+asyncpg"
        assert await store.get_setting(VERSION_SETTING) == str(SCHEMA_VERSION)
    finally:
        await store.close()
