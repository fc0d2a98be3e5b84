"""Runs a server that does not send records are played by a worker: the events are made where they are sent, the
server shows the worker's progress, a cancel asked of the server stops the worker's run, a run no worker has
claimed waits (and is cancelled at once when asked), and a worker without the scenario says so in the run."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from simulator.core.simulator import Simulator
from simulator.models import Run
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.store import tables as t
from simulator.testing.receiver import Receiver
from tests.scale.helpers import lease_owners, process_pids, until_read

# No process dies here: a lease long enough that a heartbeat a loaded machine delays does not lapse it (and
# another process take its subscription over, or count its run as interrupted). Rounds stay a second apart.
TTL = "10"


def scenario(directory: Path, events: int, wait: str) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "paced.yaml").write_text(
        "name: paced\nprovider: basistheory\ndescription: evenly paced tokens\nsteps:\n"
        f"  - repeat: {events}\n    steps:\n      - wait: {wait}\n      - emit: token.created\n"
    )
    return directory


@pytest.fixture
async def server(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Simulator]:
    """The API side: a simulator on the shared store that neither sends nor plays runs."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    sim = await Simulator.open(
        db, sends=False, lease_ttl=float(TTL), scenario_dirs=[scenario(tmp_path / "s", 30, "100ms")]
    )
    yield sim
    await sim.close()


def worker(spawn: Any, db: str, scenarios: Path | None) -> Any:
    extra = ["--scenarios", str(scenarios)] if scenarios else []
    return spawn("worker", "--db", db, "--lease-ttl", TTL, *extra, ready="sending")


async def status_of(sim: Simulator, run_id: str) -> Run:
    return await sim.runs.get(run_id)


async def test_a_worker_plays_the_run_the_server_records_and_the_server_shows_its_progress(
    db: str, spawn: Any, server: Simulator, tmp_path: Path
) -> None:
    with Receiver() as receiver:
        await server.create_subscription(SubscriptionSpec(url=receiver.url, events=["token.created"]))
        run = await server.runs.start(RunSpec(scenario="paced", speed=1, seed=3))
        assert run.status == "pending"
        await asyncio.sleep(0.3)
        assert (await status_of(server, run.id)).status == "pending", "a server that does not send played it"
        player = worker(spawn, db, tmp_path / "s")
        seen: list[Run] = []

        async def progressed() -> bool:
            seen.append(await status_of(server, run.id))
            return seen[-1].status == "running" and seen[-1].events > 0 and seen[-1].next_event_at is not None

        await until_read(progressed, 15, "the worker's progress, shown by the server")
        assert seen[-1].planned_events == 30 and seen[-1].ends_at is not None
        ended = await server.runs.wait(run.id, timeout=30)
        assert ended.status == "completed", ended
        assert ended.events == 30 and ended.counts == {"succeeded": 30}
        assert len(receiver.requests) == 30
    owner = (await server.store.run_owners([run.id]))[run.id]
    assert owner is not None and (await process_pids(server))[owner] == player.pid


async def test_a_cancel_asked_of_the_server_stops_the_workers_run(
    db: str, spawn: Any, server: Simulator, tmp_path: Path
) -> None:
    worker(spawn, db, tmp_path / "s")
    run = await server.runs.start(RunSpec(scenario="paced", speed=0.2, seed=3))  # 30 events over 15 s
    await until_read(lambda: _running(server, run.id), 15, "the worker to start the run")
    asked = time.monotonic()
    cancelled = await server.runs.cancel(run.id)
    assert cancelled.status == "cancelled", cancelled
    assert time.monotonic() - asked < 8, "the worker did not stop the run at its next looks"
    assert cancelled.events < 30


async def test_a_run_no_worker_claimed_waits_and_is_cancelled_at_once(db: str, spawn: Any, server: Simulator) -> None:
    run = await server.runs.start(RunSpec(scenario="paced", speed=1))
    other = await Simulator.open(db, sends=False, lease_ttl=float(TTL))  # a server starting later
    try:
        assert (await status_of(other, run.id)).status == "pending", "a waiting run was taken for an interrupted one"
    finally:
        await other.close()
    cancelled = await server.runs.cancel(run.id)
    assert cancelled.status == "cancelled" and cancelled.events == 0


async def test_a_worker_without_the_scenario_fails_the_run_saying_so(db: str, spawn: Any, server: Simulator) -> None:
    worker(spawn, db, None)  # not given the server's --scenarios
    run = await server.runs.start(RunSpec(scenario="paced", speed=1))
    ended = await server.runs.wait(run.id, timeout=15)
    assert ended.status == "failed" and "no scenario named 'paced'" in (ended.error or ""), ended


async def _running(sim: Simulator, run_id: str) -> bool:
    return (await status_of(sim, run_id)).status == "running"


