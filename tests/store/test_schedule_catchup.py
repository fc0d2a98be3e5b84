"""What the schedules owe as they start, on SQLite and on PostgreSQL: a firing the scheduler moved past but whose
run never started (a server killed in between) fires once, a recorded one never fires again, a paused schedule
owes nothing, nor do the times a resumed schedule missed while paused; a one-off whose firing was lost fires. A
schedule whose next time is long past fires once for all its missed times, found without walking through each of
them, then goes on at its usual times."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from simulator.core.schedule_catchup import latest_fire_time
from simulator.core.schedules import Schedules, crontab, fire, sync_url
from simulator.errors import Conflict
from simulator.models.inputs import RunSpec, ScheduleSpec
from simulator.store import Store
from simulator.store.schedule_runs import ScheduledRun, ScheduleRuns, schedule_runs
from tests.conftest import until
from tests.store import stored_jobs

HOUR = timedelta(hours=1)


class Starts:
    """The schedules' `start_run`: each run asked for, and the planned time of each firing recorded."""

    def __init__(self) -> None:
        self.specs: list[RunSpec] = []
        self.dues: list[float | None] = []

    async def start_run(self, spec: RunSpec, *, run_id: str | None = None, check: Any = None) -> Any:
        if check is not None:
            await check()
        self.specs.append(spec)
        return SimpleNamespace(id=run_id or f"run_{len(self.specs)}")


async def accept(spec: RunSpec) -> None:
    return None


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url, secret_key="catch-up")
    yield opened
    await asyncio.wait_for(opened.close(), 30)


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> Starts:
    made = Starts()
    recorded = ScheduleRuns.fired

    async def fired(self: ScheduleRuns, schedule_id: str, run_id: str | None, error: str | None, due: Any) -> None:
        await recorded(self, schedule_id, run_id, error, due)
        made.dues.append(due)

    monkeypatch.setattr(ScheduleRuns, "fired", fired)
    return made


async def start(store: Store, starts: Starts) -> Schedules:
    return await Schedules.start(store, start_run=starts.start_run, check_run=accept)  # type: ignore[arg-type]


async def made(store: Store, starts: Starts, *, paused: bool = False, **trigger: Any) -> str:
    """A schedule made by a server that fires nothing, then stopped; its id. `paused`: the schedule itself is
    paused too, so that a scheduler stopping after its time (a slow machine) does not try it as it stops."""
    schedules = await start(store, starts)
    try:
        await asyncio.to_thread(schedules.scheduler.pause)
        shown = await schedules.create(ScheduleSpec(scenario="api-one-event", speed=0, **trigger))
        if paused:
            await schedules.pause(str(shown["id"]))
    finally:
        await schedules.close()
    return str(shown["id"])


async def created_long_ago(store: Store, schedule_id: str) -> None:
    """As if the schedule had been made two hours ago (its record older than any time the test gives its job)."""
    stmt = schedule_runs.update().where(schedule_runs.c.id == schedule_id).values(created_at=time.time() - 7200)
    await store.writer.submit(lambda conn: conn.execute(stmt))


def jobs_url(store: Store) -> str:
    return sync_url(store.engine.url)


async def fires_nothing_more(store: Store, starts: Starts, before: int) -> None:
    """A catch-up fires as the schedules start: a one-off made after it fires after it. Only that one-off fires."""
    schedules = await start(store, starts)
    try:
        at = datetime.now(UTC)
        await schedules.create(ScheduleSpec(scenario="api-one-event", speed=0, at=at))
        await until(lambda: at.timestamp() in starts.dues, what="the one-off to fire")
        assert len(starts.specs) == before + 1, starts.dues
    finally:
        await schedules.close()


def hourly_interval() -> tuple[BaseTrigger, datetime]:
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    return IntervalTrigger(seconds=3600, start_date=due, timezone=UTC), due


def hourly_crontab() -> tuple[BaseTrigger, datetime]:
    return crontab("0 * * * *"), datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


