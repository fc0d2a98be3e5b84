"""A schedule that fires as a reset runs starts nothing once the reset is over. The firing read its schedule, then
waited for the reset, then started the run of the schedule the reset had deleted: after `POST /reset` answered, a
run went on sending (to its target, or to the subscriptions made after the reset)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from simulator.core.schedules import Schedules
from simulator.core.simulator import Simulator
from simulator.models.inputs import ScheduleSpec


async def test_a_firing_that_meets_a_reset_starts_no_run_after_it(tmp_path: Path) -> None:
    sim = await Simulator.open(str(tmp_path / "sim.db"))
    schedules = await Schedules.start(sim.store, sim.start_run, sim.validate_run)
    try:
        made = await schedules.create(
            ScheduleSpec(scenario="syncfy-credential-lifecycle", interval=3600, speed=0, target="http://127.0.0.1:9/")
        )
        # The reset holds its guard (it has begun) while the schedule fires.
        holding, go_on = asyncio.Event(), asyncio.Event()
        mark_reset = sim.store.mark_reset

        async def held_mark() -> None:
            holding.set()
            await go_on.wait()
            await mark_reset()

        sim.store.mark_reset = held_mark  # type: ignore[method-assign]
        reset = asyncio.create_task(sim.reset(first=schedules.clear))
        await asyncio.wait_for(holding.wait(), 10)
        read, get = asyncio.Event(), schedules.runs.get

        async def get_and_tell(schedule_id: str) -> object:
            found = await get(schedule_id)
            read.set()
            return found

        schedules.runs.get = get_and_tell  # type: ignore[method-assign]
        firing = asyncio.create_task(schedules._start_run(made["id"], None, 1_800_000_000.0))
        await asyncio.wait_for(read.wait(), 10)  # the firing has read its schedule, and waits for the reset
        go_on.set()
        await asyncio.wait_for(reset, 30)
        await asyncio.wait_for(firing, 30)
        assert await sim.store.list_runs() == []
        assert await sim.store.delivery_counts() == {}
    finally:
        await schedules.close()
        await asyncio.wait_for(sim.close(grace=1), 30)
