"""What the scheduler owes when it starts firing (as the server starts, or takes the schedules over on a shared
store), settled while it is still paused.

A lost firing. APScheduler moves a job to its next time, writing it to the store, before the job's function runs;
the run starts, and the firing is recorded, a few milliseconds later. A server killed in between lost that firing
for good: on the next start its job was already due at the time after. So a schedule whose trigger has a time
after everything its record accounts for (`ScheduledRun.settled`: its last firing's planned time, else its
creation or resumption) and before its job's next time is set back to that time, and the scheduler fires it once,
coalesced with any time missed since, as it does a firing missed while the server was down. A one-off's job is
removed as it fires: a one-off that is due, was never recorded as fired and has no job gets its job back. A
paused schedule owes nothing.

A long-missed schedule. APScheduler coalesces the times a job missed by walking through every one of them, with
its job stores' lock held: for a schedule of a second and a server down for a month, 2.6 million steps, during
which every schedule route waited. A job whose next time is past is first moved to the last of its missed times,
found without the walk; the scheduler then makes the one firing it would have made, and the schedule goes on at
its usual times.

Each firing learns the time it was planned for from `PlannedExecutor`, and records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from simulator.store import postgres
from simulator.store.schedule_runs import ScheduleRuns

log = logging.getLogger("webhook_sim.schedules")
MICROSECOND = timedelta(microseconds=1)  # the resolution of APScheduler's times

AddOneOff = Callable[[str, datetime, str], object]  # gives a one-off its job back: its id, its time, its scenario


class PlannedExecutor(ThreadPoolExecutor):
    """APScheduler's thread pool, calling each firing with the time it was planned for (`due`, a timestamp), which
    APScheduler tells only its event listeners. Jobs coalesce: a firing has one planned time."""

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        planned = Job.__new__(Job)
        planned.__setstate__({**job.__getstate__(), "kwargs": {**job.kwargs, "due": run_times[-1].timestamp()}})
        planned._scheduler, planned._jobstore_alias = job._scheduler, job._jobstore_alias
        super()._do_submit_job(planned, run_times)


@contextlib.asynccontextmanager
async def editing(runs: ScheduleRuns, schedule_id: str) -> AsyncIterator[None]:
    """One process at a time making, deleting or giving back the job of `schedule_id` (on PostgreSQL; on SQLite
    the store is one process's)."""
    async with postgres.one_editor(runs.store.engine, f"schedule {schedule_id}"):
        yield


async def catch_up(scheduler: BackgroundScheduler, runs: ScheduleRuns, add_one_off: AddOneOff) -> None:
    """Settle what the paused `scheduler` owes (see the module) before it resumes."""
    now = datetime.now(UTC)
    jobs = await asyncio.to_thread(scheduler.get_jobs)
    stored = await runs.many(job.id for job in jobs)
    for job in jobs:
        if job.next_run_time is None:  # paused: resumed, it skips what it missed, a lost firing included
            continue
        record = stored.get(job.id)
        settled = datetime.fromtimestamp(record.settled(), UTC) if record is not None else None
        due = next_due(job.trigger, job.next_run_time, settled, now)
        if due != job.next_run_time:
            _tell(job, due)
            await asyncio.to_thread(scheduler.modify_job, job.id, next_run_time=due)
    present = {job.id for job in jobs}
    for schedule_id, at in (await runs.owed_one_offs(now.timestamp())).items():
        if schedule_id not in present:
            await _give_back(scheduler, runs, schedule_id, at, add_one_off)


def next_due(trigger: BaseTrigger, next_run: datetime, settled: datetime | None, now: datetime) -> datetime:
    """When a job should be due as the scheduler resumes: at a time after `settled` that it moved past unrecorded,
    else at its next time; either, if past, moved to the last time it missed (see the module)."""
    due = next_run
    lost = None if settled is None else trigger.get_next_fire_time(None, settled + MICROSECOND)
    if lost is not None and lost < due:
        due = lost
    return latest_fire_time(trigger, due, now) if due < now else due


def latest_fire_time(trigger: BaseTrigger, first: datetime, now: datetime) -> datetime:
    """The last time `trigger` fires at or before `now`, `first` being one of its times: the time APScheduler
    coalesces the missed ones into, found in one step (an interval) or about forty (a crontab), not one a time."""
    if getattr(trigger, "jitter", None):  # each time is random then (never so for a schedule): APScheduler walks
        return first
    if isinstance(trigger, IntervalTrigger):
        end = now if trigger.end_date is None else min(now, trigger.end_date)
        return first + (end - first) // trigger.interval * trigger.interval if end > first else first
    if isinstance(trigger, CronTrigger | OrTrigger):
        return _bisect(trigger, first, now)
    return first  # a date fires once: nothing to skip


def _bisect(trigger: BaseTrigger, first: datetime, now: datetime) -> datetime:
    """`latest_fire_time` by halving: a crontab finds its first time at or after any moment in one call. The last
    time at or before `now` lies in [low, high), and none lies in [high, now]."""
    low, high = first, now + MICROSECOND
    while high - low > MICROSECOND:
        middle = low + (high - low) / 2
        found = trigger.get_next_fire_time(None, middle)
        if found is not None and found < high:
            low = found
        else:
            high = middle
    return low


def _tell(job: Job, due: datetime) -> None:
    if due < job.next_run_time:
        log.warning(
            "schedule %s fired at %s, but the server stopped before its run started; it fires now",
            job.id,
            due.isoformat(),
        )
    else:
        log.info("schedule %s missed its times until %s; it fires once for all of them now", job.id, due.isoformat())


async def _give_back(
    scheduler: BackgroundScheduler, runs: ScheduleRuns, schedule_id: str, at: datetime, add_one_off: AddOneOff
) -> None:
    """Give a one-off whose firing was lost its job back. Another server on the store may be making it (its run is
    stored a moment before its job) or deleting it (its job removed a moment before its run): both edit under the
    same lock, and under it the one-off is looked at again."""
    async with editing(runs, schedule_id):
        record = await runs.get(schedule_id)
        if record is None or record.last is not None:
            return
        if await asyncio.to_thread(scheduler.get_job, schedule_id) is not None:
            return
        log.warning(
            "one-off schedule %s fired, but the server stopped before its run started; it fires now", schedule_id
        )
        await asyncio.to_thread(add_one_off, schedule_id, at, str(record.run.get("scenario", "")))
