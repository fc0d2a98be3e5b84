"""Rows gathered for a turn of the event loop (`delivery/gather.py`): a run at speed 0's events and deliveries, and
attempt records, go to the writer as one change a turn, in the order their positions were given, and none is left
behind by a barrier or by closing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.delivery import gather
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.scenarios import runner
from simulator.store import writer as writer_module
from simulator.store.writer import Op


def _count_changes(sim: Simulator) -> list[Op]:
    """Every change given to the writer from now on."""
    seen: list[Op] = []
    real = sim.store.writer.put_nowait

    def put_nowait(op: Op) -> None:
        seen.append(op)
        real(op)

    sim.store.writer.put_nowait = put_nowait  # type: ignore[method-assign]
    return seen


def _bulk(directory: Path, events: int) -> str:
    (directory / "bulk.yaml").write_text(
        "name: bulk\nprovider: basistheory\ndescription: load\nsteps:\n"
        f"  - repeat: {events}\n    steps:\n      - emit: token.created\n"
    )
    return "bulk"


async def test_a_run_at_speed_0_gives_the_writer_its_rows_a_turn_at_a_time_and_loses_none(
    tmp_path, receiver, monkeypatch
):
    # The run gives the loop a turn only where it must (its 400 events are built here and fit the lane's window):
    # how many it publishes in a turn is then the chunk's size, whatever the machine's pace.
    monkeypatch.setattr(runner, "_YIELD_AFTER", 60.0)
    sim = await Simulator.open(str(tmp_path / "sim.db"), scenario_dirs=[tmp_path])
    try:
        await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=8))
        changes = _count_changes(sim)
        run = await sim.runs.start(RunSpec(scenario=_bulk(tmp_path, 400), speed=0, seed=3))
        run = await sim.runs.wait(run.id, timeout=60)
    finally:
        await sim.close()
    assert run.counts == {"succeeded": 400}
    assert len(receiver.requests) == 400
    published = [op for op in changes if op.events]
    recorded = [op for op in changes if op.attempts]
    assert sum(len(op.events) for op in published) == 400
    assert sum(len(op.deliveries) for op in published) == 400
    assert sum(len(op.attempts) for op in recorded) == sum(len(op.updates) for op in recorded) == 400
    # Six of CHUNK (64) events, and the 16 left at the turn's end; one change per event before.
    assert [len(op.events) for op in published] == [64] * 6 + [16]
    with sqlite3.connect(tmp_path / "sim.db") as db:
        assert db.execute("select count(*) from events where run_id = ?", (run.id,)).fetchone() == (400,)
        assert db.execute("select count(*) from attempts").fetchone() == (400,)
        statuses = db.execute("select status, count(*) from deliveries group by status").fetchall()
    assert statuses == [("succeeded", 400)]


async def test_what_a_run_at_speed_0_gathered_goes_to_the_writer_before_a_change_made_after_it(sim, receiver):
    """Positions must be committed in the order they were given: a lane that read past a later one would never read
    the earlier one back."""
    sub = await sim.create_subscription(SubscriptionSpec(url=receiver.url))
    changes = _count_changes(sim)
    etype = catalog.resolve("token.created")
    gathered, at_once = (catalog.build_event(etype, catalog.new_context(seed, catalog.SAMPLE_TIME)) for seed in (1, 2))
    first = await sim.engine.publish(gathered, [sub], speed=0)
    second = await sim.engine.publish(at_once, [sub], speed=1.0)  # in the same turn of the loop
    assert [[row["id"] for row in op.deliveries] for op in changes if op.deliveries] == [first, second]
    await receiver.wait_for_async(2)
    assert [r.json()["event"]["id"] for r in receiver.requests] == [gathered.id, at_once.id]


async def test_closing_the_writer_in_the_turn_rows_were_gathered_writes_them(tmp_path):
    sim = await Simulator.open(str(tmp_path / "sim.db"))
    try:
        event = catalog.build_event(catalog.resolve("token.created"), catalog.new_context(5, catalog.SAMPLE_TIME))
        await sim.engine.publish(event, [], speed=0)
        # In the same turn (not through wait_for, whose task would start a turn later): nothing was given to it.
        await sim.store.writer.close()
        with sqlite3.connect(tmp_path / "sim.db") as db:
            assert db.execute("select id from events").fetchall() == [(event.id,)]
    finally:
        sim.store.writer.start()  # for the simulator's own closing
        await asyncio.wait_for(sim.close(), 10)


async def test_the_attempt_records_of_a_turn_are_one_change(sim, monkeypatch):
    """On a store of one process nothing waits for an attempt's record: the records a turn makes go together."""
    changes: list[Op] = []
    monkeypatch.setattr(sim.store.writer, "put_nowait", changes.append)  # kept here: the rows name no delivery
    records = sim.engine._records
    for n in range(3):
        records.add({"delivery_id": f"msg_{n}"}, {"_id": f"msg_{n}"}, timed=False)
    assert changes == []  # not before the turn ends
    await asyncio.sleep(0)
    records.add({"delivery_id": "msg_3"}, {"_id": "msg_3"}, timed=True)
    await asyncio.sleep(0)
    assert [[row["delivery_id"] for row in op.attempts] for op in changes] == [["msg_0", "msg_1", "msg_2"], ["msg_3"]]
    assert [[row["_id"] for row in op.updates] for op in changes] == [["msg_0", "msg_1", "msg_2"], ["msg_3"]]
    assert [(op.patient, op.timed) for op in changes] == [(True, False), (True, True)]


async def test_while_a_timed_run_plays_a_run_at_speed_0_waits_for_a_short_queue_to_the_store(
    tmp_path, receiver, monkeypatch
):
    """A timed run's rows must find a short queue (`Writer.crowded`): what a run at speed 0 gathered then waits its
    turn in `put`, where given at the turn's end it joined the queue without waiting. A timed run beside a run of
    20,000 events at speed 0 went 0.2-0.3 s late so."""
    monkeypatch.setattr(writer_module, "TIMED_ROWS", 64)
    sim = await Simulator.open(str(tmp_path / "sim.db"), scenario_dirs=[tmp_path])
    writer = sim.store.writer
    queued: list[int] = []  # the rows queued as each of the run's changes joined
    real = writer.put_nowait

    def put_nowait(op: Op) -> None:
        real(op)
        if op.events:
            queued.append(writer._rows)

    writer.put_nowait = put_nowait  # type: ignore[method-assign]
    try:
        await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=16))
        with writer.timed_run():  # a timed run plays, between its events
            run = await sim.runs.start(RunSpec(scenario=_bulk(tmp_path, 2000), speed=0, seed=4))
            run = await sim.runs.wait(run.id, timeout=120)
    finally:
        await sim.close()
    assert run.counts == {"succeeded": 2000}
    # At most what was queued when the run last found room, and the change it then gave (a chunk's events and
    # deliveries); before, the run's changes piled up to thousands of rows while one commit was under way.
    assert max(queued) <= 64 + 2 * gather.CHUNK, sorted(queued)[-5:]
