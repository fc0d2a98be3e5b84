"""A run's count of events stays in view until its end is committed: the live count went first, and a commit that
waited behind a busy writer showed the stored row meanwhile, a run "running" with 0 events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec

EVENTS = 5


async def test_a_run_whose_end_waits_for_its_commit_still_shows_its_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "five.yaml").write_text(
        f"name: five\nprovider: basistheory\ndescription: five tokens\nsteps:\n"
        f"  - repeat: {EVENTS}\n    steps:\n      - emit: token.created\n"
    )
    sim = await Simulator.open(str(tmp_path / "s.db"), scenario_dirs=[tmp_path])
    try:
        ending, go_on = asyncio.Event(), asyncio.Event()
        real = sim.store.put_run

        async def slow_end(run_id: str, **values: Any) -> None:
            if values.get("finished_at") is not None:  # the run's end, held back as a busy writer would
                ending.set()
                await go_on.wait()
            await real(run_id, **values)

        monkeypatch.setattr(sim.store, "put_run", slow_end)
        run = await sim.runs.start(RunSpec(scenario="five", speed=0, seed=1))
        await asyncio.wait_for(ending.wait(), 30)
        meanwhile = await sim.runs.get(run.id)
        listed = [r for r in await sim.runs.list() if r.id == run.id]
        go_on.set()
        assert (meanwhile.status, meanwhile.events) == ("running", EVENTS)
        assert [r.events for r in listed] == [EVENTS]
        done = await sim.runs.wait(run.id, timeout=30)
        assert (done.status, done.events) == ("completed", EVENTS)
    finally:
        await sim.close()
