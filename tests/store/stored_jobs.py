"""Schedules' jobs rewritten in a store the way APScheduler leaves them, for tests of what a starting server does
with them: a job moved past a firing whose run was never started, a one-off removed as it fired, a job whose
next time is long past. Written through the simulator's own job store, with no scheduler running on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from simulator.core.job_store import JsonJobStore


@contextmanager
def job_store(url: str) -> Iterator[JsonJobStore]:
    """The job store of the database at `url` (a synchronous SQLAlchemy URL)."""
    jobs = JsonJobStore(url=url)
    jobs.start(BackgroundScheduler(timezone=UTC), "default")
    try:
        yield jobs
    finally:
        jobs.close()


def move(url: str, schedule_id: str, trigger: BaseTrigger, next_run_time: datetime) -> None:
    """Give the schedule's job `trigger`, due next at `next_run_time`."""
    with job_store(url) as jobs:
        job = jobs.lookup_job(schedule_id)
        assert job is not None, f"no job {schedule_id}"
        job._modify(trigger=trigger, next_run_time=next_run_time)
        jobs.update_job(job)


def remove(url: str, schedule_id: str) -> None:
    """Remove the schedule's job, as APScheduler does when a one-off fires."""
    with job_store(url) as jobs:
        jobs.remove_job(schedule_id)


def next_run_time(url: str, schedule_id: str) -> datetime | None:
    with job_store(url) as jobs:
        job = jobs.lookup_job(schedule_id)
        assert job is not None, f"no job {schedule_id}"
        return job.next_run_time
