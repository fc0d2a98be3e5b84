"""A long speed-0 run has its events built by a process of its own: the receiver gets the same events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from simulator.core import runs
from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.scenarios import offload
from simulator.testing.receiver import Receiver


async def events(directory: Path, receiver: Receiver, n: int) -> list[dict]:
    """The events one run of `n` events at speed 0 delivers, on a simulator of its own (each body but its
    `delivered_at`, the moment it was sent)."""
    (directory / "bulk.yaml").write_text(
        "name: bulk\nprovider: basistheory\ndescription: load\nsteps:\n"
        f"  - repeat: {n}\n    steps:\n      - emit: token.created\n      - emit: token.updated\n"
    )
    sim = await Simulator.open(str(directory / "sim.db"), scenario_dirs=[directory])
    try:
        await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=8))
        run = await sim.runs.start(RunSpec(scenario="bulk", speed=0, seed=3, start_time="2025-03-14T15:09:26Z"))
        run = await sim.runs.wait(run.id, timeout=60)
        assert run.counts == {"succeeded": 2 * n}
    finally:
        await asyncio.wait_for(sim.close(grace=0), 10)
    got = sorted((json.loads(r.body)["event"] for r in receiver.requests), key=lambda e: e["id"])
    receiver.requests.clear()
    return got


async def test_a_long_run_delivers_the_same_events_built_elsewhere(tmp_path, receiver, monkeypatch):
    monkeypatch.setattr(runs, "OFFLOAD_AFTER", None)
    (tmp_path / "a").mkdir()
    here = await events(tmp_path / "a", receiver, 150)
    started: list[object] = []
    real = offload._start

    async def start(job, skip):
        started.append(skip)
        return await real(job, skip)

    monkeypatch.setattr(offload, "_start", start)
    monkeypatch.setattr(offload, "BUILD_WHILE_STARTING", False)
    monkeypatch.setattr(runs, "OFFLOAD_AFTER", 40)
    (tmp_path / "b").mkdir()
    there = await events(tmp_path / "b", receiver, 150)
    assert started == [40] and len(there) == 300 and there == here