# A trigger firing every hour, and its last time (after the schedule was made, before now).
TRIGGERS: dict[str, Callable[[], tuple[BaseTrigger, datetime]]] = {"interval": hourly_interval, "cron": hourly_crontab}


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
async def test_a_firing_whose_run_never_started_fires_once_as_the_schedules_start(
    store: Store, starts: Starts, kind: str
) -> None:
    schedule_id = await made(store, starts, interval=3600)
    await created_long_ago(store, schedule_id)
    trigger, due = TRIGGERS[kind]()
    stored_jobs.move(jobs_url(store), schedule_id, trigger, due + HOUR)  # as the scheduler left it: moved on

    schedules = await start(store, starts)
    try:
        await until(lambda: starts.dues, what="the lost firing")
        assert starts.dues == [due.timestamp()]
        stored = await schedules.runs.get(schedule_id)
        assert stored is not None and stored.last is not None and stored.last["due"] == due.timestamp()
        assert (await asyncio.to_thread(schedules.scheduler.get_job, schedule_id)).next_run_time == due + HOUR
    finally:
        await schedules.close()
    await fires_nothing_more(store, starts, before=1)


async def test_a_firing_whose_run_started_does_not_fire_again(store: Store, starts: Starts) -> None:
    schedule_id = await made(store, starts, interval=3600)
    await created_long_ago(store, schedule_id)
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    stored_jobs.move(
        jobs_url(store), schedule_id, IntervalTrigger(seconds=3600, start_date=due, timezone=UTC), due + HOUR
    )
    runs = ScheduleRuns(store)
    await runs.fired(schedule_id, "run_0", None, due.timestamp())
    starts.dues.clear()
    await fires_nothing_more(store, starts, before=0)
    assert stored_jobs.next_run_time(jobs_url(store), schedule_id) == due + HOUR


async def test_a_paused_schedule_owes_nothing(store: Store, starts: Starts) -> None:
    schedule_id = await made(store, starts, interval=3600)
    await created_long_ago(store, schedule_id)
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    stored_jobs.move(jobs_url(store), schedule_id, IntervalTrigger(seconds=3600, start_date=due, timezone=UTC), None)
    await fires_nothing_more(store, starts, before=0)
    assert stored_jobs.next_run_time(jobs_url(store), schedule_id) is None


async def test_the_times_a_resumed_schedule_missed_while_paused_are_not_owed(store: Store, starts: Starts) -> None:
    schedule_id = await made(store, starts, interval=3600)
    await created_long_ago(store, schedule_id)
    # Paused before its first time, 90 minutes ago; it would have fired then and 30 minutes ago.
    start_date = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=90)
    trigger = IntervalTrigger(seconds=3600, start_date=start_date, timezone=UTC)
    stored_jobs.move(jobs_url(store), schedule_id, trigger, None)
    schedules = await start(store, starts)
    try:
        await asyncio.to_thread(schedules.scheduler.pause)
        shown = await schedules.resume(schedule_id)
        assert shown["next_run_at"].startswith((start_date + 2 * HOUR).isoformat()[:19])
    finally:
        await schedules.close()
    await fires_nothing_more(store, starts, before=0)


async def test_a_one_off_whose_firing_was_lost_fires_as_the_schedules_start(store: Store, starts: Starts) -> None:
    # Paused as the server that makes it stops: a scheduler stopping tries the jobs due then once more.
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    schedule_id = await made(store, starts, paused=True, at=at)
    await created_long_ago(store, schedule_id)  # older than a starting server's wait before forgetting a record
    await until(lambda: datetime.now(UTC) > at, what="the one-off's time")
    stored_jobs.remove(jobs_url(store), schedule_id)  # it fired: the scheduler removed its job

    schedules = await start(store, starts)
    try:
        await until(lambda: starts.dues, what="the one-off to fire")
        assert starts.dues == [at.timestamp()]
        await until(lambda: not schedules.scheduler.get_jobs(), what="its job to go")
        with pytest.raises(Conflict, match="has fired and will not fire again"):
            await schedules.pause(schedule_id)
    finally:
        await schedules.close()
    await fires_nothing_more(store, starts, before=1)


