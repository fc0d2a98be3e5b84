"""Several `serve` processes on one PostgreSQL store: exactly one fires the schedules, leadership moves when it
dies, and a server starting beside another leaves that one's live runs alone."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec
from simulator.store import tables as t

TTL = "2"


@pytest.fixture
async def engine(db: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(db)
    yield engine
    await engine.dispose()


async def runs_by_owner(engine: AsyncEngine) -> list[tuple[float, str | None]]:
    r = t.runs.c
    async with engine.connect() as conn:
        return [
            (row.created_at, row.owner)
            for row in await conn.execute(select(r.created_at, r.owner).order_by(r.created_at))
        ]


async def pids(engine: AsyncEngine) -> dict[str, int]:
    p = t.processes.c
    async with engine.connect() as conn:
        return {row.id: row.pid for row in await conn.execute(select(p.id, p.pid))}


def serve(spawn: Any, db: str) -> tuple[Any, str]:
    # They send, so each plays the runs it starts (a server that does not send leaves them to a worker).
    proc = spawn("serve", "--db", db, "--port", "0", "--lease-ttl", TTL, ready="serving on")
    match = re.search(r"serving on (http://\S+)", proc.output())
    assert match, proc.output()
    return proc, match.group(1)


async def test_one_server_fires_the_schedules_and_another_takes_over_when_it_dies(db, spawn, engine):
    (first, first_url), (second, _) = serve(spawn, db), serve(spawn, db)
    async with httpx.AsyncClient(timeout=10) as client:
        made = await client.post(
            f"{first_url}/schedules", json={"scenario": "basistheory-tenant-onboarding", "speed": 0, "interval": 1}
        )
    assert made.status_code == 201, made.text
    runs: list[tuple[float, str | None]] = []

    async def fired(n: int) -> bool:
        runs[:] = await runs_by_owner(engine)
        return len(runs) >= n

    deadline = time.monotonic() + 30
    while not await fired(4):
        assert time.monotonic() < deadline, f"the schedule did not fire:\n{first.output()}\n{second.output()}"
        await asyncio.sleep(0.1)
    owners = {owner for _, owner in runs}
    assert len(owners) == 1, f"more than one server fired: {runs}"
    [leader] = owners
    by_pid = {first.pid: first, second.pid: second}
    victim = by_pid[(await pids(engine))[leader]]
    survivor = second if victim is first else first
    elapsed = runs[-1][0] - runs[0][0]
    assert len(runs) <= elapsed + 2, f"fired more often than every second: {len(runs)} runs in {elapsed:.1f} s"
    victim.kill()
    killed_at = time.time()
    deadline = time.monotonic() + 30
    while True:
        later = [owner for at, owner in await runs_by_owner(engine) if at > killed_at]
        if len(later) >= 2:
            break
        assert time.monotonic() < deadline, f"no server took over the schedules:\n{survivor.output()}"
        await asyncio.sleep(0.1)
    [new_leader] = set(later)
    assert new_leader != leader
    assert (await pids(engine))[new_leader] == survivor.pid
    assert survivor.popen.poll() is None


async def test_a_server_starting_beside_another_leaves_its_live_run_alone(db: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    # Leases of 10 s: nobody dies, and a heartbeat a loaded machine delays must not make the run look abandoned.
    first = await Simulator.open(db, lease_ttl=10.0)  # it sends, so it plays its run
    try:
        run = await first.runs.start(RunSpec(scenario="basistheory-proxy-traffic", speed=1))
        second = await Simulator.open(db, sends=False, lease_ttl=10.0)
        try:
            assert (await second.store.get_run(run.id)).status == "running"  # type: ignore[union-attr]
        finally:
            await second.close()
    finally:
        await first.close()


async def test_the_runs_of_a_process_that_died_end_as_interrupted(db: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    dead = await Simulator.open(db, lease_ttl=0.5)  # it sends, so it plays its run
    run = await dead.runs.start(RunSpec(scenario="basistheory-proxy-traffic", speed=1))
    await dead.engine._sharing.stop()  # type: ignore[union-attr]  # it stops beating, as if killed
    survivor = await Simulator.open(db, sends=False, lease_ttl=0.5)
    try:
        deadline = time.monotonic() + 15
        while (found := await survivor.store.get_run(run.id)) is not None and found.status == "running":
            assert time.monotonic() < deadline, "the dead process's run still shows as running"
            await asyncio.sleep(0.05)
        assert found is not None and found.status == "failed" and "interrupted" in (found.error or "")
    finally:
        await survivor.close()
        await dead.close()
