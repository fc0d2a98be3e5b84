"""A schedule paused or resumed while it is being deleted: 404 once it is gone (or 200 if the change came first),
never a 500, and never the answer of a fired one-off for a schedule that is none."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from simulator.core.schedules import Schedules
from simulator.errors import SimError
from simulator.models import answers as schemas
from tests.api.harness import ApiServer, ok, problem

INTERVAL = {"scenario": "api-one-event", "interval": 3600, "speed": 0}


def schedules_of(server: ApiServer) -> Schedules:
    schedules: Schedules = server.app.state.api.schedules
    return schedules


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_a_schedule_deleted_after_it_was_looked_up_answers_404(
    server: ApiServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    """The job was looked up, then deleted before APScheduler was asked to change it: its JobLookupError was a
    500."""
    made = ok(api.post("/schedules", json=INTERVAL), schemas.Schedule, 201)
    schedules = schedules_of(server)
    look_up = schedules._job

    async def then_deleted(schedule_id: str) -> Any:
        job = await look_up(schedule_id)
        await schedules.delete(schedule_id)  # a DELETE that came in between
        return job

    monkeypatch.setattr(schedules, "_job", then_deleted)
    problem(api.post(f"/schedules/{made['id']}/{action}"), 404, "id")
    monkeypatch.undo()
    problem(api.post(f"/schedules/{made['id']}/{action}"), 404, "id")
    assert api.get("/schedules").json()["data"] == []


def test_a_schedule_half_deleted_is_not_taken_for_a_fired_one_off(
    server: ApiServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deletion removes the job, then the stored run: in between, a pause or resume of an interval schedule
    found a stored run and no job, and answered 409 that a one-off had fired."""
    made = ok(api.post("/schedules", json=INTERVAL), schemas.Schedule, 201)
    schedules = schedules_of(server)
    forget = schedules.runs.delete
    meanwhile: list[tuple[str, int]] = []

    async def asked_in_between(schedule_id: str) -> None:
        for name in ("pause", "resume"):
            try:
                await getattr(schedules, name)(schedule_id)
                meanwhile.append((name, 200))
            except SimError as exc:
                meanwhile.append((name, exc.status))
        await forget(schedule_id)

    monkeypatch.setattr(schedules.runs, "delete", asked_in_between)
    ok(api.delete(f"/schedules/{made['id']}"), None, 204)
    assert meanwhile == [("pause", 404), ("resume", 404)]
    monkeypatch.undo()
    problem(api.delete(f"/schedules/{made['id']}"), 404, "id")


def test_a_deletion_that_finds_the_job_gone_meanwhile_still_deletes_the_schedule(
    server: ApiServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deletions of one schedule at once: the second found the job gone when it came to remove it (a 500)."""
    made = ok(api.post("/schedules", json=INTERVAL), schemas.Schedule, 201)
    schedules = schedules_of(server)
    remove = schedules.scheduler.remove_job

    def removed_twice(job_id: str, jobstore: str | None = None) -> None:
        remove(job_id)  # the other DELETE, just before this one
        remove(job_id, jobstore)

    monkeypatch.setattr(schedules.scheduler, "remove_job", removed_twice)
    ok(api.delete(f"/schedules/{made['id']}"), None, 204)
    monkeypatch.undo()
    problem(api.post(f"/schedules/{made['id']}/resume"), 404, "id")
    problem(api.delete(f"/schedules/{made['id']}"), 404, "id")


def test_of_two_deletions_at_once_one_answers_204_and_the_other_404(
    server: ApiServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second DELETE came once the first had removed the job and before it removed the stored run: it found the
    run, took the schedule for a fired one-off and deleted it too, and both answered 204."""
    made = ok(api.post("/schedules", json=INTERVAL), schemas.Schedule, 201)
    schedules = schedules_of(server)
    forget = schedules.runs.delete
    second: list[asyncio.Future[None]] = []

    async def another_meanwhile(schedule_id: str) -> None:
        if not second:
            second.append(asyncio.ensure_future(schedules.delete(schedule_id)))
            # Given the time it takes to answer: it either ends meanwhile (taken for a fired one-off) or waits for
            # this deletion to end. Either way, this one goes on after.
            await asyncio.wait(second, timeout=1.0)
        await forget(schedule_id)

    monkeypatch.setattr(schedules.runs, "delete", another_meanwhile)
    ok(api.delete(f"/schedules/{made['id']}"), None, 204)
    done = asyncio.run_coroutine_threadsafe(asyncio.wait(second, timeout=10), schedules.loop).result(15)
    assert not done[1], "the second deletion never ended"
    with pytest.raises(SimError) as refused:
        second[0].result()
    assert refused.value.status == 404
    monkeypatch.undo()
    problem(api.delete(f"/schedules/{made['id']}"), 404, "id")
