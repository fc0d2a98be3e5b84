"""A store whose schedules an earlier release made and fired: its `schedule_runs` has no `last` (nor
`resumed_at`) column, so no firing of it was ever recorded. Opened by this release, a one-off that had fired
fired again, and an interval fired at once what it had fired already."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger

from simulator.timeutil import iso_ms
from tests.api.harness import eventually
from tests.api.test_schedule_catchup import HOUR, Processes, api_time, job_store_url, made, runs, shown
from tests.store import stored_jobs


def as_an_earlier_release_left_it(database: Path) -> None:
    """The schedules' table without the columns an earlier release's lacked (their values gone with them)."""
    with closing(sqlite3.connect(database)) as db, db:
        for column in ("last", "resumed_at"):
            db.execute(f"ALTER TABLE schedule_runs DROP COLUMN {column}")


def test_what_an_earlier_release_fired_does_not_fire_again(processes: Processes, tmp_path: Path) -> None:
    first = processes("first")
    with first.wait_ready() as api:
        fired = made(api, {"at": iso_ms(datetime.now(UTC) - HOUR)})
        [fired_run] = eventually(lambda: runs(api), what="the one-off's firing")
        every = made(api, {"interval": 3600})
        created = datetime.now(UTC)
        later = made(api, {"at": iso_ms(datetime.now(UTC) + timedelta(seconds=3))})  # still to fire
    assert first.stop() == 0
    # The interval fired a moment after it was made, under the earlier release: its job moved to its next time.
    due = created + timedelta(milliseconds=50)
    trigger = IntervalTrigger(seconds=3600, start_date=due, timezone=UTC)
    stored_jobs.move(job_store_url(tmp_path), every["id"], trigger, due + HOUR)
    as_an_earlier_release_left_it(tmp_path / "sim.db")

    second = processes("second")
    with second.wait_ready() as api:
        # The one-off still to fire fires (long after the others would have): what is owed is settled by then.
        later_run = eventually(
            lambda: (shown(api, later["id"])["last_firing"] or {}).get("run"), timeout=15, what="the later one-off"
        )
        assert sorted(run["id"] for run in runs(api)) == sorted([fired_run["id"], later_run])
        assert api_time(shown(api, every["id"])["next_run_at"]) == (due + HOUR).replace(
            microsecond=due.microsecond // 1000 * 1000
        )  # not moved
        assert shown(api, fired["id"])["last_firing"] is None  # fired, when and with what run not recorded
    assert not [line for line in second.log_lines() if "fires now" in line.get("message", "")]
    assert second.stop() == 0
