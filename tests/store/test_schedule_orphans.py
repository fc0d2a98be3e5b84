"""A starting server forgets the stored runs of schedules whose job is gone, but never the run of a schedule that
another server on the same store is making at that moment (its run is stored a moment before its job)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from simulator.core.schedules import Schedules
from simulator.models.inputs import RunSpec
from simulator.store import Store
from simulator.store.schedule_runs import ORPHAN_AFTER, ScheduleRuns, schedule_runs


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url, secret_key="orphans")
    yield opened
    await asyncio.wait_for(opened.close(), 30)


async def refuse(spec: RunSpec) -> object:
    raise AssertionError("nothing may fire or be checked here")


async def test_a_starting_server_keeps_a_run_being_made_and_forgets_an_old_orphan(store: Store) -> None:
    runs = ScheduleRuns(store)
    await runs.prepare()
    run = {"scenario": "api-one-event", "speed": 0}
    await runs.put("sch_being_made", {"interval": 1}, run)  # its job is not added yet
    await runs.put("sch_orphan", {"interval": 1}, run)  # its job was removed while no server ran
    long_ago = time.time() - ORPHAN_AFTER - 1
    await store.writer.submit(
        lambda conn: conn.execute(
            schedule_runs.update().where(schedule_runs.c.id == "sch_orphan").values(created_at=long_ago)
        )
    )
    started = await Schedules.start(store, start_run=refuse, check_run=refuse)  # type: ignore[arg-type]
    try:
        assert set(await runs.many(["sch_being_made", "sch_orphan"])) == {"sch_being_made"}
        assert (await runs.get("sch_being_made")) is not None
    finally:
        await started.close()


async def test_a_table_an_earlier_release_made_gains_the_last_firing_and_keeps_its_runs(store: Store) -> None:
    """The schedules' table had no column for the last firing: it is added as the schedules start, twice over
    harmlessly (servers starting together on one store), and the runs it holds are kept."""
    await store.writer.submit(lambda conn: conn.execute(text(OLD)))
    runs = ScheduleRuns(store)
    await runs.put("sch_old", {"interval": 60}, {"scenario": "api-one-event", "speed": 0})
    await runs.prepare()
    await runs.prepare()
    kept = await runs.get("sch_old")
    assert kept is not None and kept.run["scenario"] == "api-one-event" and kept.last is None
    await runs.fired("sch_old", "run_1", None)
    fired = await runs.get("sch_old")
    assert fired is not None and fired.last is not None and (fired.last["run"], fired.last["error"]) == ("run_1", None)


OLD = """CREATE TABLE schedule_runs (
    id VARCHAR NOT NULL PRIMARY KEY, trigger TEXT NOT NULL, run TEXT NOT NULL, created_at FLOAT NOT NULL
)"""
