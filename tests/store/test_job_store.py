"""Schedules' jobs are stored as JSON, never as pickles: each trigger comes back firing at the same times, a
job that would call anything but the schedules' own function is refused, and a row an earlier release pickled
is read without running what it names (a crafted one is refused, and the server starts and serves)."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from simulator.core import job_store
from simulator.core.schedules import crontab, fire
from tests.api.harness import serving_api

START = datetime(2026, 3, 1, 12, 34, 56, 789000, tzinfo=UTC)


def firings(trigger: BaseTrigger, count: int = 12) -> list[datetime]:
    out: list[datetime] = []
    previous: datetime | None = None
    now = START
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        if nxt is None:
            break
        out.append(nxt)
        previous, now = nxt, nxt + timedelta(microseconds=1)
    return out


def elsewhere(*args: object, **kwargs: object) -> None:
    """A function some other job might call."""


def job(trigger: BaseTrigger, func: object = fire, args: tuple = (), kwargs: dict | None = None) -> Job:
    return Job(
        BackgroundScheduler(timezone=UTC),
        id="sch_x",
        func=func,
        trigger=trigger,
        executor="default",
        args=args,
        kwargs={"instance": "sched_1", "schedule_id": "sch_x"} if kwargs is None else kwargs,
        name="api-one-event",
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        next_run_time=START,
    )


@pytest.mark.parametrize(
    "trigger",
    [
        crontab("*/7 3-5 * * *"),
        crontab("0 0 29 2 *"),
        crontab("15 10 * jan,jul 1-5"),
        crontab("5,35 * 1-10/3 * 0"),
        IntervalTrigger(seconds=90.5, start_date=START - timedelta(seconds=17), timezone=UTC),
        DateTrigger(run_date=START + timedelta(days=3), timezone=UTC),
    ],
    ids=["steps", "leap-day", "names", "lists", "interval", "date"],
)
def test_every_trigger_fires_at_the_same_times_once_stored(trigger: BaseTrigger) -> None:
    raw = job_store.encode(job(trigger))
    assert raw[:1] == b"{" and json.loads(raw)["format"] == job_store.FORMAT
    state = job_store.decode(raw)
    assert state["func"] == job_store.FIRE and state["next_run_time"] == START
    assert state["kwargs"] == {"instance": "sched_1", "schedule_id": "sch_x"}
    assert firings(state["trigger"]) == firings(trigger) != []


def test_a_job_calling_anything_else_is_not_stored() -> None:
    with pytest.raises(ValueError, match=r"only simulator\.core\.schedules:fire"):
        job_store.encode(job(IntervalTrigger(seconds=5, timezone=UTC), func=elsewhere))
    with pytest.raises(ValueError, match=r"only simulator\.core\.schedules:fire"):
        job_store.encode(job(IntervalTrigger(seconds=5, timezone=UTC), args=("sched_1", "sch_x"), kwargs={}))


class Planted:
    """What a crafted row would hold: unpickling it calls os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_pickle_in_the_job_table_runs_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db, marker = tmp_path / "api.db", tmp_path / "ran"
    with serving_api(tmp_path) as server, server.client() as api:
        made = api.post("/schedules", json={"scenario": "api-one-event", "interval": 3600, "speed": 0})
        assert made.status_code == 201, made.text
    with sqlite3.connect(db) as conn:
        (state,) = conn.execute("SELECT job_state FROM apscheduler_jobs").fetchone()
        assert json.loads(state)["id"] == made.json()["id"]  # stored as JSON
        crafted = pickle.dumps({"trigger": Planted(marker)}, protocol=4)
        conn.execute(
            "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES ('sch_evil', 0, ?)", (crafted,)
        )
    with serving_api(tmp_path) as server, server.client() as api:
        listed = api.get("/schedules")
        assert listed.status_code == 200 and [s["id"] for s in listed.json()["data"]] == [made.json()["id"]]
        assert api.get("/health").status_code == 200
    assert not marker.exists()
    assert "posix.system is not part of a stored schedule" in caplog.text


def test_a_time_zone_pickle_may_name_only_its_own_unpickler() -> None:
    escape = b"\x80\x04cbuiltins\ngetattr\ncdatetime\ndatetime\nX\x08\x00\x00\x00__base__\x86R."
    with pytest.raises(pickle.UnpicklingError, match="__base__"):
        job_store.decode(escape)
