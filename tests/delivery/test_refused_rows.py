"""A run whose rows the store refuses for good (a constraint, a table gone) ends `failed` with the store's reason:
its deliveries were never stored, so none of them will be sent, and the run waited for them for ever."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, SubscriptionSpec


def _bulk(directory: Path, events: int) -> str:
    (directory / "bulk.yaml").write_text(
        "name: bulk\nprovider: basistheory\ndescription: load\nsteps:\n"
        f"  - repeat: {events}\n    steps:\n      - emit: token.created\n"
    )
    return "bulk"


@pytest.mark.parametrize("speed", [0, 1000.0])
async def test_a_run_whose_deliveries_the_store_refuses_ends_failed_saying_why(tmp_path, receiver, speed):
    db = tmp_path / "sim.db"
    sim = await Simulator.open(str(db), scenario_dirs=[tmp_path])
    try:
        await sim.create_subscription(SubscriptionSpec(url=receiver.url))
        with sqlite3.connect(db) as conn:  # what the store cannot get past by trying again
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'refused here'); END"
            )
        run = await sim.runs.start(RunSpec(scenario=_bulk(tmp_path, 20), speed=speed, seed=3))
        run = await sim.runs.wait(run.id, timeout=30)
    finally:
        await sim.close()
    assert run.status == "failed"
    assert run.error is not None and "refused here" in run.error and "not stored" in run.error
    assert receiver.requests == []  # nothing that was not stored went out
