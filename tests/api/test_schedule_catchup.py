"""`webhook-sim serve` killed (SIGKILL) between a schedule's firing and the start of its run, or down for a month
under a schedule of one second, then started again on the same SQLite file.

APScheduler writes a job's next time to the store before the job's function runs: a kill in between used to lose
that firing for good. The state such a kill leaves is written directly (through the simulator's job store), so the
test does not depend on landing a kill in a window of a few milliseconds.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from apscheduler.triggers.interval import IntervalTrigger

from simulator.timeutil import iso_ms
from tests.api.harness import eventually
from tests.api.test_restart import ServerProcess
from tests.api.test_schedules import fired_listed
from tests.store import stored_jobs

Processes = Callable[[str], ServerProcess]
HOUR = timedelta(hours=1)
SCHEDULES = 5


@contextmanager
def killed(processes: Processes) -> Iterator[httpx.Client]:
    """A first server on the file, asked what the block asks, then killed (SIGKILL)."""
    first = processes("first")
    with first.wait_ready() as api:
        yield api
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL


def job_store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sim.db'}"


def runs(api: httpx.Client) -> list[dict]:
    return list(api.get("/runs", params={"limit": 100}).json()["data"])


def shown(api: httpx.Client, schedule_id: str) -> dict:
    """The schedule as GET /schedules lists it."""
    [schedule] = [s for s in api.get("/schedules", params={"limit": 100}).json()["data"] if s["id"] == schedule_id]
    return dict(schedule)


def made(api: httpx.Client, body: dict) -> dict:
    answer = api.post("/schedules", json={"scenario": "api-one-event", "speed": 0, **body})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_firing_lost_to_a_kill_fires_once_when_the_server_starts_again(
    processes: Processes,
    tmp_path: Path,
) -> None:
    with killed(processes) as api:
        schedule = made(api, {"interval": 3600})
        created = datetime.now(UTC)
    # The schedule fired a moment after it was made; APScheduler moved its job to the next time, and the server
    # was killed before the run started.
    due = created + timedelta(milliseconds=50)
    trigger = IntervalTrigger(seconds=3600, start_date=due, timezone=UTC)
    stored_jobs.move(job_store_url(tmp_path), schedule["id"], trigger, due + HOUR)
    eventually(lambda: datetime.now(UTC) > due, what="the lost firing's time to pass")

    second = processes("second")
    with second.wait_ready() as api:
        fired = eventually(lambda: shown(api, schedule["id"])["last_firing"], what="the lost firing to happen")
        [run] = runs(api)
        assert (fired["run"], fired["error"]) == (run["id"], None)
        assert run["scenario"] == "api-one-event"
        assert shown(api, schedule["id"])["next_run_at"] == iso_ms(due + HOUR)
    assert second.stop() == 0


def test_a_firing_whose_run_started_before_a_kill_does_not_fire_again(
    processes: Processes,
    tmp_path: Path,
) -> None:
    with killed(processes) as api:
        schedule = made(api, {"interval": 3600})
    due = datetime.now(UTC) + timedelta(seconds=2)  # after the next start: that server fires it
    trigger = IntervalTrigger(seconds=3600, start_date=due, timezone=UTC)
    stored_jobs.move(job_store_url(tmp_path), schedule["id"], trigger, due)

    second = processes("second")
    with second.wait_ready() as api:
        fired = eventually(lambda: shown(api, schedule["id"])["last_firing"], what="the schedule to fire")
        assert [r["id"] for r in runs(api)] == [fired["run"]]
    assert second.stop(signal.SIGKILL) == -signal.SIGKILL
    assert stored_jobs.next_run_time(job_store_url(tmp_path), schedule["id"]) == due + HOUR

    third = processes("third")
    with third.wait_ready() as api:
        # A catch-up fires as the server starts, before it answers: a one-off made now fires after it would have.
        made(api, {"scenario": "api-slow", "at": iso_ms(datetime.now(UTC))})
        eventually(lambda: any(r["scenario"] == "api-slow" for r in runs(api)), what="the one-off to fire")
        assert [r["id"] for r in runs(api) if r["scenario"] == "api-one-event"] == [fired["run"]]
        assert shown(api, schedule["id"])["last_firing"] == fired
    assert third.stop() == 0


def test_a_firing_whose_run_was_stored_but_not_recorded_finds_that_run_again(
    processes: Processes,
    tmp_path: Path,
) -> None:
    """Killed after the run of a firing was stored and before the firing was recorded, the server fires it again
    as it starts; the run it finds is the one stored, not a second."""
    with killed(processes) as api:
        schedule = made(api, {"interval": 3600})
    due = datetime.now(UTC) + timedelta(seconds=2)
    trigger = IntervalTrigger(seconds=3600, start_date=due, timezone=UTC)
    stored_jobs.move(job_store_url(tmp_path), schedule["id"], trigger, due)

    second = processes("second")
    with second.wait_ready() as api:
        fired = eventually(lambda: shown(api, schedule["id"])["last_firing"], what="the schedule to fire")
        [run] = runs(api)
    assert second.stop(signal.SIGKILL) == -signal.SIGKILL
    with closing(sqlite3.connect(tmp_path / "sim.db")) as db, db:
        db.execute("UPDATE schedule_runs SET last = NULL WHERE id = ?", (schedule["id"],))  # never recorded

    third = processes("third")
    with third.wait_ready() as api:
        again = eventually(lambda: shown(api, schedule["id"])["last_firing"], what="the firing to be made again")
        assert (again["run"], again["error"]) == (fired["run"], None)
        assert [r["id"] for r in runs(api)] == [run["id"]]
    assert third.stop() == 0


def api_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_one_off_whose_firing_was_lost_fires_when_the_server_starts_again(
    processes: Processes,
    tmp_path: Path,
) -> None:
    at = datetime.now(UTC) + timedelta(seconds=2)
    with killed(processes) as api:
        schedule = made(api, {"at": iso_ms(at)})
        paused = api.post(f"/schedules/{schedule['id']}/pause")  # kept from firing until the job is rewritten
        assert paused.status_code == 200, paused.text
    eventually(lambda: datetime.now(UTC) > at, timeout=5, what="the one-off's time to pass")
    stored_jobs.remove(job_store_url(tmp_path), schedule["id"])  # it fired: APScheduler removed its job

    second = processes("second")
    with second.wait_ready() as api:
        [run] = eventually(lambda: runs(api), what="the one-off to fire")
        assert run["scenario"] == "api-one-event"
        eventually(lambda: fired_listed(api, schedule["id"]), what="the one-off's firing recorded")
        fired = api.post(f"/schedules/{schedule['id']}/pause")
        assert fired.status_code == 409 and "has fired and will not fire again" in fired.json()["detail"], fired.text
    assert second.stop() == 0


def test_schedules_of_a_second_down_for_a_month_fire_once_and_answer_at_once(
    processes: Processes,
    tmp_path: Path,
) -> None:
    with killed(processes) as api:
        ids = [made(api, {"interval": 3600})["id"] for _ in range(SCHEDULES)]
    month_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    trigger = IntervalTrigger(seconds=1, start_date=month_ago, timezone=UTC)
    for schedule_id in ids:
        stored_jobs.move(job_store_url(tmp_path), schedule_id, trigger, month_ago)

    second = processes("second")
    with second.wait_ready() as api:
        asked = time.monotonic()
        listed = api.get("/schedules", timeout=120)
        # (How many times the scheduler looks at a trigger to get there, 2.6 million a schedule before, is counted
        # in tests/store/test_schedule_catchup.py.)
        assert all(api_time(s["next_run_at"]) > month_ago + timedelta(days=29) for s in listed.json()["data"])
        eventually(lambda: len(runs(api)) >= SCHEDULES, what="the catch-up runs")
        for schedule_id in ids:
            paused = api.post(f"/schedules/{schedule_id}/pause")
            assert paused.status_code == 200, paused.text
        counted = time.monotonic()
        # One run each for the whole month, then one a second: never more than the seconds since, plus that one.
        assert len(runs(api)) <= SCHEDULES * (2 + int(counted - asked)), runs(api)
    assert second.stop() == 0
