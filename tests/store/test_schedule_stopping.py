"""A schedule that fires as its server stops: the run it asks for is refused (the server starts no new run), and
that firing was recorded as one that failed, so the next server on the store owed nothing and the run was lost.
It is left unrecorded: the next start fires it (the scheduler has moved past it, see `schedule_catchup`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from simulator.core.schedules import Schedules
from simulator.errors import ShuttingDown
from simulator.models.inputs import RunSpec
from simulator.store import Store
from simulator.store.schedule_runs import ScheduleRuns
from tests.conftest import until
from tests.store import stored_jobs
from tests.store.test_schedule_catchup import (  # noqa: F401  (fixtures: SQLite and PostgreSQL)
    HOUR,
    Starts,
    accept,
    created_long_ago,
    jobs_url,
    made,
    start,
    starts,
    store,
)


async def test_a_firing_refused_as_the_server_stops_fires_at_the_next_start(store: Store, starts: Starts) -> None:  # noqa: F811
    schedule_id = await made(store, starts, interval=3600)
    await created_long_ago(store, schedule_id)
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    trigger = IntervalTrigger(seconds=3600, start_date=due, timezone=UTC)
    stored_jobs.move(jobs_url(store), schedule_id, trigger, due + HOUR)  # moved past it, its run not started
    asked: list[RunSpec] = []

    async def stopping(spec: RunSpec, *, run_id: str | None = None, check: Any = None) -> Any:
        asked.append(spec)
        raise ShuttingDown("the simulator is shutting down; no new runs")

    schedules = await Schedules.start(store, start_run=stopping, check_run=accept)  # type: ignore[arg-type]
    try:
        await until(lambda: asked, what="the firing, as the server stops")
    finally:
        await schedules.close()
    stored = await ScheduleRuns(store).get(schedule_id)
    assert stored is not None and stored.last is None  # not recorded as a firing that failed

    schedules = await start(store, starts)
    try:
        await until(lambda: starts.specs, what="the firing at the next start")
    finally:
        await schedules.close()
    assert starts.dues == [due.timestamp()] and len(starts.specs) == 1
