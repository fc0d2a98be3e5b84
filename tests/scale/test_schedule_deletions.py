"""One schedule deleted through two servers on one PostgreSQL store at once: one DELETE answers 204, the other
404. The second came once the first had removed the shared job and before it removed the stored run: it took the
schedule for a fired one-off, deleted it too, and both answered 204."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from simulator.core.schedules import Schedules
from simulator.models import answers as schemas
from tests.api.harness import ApiServer, ok, problem

SCHEDULE = {"scenario": "basistheory-tenant-onboarding", "interval": 3600, "speed": 0}
WAIT = 20.0  # seconds, at most, for the other DELETE to answer or to wait its turn


def test_of_two_deletions_through_two_servers_at_once_one_answers_404(
    servers: tuple[ApiServer, ApiServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = servers
    with first.client() as api:
        made = ok(api.post("/schedules", json=SCHEDULE), schemas.Schedule, 201)
    path = f"/schedules/{made['id']}"
    schedules: Schedules = first.app.state.api.schedules
    forget = schedules.runs.delete

    def delete_through_second() -> httpx.Response:
        with second.client() as api:
            return api.delete(path)

    async def waiting_its_turn() -> bool:
        """Whether a session on the store waits for an advisory lock: the other server's deletion, for its turn."""
        async with schedules.runs.store.engine.connect() as conn:
            waiting = await conn.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            )
        return bool(waiting)

    with ThreadPoolExecutor(1) as pool:
        other: list[Future[httpx.Response]] = []

        async def another_meanwhile(schedule_id: str) -> None:
            # The job is gone from the shared store, the stored run not yet: a DELETE through the other server now.
            other.append(pool.submit(delete_through_second))
            deadline = time.monotonic() + WAIT
            while not other[0].done() and not await waiting_its_turn():
                assert time.monotonic() < deadline, "the other DELETE neither answered nor waited its turn"
                await asyncio.sleep(0.02)
            await forget(schedule_id)

        monkeypatch.setattr(schedules.runs, "delete", another_meanwhile)
        with first.client() as api:
            answers = [api.delete(path), other[0].result(WAIT)]
    monkeypatch.undo()
    assert sorted(a.status_code for a in answers) == [204, 404], [a.text for a in answers]
    assert made["id"] in problem(next(a for a in answers if a.status_code == 404), 404, "id")["detail"]
    with second.client() as api:
        problem(api.delete(path), 404, "id")
