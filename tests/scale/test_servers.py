"""Several `serve` processes on one PostgreSQL store: exactly one fires the schedules, leadership moves when it
dies, and a server starting beside another leaves that one's live runs alone."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec
from simulator.store import tables as t
from simulator.testing.receiver import Receiver
from tests.scale.helpers import until

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


async def test_the_run_of_a_process_taken_for_dead_goes_on_in_another_and_it_stops_playing_it(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Its beat stopped (as if killed, or cut off from the store for longer than its lease): a process that plays
    runs goes on with its run from the events the store has, and the first one, still alive, stops playing it and
    writes nothing more of it. Every event is made once, the same as an uninterrupted run's."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    (tmp_path / "paced.yaml").write_text(
        "name: paced\nprovider: basistheory\ndescription: evenly paced tokens\nsteps:\n"
        "  - repeat: 30\n    steps:\n      - emit: token.created\n      - wait: 100ms\n"
    )
    spec = RunSpec(scenario="paced", speed=1, seed=4, start_time="2026-01-01T00:00:00Z")
    dead = await Simulator.open(db, lease_ttl=0.5, scenario_dirs=[tmp_path])  # it sends, so it plays its run
    survivor = None
    try:
        run = await dead.runs.start(spec)
        await until(lambda: dead.runs._emitted.get(run.id, 0) >= 5, 15, "the run's first events")
        await dead.engine._sharing.stop()  # type: ignore[union-attr]  # it stops beating, as if killed
        survivor = await Simulator.open(db, lease_ttl=0.5, scenario_dirs=[tmp_path], claims=True)
        done = await survivor.runs.wait(run.id, timeout=30)
        assert (done.status, done.events, done.error) == ("completed", 30, None), done
        await until(lambda: run.id not in dead.runs._tasks, 15, "the first process to stop playing it")
        assert (await survivor.store.get_run(run.id)).status == "completed"  # type: ignore[union-attr]
        resumed = [(e.seq, e.id, e.body) for e in await survivor.store.run_events(run.id)]
        again = await survivor.runs.wait((await survivor.runs.start(spec)).id, timeout=30)
        assert again.status == "completed"
        assert resumed == [(e.seq, e.id, e.body) for e in await survivor.store.run_events(again.id)]
    finally:
        if survivor is not None:
            await survivor.close()
        await dead.close()


async def test_the_run_of_a_server_killed_mid_run_goes_on_in_the_other_server(
    db: str, spawn: Any, engine: AsyncEngine, tmp_path: Path
):
    """Two `serve` processes behind a load balancer; the one playing a run is killed. The other, which sends,
    claims the run once the first's lease lapses and goes on from the events the store has: every event reaches
    the receiver, each made once."""
    (tmp_path / "paced.yaml").write_text(
        "name: paced\nprovider: basistheory\ndescription: evenly paced tokens\nsteps:\n"
        "  - repeat: 40\n    steps:\n      - emit: token.created\n      - wait: 150ms\n"
    )
    folder = ["--scenarios", str(tmp_path)]
    first = spawn("serve", "--db", db, "--port", "0", "--lease-ttl", TTL, *folder, ready="serving on")
    second = spawn("serve", "--db", db, "--port", "0", "--lease-ttl", TTL, *folder, ready="serving on")
    urls = [re.search(r"serving on (http://\S+)", p.output()).group(1) for p in (first, second)]  # type: ignore[union-attr]
    with Receiver() as receiver:
        async with httpx.AsyncClient(timeout=10) as client:
            spec = {"scenario": "paced", "speed": 1, "seed": 2, "target": receiver.url, "signing": "standard"}
            made = await client.post(f"{urls[0]}/runs", json=spec)
            assert made.status_code == 202, made.text
            run_id = made.json()["id"]
            await until(lambda: len(set(receiver.event_ids())) >= 5, 30, "the run's first deliveries")
            first.kill()
            deadline = time.monotonic() + 60
            while (run := (await client.get(f"{urls[1]}/runs/{run_id}")).json())["status"] != "completed":
                assert run["status"] in ("pending", "running"), run
                assert time.monotonic() < deadline, f"the run did not go on:\n{second.output()}"
                await asyncio.sleep(0.1)
            assert (run["events"], run["error"]) == (40, None), run
            events = (await client.get(f"{urls[1]}/runs/{run_id}/events", params={"limit": 100})).json()["data"]
        assert [e["seq"] for e in events] == list(range(40))
        await until(lambda: len(set(receiver.event_ids())) == 40, 30, "every event delivered")
        assert set(receiver.event_ids()) == {e["id"] for e in events}
    p = t.processes.c
    async with engine.connect() as conn:
        owner = (await conn.execute(select(t.runs.c.owner).where(t.runs.c.id == run_id))).scalar_one()
        assert (await conn.execute(select(p.pid).where(p.id == owner))).scalar_one() == second.pid