@pytest.mark.parametrize(
    "spec",
    ['{"scenario": "paced"}', '{"scenario": "paced", "params": {}, "seed": "x", "speed": 1}', '{"scenario": 7}'],
)
async def test_a_record_a_worker_cannot_play_fails_the_run_saying_so(
    db: str, server: Simulator, tmp_path: Path, spec: str
) -> None:
    """A run's record as a hand-edited or damaged store may hold it: the worker that claims it fails it, with the
    reason, rather than keep it claimed and never played; it goes on playing the next one."""
    run = await server.runs.start(RunSpec(scenario="paced", speed=0))
    async with server.store.engine.begin() as conn:
        await conn.execute(update(t.runs).where(t.runs.c.id == run.id).values(spec=spec))
    good = await server.runs.start(RunSpec(scenario="paced", speed=0))
    worker = await Simulator.open(db, role="worker", lease_ttl=float(TTL), scenario_dirs=[tmp_path / "s"])
    try:
        broken = await server.runs.wait(run.id, timeout=15)
        assert broken.status == "failed", broken
        assert "cannot be played" in (broken.error or "") or "no scenario named" in (broken.error or ""), broken
        assert (await server.runs.wait(good.id, timeout=30)).status == "completed"
    finally:
        await worker.close()


async def succeeded_on_stream(base: str, urls: list[str], expected: int) -> set[str]:
    """Subscribe `urls`, open `GET /stream`, start the paced run: the ids of the run's deliveries the stream showed
    as succeeded, once there are `expected` (AssertionError after 30 s)."""
    succeeded: set[str] = set()
    async with httpx.AsyncClient(base_url=base, timeout=30) as api:
        for url in urls:
            made = await api.post("/subscriptions", json={"url": url, "events": ["token.created"]})
            assert made.status_code == 201, made.text
        async with api.stream("GET", "/stream", headers={"Accept": "text/event-stream"}) as stream:
            lines = stream.aiter_lines()
            assert (await anext(lines)) == "event: ready"
            run = (await api.post("/runs", json={"scenario": "paced", "speed": 1})).json()
            deadline = time.monotonic() + 30
            event = ""
            while len(succeeded) < expected:
                try:
                    line = await asyncio.wait_for(anext(lines), deadline - time.monotonic())
                except (TimeoutError, ValueError):  # ValueError: the deadline has passed
                    raise AssertionError(f"the stream showed {len(succeeded)} of {expected} deliveries") from None
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "deliveries":
                    for delivery in json.loads(line.removeprefix("data: "))["data"]:
                        if delivery["run_id"] == run["id"] and delivery["status"] == "succeeded":
                            succeeded.add(delivery["id"])
    return succeeded


async def test_the_live_stream_of_a_server_that_does_not_send_shows_the_workers_deliveries(
    db: str, spawn: Any, tmp_path: Path
) -> None:
    """The dashboard's `GET /stream` on a `--no-send` server: the deliveries of a run a worker plays and sends
    arrive live, their success included, though none of them passes through the server's own writes."""
    scenarios = scenario(tmp_path / "live", 5, "200ms")
    args = ["--db", db, "--lease-ttl", TTL, "--scenarios", str(scenarios)]
    server = spawn("serve", "--port", "0", "--no-send", *args, ready="serving on")
    base = re.search(r"serving on (http://\S+)", server.output()).group(1)  # type: ignore[union-attr]
    spawn("worker", *args, ready="sending")
    with Receiver() as receiver:
        assert len(await succeeded_on_stream(base, [receiver.url], 5)) == 5
        assert len(receiver.requests) == 5


async def test_the_live_stream_of_a_server_that_sends_shows_what_a_worker_sends_too(
    db: str, spawn: Any, tmp_path: Path, server: Simulator
) -> None:
    """A server that sends plays its run and sends one subscription; a worker holds the other's lease and sends
    its deliveries, whose attempts only the worker records. The server's stream shows both succeed."""
    scenarios = scenario(tmp_path / "live", 5, "200ms")
    args = ["--db", db, "--lease-ttl", TTL, "--scenarios", str(scenarios)]
    sending = spawn("serve", "--port", "0", *args, ready="serving on")
    base = re.search(r"serving on (http://\S+)", sending.output()).group(1)  # type: ignore[union-attr]
    helper = spawn("worker", *args, ready="sending")
    with Receiver() as first, Receiver() as second:
        assert len(await succeeded_on_stream(base, [first.url, second.url], 10)) == 10
        assert len(first.requests) == len(second.requests) == 5
    pids = await process_pids(server)
    owners = {pids.get(owner or "") for owner in (await lease_owners(server)).values()}
    assert owners == {sending.pid, helper.pid}  # each sent one subscription: the stream heard of the worker's too


async def test_a_reset_asked_of_the_server_stops_the_run_a_worker_plays(
    db: str, spawn: Any, server: Simulator, tmp_path: Path
) -> None:
    """The reset deleted the run's row, which neither of the player's looks (a cancel asked, a run taken over)
    matches: the worker played on, and sent the run's later events to subscriptions made after the reset."""
    player = worker(spawn, db, tmp_path / "s")
    run = await server.runs.start(RunSpec(scenario="paced", speed=0.2, seed=3))  # 30 events over 15 s
    await until_read(lambda: _running(server, run.id), 15, "the worker to start the run")
    await server.reset()
    said = f"run {run.id}: deleted by a reset elsewhere, this process stops playing it"
    await until_read(lambda: _said(player, said), 8, "the worker to stop the deleted run")
    with Receiver() as receiver:
        await server.create_subscription(SubscriptionSpec(url=receiver.url, events=["token.created"]))
        # Played on, the run would send here two events a second: none comes in three seconds.
        with pytest.raises(AssertionError, match="timed out"):
            await until_read(lambda: _got(receiver), 3, "an event of the deleted run")


async def _said(proc: Any, words: str) -> bool:
    return words in proc.output()


async def _got(receiver: Receiver) -> bool:
    return bool(receiver.requests)
