"""A lane's in-memory window at speed 0: a run waits for a lane that keeps up instead of spilling it to the
store, and never waits long for one that does not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulator.core.simulator import Simulator
from simulator.delivery import lane as lanes
from simulator.delivery import publishing
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.scenarios import runner
from tests.conftest import until


@pytest.fixture
async def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Simulator, list[int]]]:
    """A simulator whose lanes hold 20 deliveries, with a count of the rows lanes read back from the store."""
    monkeypatch.setattr(lanes, "HIGH_WATER", 20)
    monkeypatch.setattr(lanes, "LOW_WATER", 5)
    (tmp_path / "bulk.yaml").write_text(
        "name: bulk\nprovider: basistheory\ndescription: load\n"
        "params:\n  n: {default: 10}\nsteps:\n"
        '  - repeat: "${n}"\n    steps:\n      - emit: token.created\n'
    )
    sim = await Simulator.open(str(tmp_path / "sim.db"), scenario_dirs=[tmp_path])
    read_back: list[int] = []
    load = sim.engine._load

    async def counting(sub_id: str, after_n: int, limit: int) -> list:
        jobs = await load(sub_id, after_n, limit)
        read_back.extend(job.n for job in jobs)
        return jobs

    sim.engine._load = counting  # type: ignore[method-assign]  # lanes made from now on read through it
    yield sim, read_back
    await asyncio.wait_for(sim.close(grace=0), 10)


async def test_a_run_waits_for_a_lane_that_keeps_up(small, receiver, monkeypatch):
    # A lane that keeps up makes room within milliseconds; a loaded machine's stall of a second must not be
    # taken for one that hangs (the tests below hold that one to ROOM_WAIT).
    monkeypatch.setattr(publishing, "ROOM_WAIT", 60.0)
    sim, read_back = small
    await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=4))
    run = await sim.runs.start(RunSpec(scenario="bulk", speed=0, seed=1, params={"n": 300}))
    run = await sim.runs.wait(run.id, timeout=30)
    assert run.counts == {"succeeded": 300}
    assert read_back == []  # every delivery went from the run to the lane, none through a read of the store
    assert len(receiver.requests) == 300


async def test_a_hanging_lane_spills_and_never_holds_back_another(small, make_receiver):
    sim, _ = small
    hanging, fast = make_receiver(), make_receiver()
    hanging.respond(status=204, delay=30)
    await sim.create_subscription(SubscriptionSpec(url=hanging.url, timeout=60, max_in_flight=1))
    await sim.create_subscription(SubscriptionSpec(url=fast.url))
    await sim.runs.start(RunSpec(scenario="bulk", speed=0, seed=1, params={"n": 200}))
    await fast.wait_for_async(200, timeout=10)
    assert hanging.in_flight == 1 and len(hanging.requests) == 0


async def test_a_run_whose_only_lane_hangs_still_emits_every_event(small, receiver):
    sim, _ = small
    receiver.respond(status=204, delay=30)
    await sim.create_subscription(SubscriptionSpec(url=receiver.url, timeout=60, max_in_flight=1))
    run = await sim.runs.start(RunSpec(scenario="bulk", speed=0, seed=1, params={"n": 100}))
    # One wait of ROOM_WAIT at most, then the lane spills and the store takes the rest.
    await until(lambda: sim.runs._emitted.get(run.id) == 100, timeout=10, what="all 100 events emitted")
    await until(lambda: sim.store.writer._queue.empty(), timeout=10, what="the writes")
    await sim.store.writer.barrier()
    assert (await sim.runs.get(run.id)).events == 100


async def test_a_run_waiting_for_room_goes_on_once_several_deliveries_fit_not_at_each(small, receiver, monkeypatch):
    """Woken as each delivery ended, a run went in lockstep with its lane: one event published, one wait. It goes
    on once a quarter of the window is free, so what it publishes then is written as one change."""
    monkeypatch.setattr(runner, "_YIELD_AFTER", 60.0)  # the run gives the loop a turn only where it waits
    monkeypatch.setattr(publishing, "ROOM_WAIT", 60.0)  # a loaded machine's stall is no hanging lane
    sim, read_back = small
    await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=2))
    sizes: list[int] = []
    real = sim.store.writer.put_nowait

    def put_nowait(op):
        if op.events:
            sizes.append(len(op.events))
        real(op)

    sim.store.writer.put_nowait = put_nowait
    run = await sim.runs.start(RunSpec(scenario="bulk", speed=0, seed=1, params={"n": 300}))
    run = await sim.runs.wait(run.id, timeout=30)
    assert run.counts == {"succeeded": 300}
    assert read_back == []  # and still never more than the window holds
    # The window (20) is full after the first events; then the run goes on 5 at a time (a quarter of it), or more.
    # In lockstep: one at a time.
    assert sum(sizes) == 300 and len(sizes) <= 300 // 4, f"{len(sizes)} changes for 300 events: {sizes[:40]}"
