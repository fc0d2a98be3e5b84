"""A resend and a retention pass at once, on either store: the pass deletes the delivery between the resend's read
of it and its sending. The resend claims the row first, finds it gone, and sends nothing; it sent a webhook whose
record (its attempt, and the delivery's 404) was left to no delivery. The pass here is this process's own: on
SQLite it read the delivery as not being sent again before the resend said it was."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from simulator.core.simulator import Simulator
from simulator.errors import NotFound
from simulator.store import tables as t
from simulator.store.retention import prune
from simulator.testing.receiver import Receiver
from tests.store.test_retention import delivered


async def test_a_resend_of_what_a_pass_deletes_meanwhile_is_refused_not_sent(
    store_url: str, receiver: Receiver
) -> None:
    sim = await Simulator.open(store_url)
    try:
        [delivery_id] = await delivered(sim, receiver, 1)
        read_rows = sim.store.outbox_rows

        async def pruned_meanwhile(ids: list[str]) -> Any:  # the pass runs once the resend has read the row
            rows = await read_rows(ids)
            assert await prune(sim.store, 1.0, now=time.time() + 60) == 1
            return rows

        sim.store.outbox_rows = pruned_meanwhile  # type: ignore[method-assign]
        assert await sim.engine.redeliver([delivery_id]) == []
        sim.store.outbox_rows = read_rows  # type: ignore[method-assign]
        with pytest.raises(NotFound):  # as `POST /deliveries/{id}/redeliver` answers after such a resend: a 404
            await sim.delivery(delivery_id)
        await sim.store.writer.barrier()
        await sim.engine.settled(None, timeout=5)  # a resend under way would have ended with its attempt
        assert len(receiver.requests) == 1  # the first delivery only
        async with sim.store.engine.connect() as conn:
            left = (await conn.execute(select(func.count()).select_from(t.attempts))).scalar_one()
        assert left == 0  # no attempt recorded for a delivery that is gone
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)
