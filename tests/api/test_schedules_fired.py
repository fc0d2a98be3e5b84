"""A one-off that has fired is listed and read by its id, its `last_firing` naming the run it started; a one-off
planned before 1970 in UTC starts a run whose id pages like any other; a cron's check that it ever fires runs off the
event loop."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from simulator.core import schedules
from simulator.models import answers as schemas
from simulator.models.inputs import ScheduleSpec
from tests.api.harness import eventually, ok, problem
from tests.api.test_schedules import iso, runs


def test_a_fired_one_off_is_read_by_its_id_naming_its_run(api: httpx.Client) -> None:
    """Its run's id sorts by its planned time, an hour ago: a client paging the runs on from the last it saw misses
    it, and the schedule, gone from the list as it fired, was in no answer but its own id's."""
    made = ok(
        api.post("/schedules", json={"scenario": "api-one-event", "at": iso(datetime.now(UTC) - timedelta(hours=1))}),
        schemas.Schedule,
        201,
    )
    eventually(lambda: len(runs(api)) == 1, timeout=5, what="the firing")
    # Its firing is recorded a moment after its run starts (the firing's own write).
    fired = eventually(
        lambda: (got := ok(api.get(f"/schedules/{made['id']}"), schemas.Schedule))["last_firing"] and got,
        what="the firing recorded",
    )
    assert fired["last_firing"]["run"] == runs(api)[0]["id"], fired
    assert (fired["next_run_at"], fired["paused"], fired["trigger"]) == (None, False, made["trigger"])
    waiting = ok(api.post("/schedules", json={"scenario": "api-one-event", "interval": 3600}), schemas.Schedule, 201)
    assert ok(api.get(f"/schedules/{waiting['id']}"), schemas.Schedule) == waiting
    # The list shows it as its id does, beside a schedule still to fire, a page at a time.
    listed = ok(api.get("/schedules"), schemas.SchedulePage)["data"]
    assert sorted(listed, key=lambda s: s["id"]) == sorted([fired, waiting], key=lambda s: s["id"]), listed
    first = ok(api.get("/schedules", params={"limit": 1}), schemas.SchedulePage)
    rest = ok(api.get("/schedules", params={"cursor": first["next_cursor"]}), schemas.SchedulePage)
    assert first["data"] + rest["data"] == sorted(listed, key=lambda s: s["id"]) and rest["next_cursor"] is None
    ok(api.delete(f"/schedules/{made['id']}"), None, 204)
    problem(api.get(f"/schedules/{made['id']}"), 404, "id")


def test_a_one_off_before_1970_in_utc_starts_a_run_whose_id_pages(api: httpx.Client) -> None:
    """`run_-00001b774018…`: the milliseconds before 1970 as they were, an id no cursor takes."""
    body = {"scenario": "api-slow", "at": "1970-01-01T00:30:00+01:00", "speed": 0}  # Basis Theory: 1969 is fine
    ok(api.post("/schedules", json=body), schemas.Schedule, 201)
    eventually(lambda: len(runs(api)) == 1, timeout=5, what="the firing")
    ok(api.post("/runs", json={"scenario": "api-one-event", "speed": 0}), schemas.Run, 202)
    seen, cursor = [], None
    while True:
        page = ok(api.get("/runs", params={"limit": 1, **({"cursor": cursor} if cursor else {})}), schemas.RunPage)
        seen += [run["id"] for run in page["data"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == 2 and all("-" not in run_id for run_id in seen), seen


async def test_a_crons_check_that_it_fires_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """To tell that `0 0 31 2 *` never fires, APScheduler searches for 0.4 s: on the loop, a burst of such requests
    held every other request, and an interval schedule's firings were dropped meanwhile."""
    checked: list[int] = []
    real = schedules._trigger

    def recorded(spec: object) -> object:
        checked.append(threading.get_ident())
        return real(spec)  # type: ignore[arg-type]

    monkeypatch.setattr(schedules, "_trigger", recorded)

    owner = schedules.Schedules.__new__(schedules.Schedules)
    owner._checking = asyncio.Lock()
    spec = ScheduleSpec(scenario="api-one-event", cron="0 0 31 2 *")
    with pytest.raises(Exception, match="never fires"):
        await owner.create(spec)
    assert checked and checked[0] != threading.get_ident()
