"""The bound on live runs counts each run once: a run launched (its task made) whose start was not answered yet
counted twice, as launched and as starting, and 130 runs asked for at once were refused from the 99th, the 429
saying "100 runs are under way"."""

from __future__ import annotations

import asyncio

import pytest

from simulator.core import runs
from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec
from simulator.models.records import Run
from tests.conftest import until


async def test_a_run_launched_and_not_yet_answered_is_counted_once(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "MAX_LIVE_RUNS", 2)
    spec = RunSpec(scenario="syncfy-credential-lifecycle", speed=1, target="http://127.0.0.1:9/")
    answer = asyncio.Event()
    real_get = sim.runs.get

    async def held(run_id: str) -> Run:  # the first start's answer waits, its run launched
        await answer.wait()
        return await real_get(run_id)

    monkeypatch.setattr(sim.runs, "get", held)
    first = asyncio.ensure_future(sim.runs.start(spec))
    await until(lambda: len(sim.runs._tasks) == 1, what="the first run launched")
    monkeypatch.setattr(sim.runs, "get", real_get)
    try:
        second = await sim.runs.start(spec)  # one run is live: there is room for this one
    finally:
        answer.set()
    assert second.status in ("pending", "running") and (await first).id != second.id
    for run in (await first, second):
        await sim.runs.cancel(run.id)