async def test_a_schedule_of_a_second_down_for_a_month_fires_once_then_at_its_times(
    store: Store, starts: Starts, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule_id = await made(store, starts, paused=True, interval=1)
    month_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    trigger = IntervalTrigger(seconds=1, start_date=month_ago, timezone=UTC)
    stored_jobs.move(jobs_url(store), schedule_id, trigger, month_ago)
    steps = count_steps(monkeypatch, IntervalTrigger)

    before = time.time()
    schedules = await start(store, starts)
    try:
        await until(lambda: len(starts.dues) >= 3, what="three firings")
        await schedules.pause(schedule_id)
    finally:
        await schedules.close()
    # APScheduler walked through the 2.6 million missed seconds: as many steps, in 20 s.
    assert steps[0] < 50, steps
    dues = [float(due) for due in starts.dues if due is not None]
    assert before - 1 < dues[0] <= time.time(), "one firing, for the last of the missed times"
    later = [b - a for a, b in itertools.pairwise(dues)]
    assert all(step >= 1 and step.is_integer() for step in later), dues  # then at its usual times


async def test_a_crontab_down_for_a_month_fires_once_for_its_last_missed_time(
    store: Store, starts: Starts, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule_id = await made(store, starts, cron="* * * * *")
    month_ago = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=30)
    stored_jobs.move(jobs_url(store), schedule_id, crontab("* * * * *"), month_ago)
    steps = count_steps(monkeypatch, CronTrigger)

    schedules = await start(store, starts)
    try:
        await until(lambda: starts.dues, what="the firing")
        minute = datetime.fromtimestamp(float(starts.dues[0] or 0), UTC)
        assert (minute.second, minute.microsecond) == (0, 0) and time.time() - 120 < minute.timestamp() <= time.time()
        await until(lambda: schedules.scheduler.get_job(schedule_id).next_run_time > minute, what="the next time")
        assert schedules.scheduler.get_job(schedule_id).next_run_time == minute + timedelta(minutes=1)
    finally:
        await schedules.close()
    assert steps[0] < 100, steps  # the walk: 43,200 steps


def count_steps(monkeypatch: pytest.MonkeyPatch, kind: type[BaseTrigger]) -> list[int]:
    """Count the calls of `kind`'s `get_next_fire_time`, the scheduler's one step from a time to the next."""
    steps = [0]
    step = kind.get_next_fire_time

    def counted(self: BaseTrigger, previous: datetime | None, now: datetime) -> datetime | None:
        steps[0] += 1
        return step(self, previous, now)  # type: ignore[no-any-return]

    monkeypatch.setattr(kind, "get_next_fire_time", counted)
    return steps


START = datetime(2026, 3, 1, 12, 34, 56, 789000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("trigger", "gap"),
    [
        (IntervalTrigger(seconds=90.5, start_date=START, timezone=UTC), timedelta(days=3, seconds=17)),
        (IntervalTrigger(seconds=1.1, start_date=START, timezone=UTC), timedelta(hours=2, microseconds=3)),
        (IntervalTrigger(seconds=60, start_date=START, end_date=START + HOUR, timezone=UTC), timedelta(days=1)),
        (crontab("*/7 3-5 * * *"), timedelta(days=40)),
        (crontab("0 0 29 2 *"), timedelta(days=1500)),
        (crontab("0 0 13 * 5"), timedelta(days=400)),
        (crontab("* * * * *"), timedelta(days=2, seconds=59, microseconds=999999)),
        (DateTrigger(run_date=START, timezone=UTC), timedelta(days=9)),
    ],
    ids=["interval", "fractional", "ended", "steps", "leap-day", "either-day", "every-minute", "date"],
)
def test_the_last_missed_time_is_the_one_the_scheduler_coalesces_into(trigger: BaseTrigger, gap: timedelta) -> None:
    first = trigger.get_next_fire_time(None, START)
    now = first + gap
    job = Job(
        BackgroundScheduler(timezone=UTC),
        id="sch_x",
        func=fire,
        trigger=trigger,
        executor="default",
        args=(),
        kwargs={"instance": "sched_x", "schedule_id": "sch_x"},
        name="x",
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        next_run_time=first,
    )
    walked = job._get_run_times(now)[-1]  # what the scheduler finds, one time after another
    assert latest_fire_time(trigger, first, now) == walked
    assert latest_fire_time(trigger, walked, now) == walked


def test_a_firing_recorded_without_its_planned_time_counts_from_its_recording() -> None:
    """A firing that was not the scheduler's (`Schedules.fire` called directly) records `due` as null: it was
    taken for no firing at all, and the schedule's times since its creation were owed again."""
    record = ScheduledRun({"interval": 60}, {}, {"due": None, "at": 2000.0, "run": "run_x", "error": None}, 1000.0)
    assert record.settled() == 2000.0
    assert replace(record, last={"due": 1500.0, "at": 1500.2, "run": None, "error": None}).settled() == 1500.0
