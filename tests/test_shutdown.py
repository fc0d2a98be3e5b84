"""Closing the simulator stops every live run, even one whose record is gone (a reset that raced a schedule's
firing leaves such a run): closing once raised NotFound on it and left the server's shutdown half done."""

from __future__ import annotations

import asyncio
from pathlib import Path

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec


async def test_closing_stops_a_live_run_whose_record_is_gone(tmp_path: Path) -> None:
    sim = await Simulator.open(str(tmp_path / "sim.db"))
    spec = RunSpec(scenario="syncfy-credential-lifecycle", target="http://127.0.0.1:9/", speed=1, seed=1)
    started = await sim.runs.start(spec)
    assert started.status in ("pending", "running")  # the lifecycle waits minutes between its events
    await sim.store.reset()
    await asyncio.wait_for(sim.close(grace=1), 10)
    assert sim.runs._tasks == {}
