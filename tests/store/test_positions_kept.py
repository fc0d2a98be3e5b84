"""A delivery's position (`n`, and `listed`, what `GET /deliveries` pages by) is never given twice: deleted by a
retention pass or a reset, the highest ones were given again after a restart, and a client paging on from a cursor
it read before skipped the deliveries that took them."""

from __future__ import annotations

import asyncio
import time

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec
from simulator.store.retention import prune
from simulator.testing.receiver import Receiver
from tests.store.test_retention import delivered, eventually


@pytest.mark.parametrize("deleted_by", ["retention", "reset"])
async def test_positions_deleted_are_not_given_again_after_a_restart(
    store_url: str, receiver: Receiver, deleted_by: str
) -> None:
    sim = await Simulator.open(store_url)
    try:
        ids = await delivered(sim, receiver, 3)
        before = max(position for position, _ in await sim.store.list_deliveries())
        if deleted_by == "retention":
            assert await prune(sim.store, 1.0, now=time.time() + 60) == len(ids)
        else:
            await sim.reset()
        assert await sim.store.list_deliveries() == []
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)
    sim = await Simulator.open(store_url)  # numbering from what the store holds
    try:
        if deleted_by == "reset":  # its subscription went with it
            await delivered(sim, receiver, 1)
        else:
            await sim.emit(EventSpec(type="token.created"))

            async def sent() -> bool:
                return bool(await sim.store.list_deliveries())

            await eventually(sent)
        [(position, _)] = await sim.store.list_deliveries()
        assert position > before, (position, before)
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)
