"""A long run has its events built by a process of its own: the receiver gets the same events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from simulator.core import run_plan
from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.scenarios import offload
from simulator.testing.receiver import Receiver


async def events(directory: Path, receiver: Receiver, n: int, speed: float = 0) -> list[dict]:
    """The events one run of `n` events at `speed` delivers, on a simulator of its own (each body but its
    `delivered_at`, the moment it was sent)."""
    (directory / "bulk.yaml").write_text(
        "name: bulk\nprovider: basistheory\ndescription: load\nsteps:\n"
        f"  - repeat: {n}\n    steps:\n      - emit: token.created\n      - emit: token.updated\n"
    )
    sim = await Simulator.open(str(directory / "sim.db"), scenario_dirs=[directory])
    try:
        await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=8))
        run = await sim.runs.start(RunSpec(scenario="bulk", speed=speed, seed=3, start_time="2025-03-14T15:09:26Z"))
        run = await sim.runs.wait(run.id, timeout=60)
        assert run.counts == {"succeeded": 2 * n}
    finally:
        await asyncio.wait_for(sim.close(grace=0), 10)
    got = sorted((json.loads(r.body)["event"] for r in receiver.requests), key=lambda e: e["id"])
    receiver.requests.clear()
    return got


def spy_on_starts(monkeypatch) -> list[int]:
    """The `skip` of every building process started: the events the run built itself."""
    started: list[int] = []
    real = offload._start

    async def start(job, skip):
        started.append(skip)
        return await real(job, skip)

    monkeypatch.setattr(offload, "_start", start)
    return started


async def test_a_long_run_delivers_the_same_events_built_elsewhere(tmp_path, receiver, monkeypatch):
    monkeypatch.setattr(run_plan, "OFFLOAD_AFTER", None)
    (tmp_path / "a").mkdir()
    here = await events(tmp_path / "a", receiver, 150)
    started = spy_on_starts(monkeypatch)
    monkeypatch.setattr(offload, "BUILD_WHILE_STARTING", False)
    monkeypatch.setattr(run_plan, "OFFLOAD_AFTER", 40)
    (tmp_path / "b").mkdir()
    there = await events(tmp_path / "b", receiver, 150)
    assert started == [40] and len(there) == 300 and there == here


async def test_a_long_timed_run_takes_every_event_from_its_process(tmp_path, receiver, monkeypatch):
    """At speed > 0 a run longer than the hand-off builds none of its events: the server that sends them on time
    keeps its time for sending. A timed run shorter than that starts no process."""
    monkeypatch.setattr(run_plan, "OFFLOAD_AFTER", None)
    (tmp_path / "a").mkdir()
    here = await events(tmp_path / "a", receiver, 60)
    started = spy_on_starts(monkeypatch)
    monkeypatch.setattr(run_plan, "OFFLOAD_AFTER", 40)
    (tmp_path / "b").mkdir()
    there = await events(tmp_path / "b", receiver, 60, speed=1)
    assert started == [0] and there == here
    monkeypatch.setattr(run_plan, "OFFLOAD_AFTER", 500)
    (tmp_path / "c").mkdir()
    assert await events(tmp_path / "c", receiver, 60, speed=1) == here and started == [0]
