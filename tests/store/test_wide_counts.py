"""Counts and positions past 2**31 on each store: a long-lived shared store passes them (10,000 deliveries a
second do in under three days), and a page's cursor may name one. PostgreSQL's `integer` is 32-bit, so these
columns are `bigint` there, and a store made before they were is widened as it is opened."""

from __future__ import annotations

import asyncio

from sqlalchemy import text, update

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec
from simulator.store import Store, postgres
from simulator.store import tables as t
from simulator.testing.receiver import Receiver
from tests.store import pg
from tests.store.test_disk_full import wait_until

PAST = 2**31 + 1000  # past PostgreSQL's `integer`, well within a cursor's 18 digits


async def _delivered_run(sim: Simulator, receiver: Receiver, seed: int) -> str:
    run = await sim.runs.start(RunSpec(scenario="syncfy-credential-lifecycle", seed=seed, speed=0, target=receiver.url))
    await sim.runs.wait(run.id, timeout=60)

    async def settled() -> bool:
        return set(await sim.store.delivery_counts(run.id)) == {"succeeded"}

    await wait_until(settled, 60, f"run {run.id}'s deliveries all to succeed")
    return run.id


async def _move_past(store: Store, run_id: str) -> None:
    """Give the run's events, deliveries and the next attempt positions past 2**31, as a store that has made that
    many has them."""
    async with store.engine.begin() as conn:
        await conn.execute(update(t.events).where(t.events.c.run_id == run_id).values(seq=t.events.c.seq + PAST))
        await conn.execute(
            update(t.deliveries).where(t.deliveries.c.run_id == run_id).values(n=t.deliveries.c.n + PAST)
        )
        await conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(events=t.runs.c.events + PAST))
        if postgres.is_postgresql(store.engine.dialect.name):
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('attempts', 'id'), :v)"), {"v": PAST})
        else:  # SQLite numbers a row past the largest rowid
            await conn.execute(update(t.attempts).values(id=t.attempts.c.id + PAST))


async def test_positions_past_two_to_the_31_are_stored_paged_and_continued(store_url: str, receiver: Receiver) -> None:
    sim = await Simulator.open(store_url)
    try:
        first = await _delivered_run(sim, receiver, seed=1)
        await _move_past(sim.store, first)
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)
    # A new process numbers its deliveries after the store's highest position, and its attempts after the last.
    sim = await Simulator.open(store_url)
    try:
        second = await _delivered_run(sim, receiver, seed=2)
        listed = [n for n, _ in await sim.store.list_deliveries()]
        assert listed == sorted(listed) and listed[-1] > PAST
        made = [d for n, d in await sim.store.list_deliveries(run_id=second)]
        for delivery in made:
            assert [a.number for a in await sim.store.attempts(delivery.id)] == [1]
        # Paged from a position past 2**31, in both directions, and a run's events from a cursor past it.
        page = await sim.store.list_deliveries(cursor=PAST, limit=500)
        assert [n for n, _ in page] == [n for n in listed if n > PAST]
        back = await sim.store.list_deliveries(cursor=listed[-1], newest_first=True, limit=500)
        assert [n for n, _ in back] == sorted((n for n in listed if n < listed[-1]), reverse=True)
        events = await sim.store.run_events(first, cursor=PAST)
        assert events and all(e.seq > PAST for e in events)
        assert await sim.store.run_events(first, cursor=10**17) == []
        run = await sim.store.get_run(first)
        assert run is not None and run.events > PAST
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)


async def test_a_postgresql_store_made_with_32_bit_counts_is_widened_as_it_is_opened(pg_cluster: pg.Cluster) -> None:
    url = pg_cluster.create_database("narrow_counts")
    store = await Store.open(url)
    try:
        async with store.engine.begin() as conn:  # as an earlier release made them
            await conn.execute(text("ALTER TABLE deliveries ALTER COLUMN n TYPE integer"))
            await conn.execute(text("ALTER TABLE events ALTER COLUMN seq TYPE integer"))
            await conn.execute(text("ALTER TABLE attempts ALTER COLUMN id TYPE integer"))
            await conn.execute(text("ALTER SEQUENCE attempts_id_seq AS integer"))
    finally:
        await store.close()
    store = await Store.open(url)
    try:
        async with store.engine.connect() as conn:
            columns = await conn.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND data_type IN ('integer', 'bigint')"
                )
            )
            kinds: dict[str, str] = {row[0]: row[1] for row in columns.all()}
            sequence = await conn.execute(text("SELECT data_type FROM information_schema.sequences"))
            sequences = {row[0] for row in sequence.all()}
            await conn.execute(text("SELECT setval('attempts_id_seq', :v)"), {"v": PAST})
    finally:
        await store.close()
    for column in ("deliveries.n", "events.seq", "attempts.id", "runs.events", "bt_objects.n", "syncfy_index.n"):
        assert kinds[column] == "bigint", column
    assert sequences == {"bigint"}
