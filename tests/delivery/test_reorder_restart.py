"""A `reorder` window that filled before the server stopped keeps the order the seed drew after a restart: its
deliveries not yet sent go in that order, and their records do not say the hold was cut short. Only a window still
filling when the server stopped is cut short (tests/delivery/test_faults.py). Left marked held in the store, every
released delivery was taken for a cut hold at the restart and sent in the order it arrived."""

from __future__ import annotations

from pathlib import Path

from simulator.core.simulator import Simulator
from simulator.models.inputs import SubscriptionSpec
from simulator.testing.receiver import Receiver
from tests.conftest import until
from tests.delivery.test_faults import events_of

WINDOW = 4


def first_arrivals(receiver: Receiver) -> list[str]:
    """Each event id in the order it first arrived (a delivery cut off by the stop may arrive again)."""
    return list(dict.fromkeys(receiver.event_ids()))


async def test_a_filled_window_keeps_its_drawn_order_across_a_restart(db_path: Path, receiver: Receiver) -> None:
    events = events_of("token.created", 2 * WINDOW)
    receiver.respond(status=204, delay=0.3)  # one at a time, slowly: most are still queued when the server stops
    sim = await Simulator.open(str(db_path))
    sub = await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=1))
    for event in events:
        await sim.engine.publish(event, [sub], speed=0, faults={"reorder": WINDOW}, seed=3)
    await sim.store.writer.barrier()
    await until(lambda: len(receiver.requests) >= 1, timeout=10, what="the first delivery")
    await sim.close(grace=2)
    sent_before = len(first_arrivals(receiver))
    assert sent_before < len(events), "every delivery went before the stop: nothing was left to resume"

    receiver.respond(status=204)
    sim = await Simulator.open(str(db_path))
    try:
        await until(lambda: len(first_arrivals(receiver)) == len(events), timeout=15, what="every event")
        deliveries = {d.event_ids[0]: d for _, d in await sim.store.list_deliveries(subscription_id=sub.id)}
    finally:
        await sim.close(grace=1)
    arrived = first_arrivals(receiver)
    for eid, delivery in deliveries.items():
        record = delivery.faults["reorder"]
        assert "cut" not in record, record
        assert arrived[WINDOW * record["index"] + record["rank"]] == eid, (record, arrived)
