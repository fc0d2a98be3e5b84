"""A read a run cannot go on without waits through a restart of the store rather than fail the run: the position
a run's first event is numbered after (a shared store), read as PostgreSQL went down, failed a schedule's run with
`ConnectionResetError` and no event made."""

from __future__ import annotations

import pytest

from simulator.core.simulator import Simulator
from simulator.store import postgres


async def test_a_read_is_tried_again_while_the_store_cannot_be_reached() -> None:
    failures = [ConnectionResetError(104, "Connection reset by peer"), OSError("connection refused")]

    async def read() -> int:
        if failures:
            raise failures.pop(0)
        return 7

    assert await postgres.read_through_restarts(read) == 7 and failures == []


async def test_an_error_that_is_no_unreachable_store_is_raised_at_once() -> None:
    tries = []

    async def read() -> int:
        tries.append(1)
        raise ValueError("a fault")

    with pytest.raises(ValueError, match="a fault"):
        await postgres.read_through_restarts(read)
    assert tries == [1]


async def test_a_runs_first_position_is_read_through_a_restart(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    real, cut = sim.store.max_delivery_n, [ConnectionResetError(104, "Connection reset by peer")]

    async def max_delivery_n() -> int:
        if cut:
            raise cut.pop()
        return await real() + 41

    monkeypatch.setattr(sim.store, "max_delivery_n", max_delivery_n)
    await sim.engine._number_after_the_store("run_x")
    assert cut == [] and sim.engine._n >= 41
