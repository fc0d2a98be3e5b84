"""A `reorder` subscription's deliveries go in the seed's order whatever its lane holds in memory: a delivery never
goes ahead of one planned before it that still waits in the store.

- A lane that reads its backlog back (it spilled, or started after a restart) was handed the windows let go
  meanwhile directly: they went ahead of that backlog, and the lane's reads went on from past them, so the rest
  of the backlog waited for a restart (on PostgreSQL, for a sweep: B got positions 2000-2420, then 0-1999).
- After a stop, a window the stop cut short goes in its deliveries' usual order: after the windows let go before
  it that were still waiting. It went ahead of them: its rows kept the time they were made, theirs the (later) time
  they were let go, and a lane sends the earliest due first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.core.simulator import Simulator
from simulator.delivery import lane as lane_module
from simulator.models import Event, Subscription
from simulator.models.inputs import SubscriptionSpec
from simulator.store import holds
from simulator.testing.receiver import Receiver
from tests.conftest import until
from tests.delivery.test_faults import events_of

WINDOW = 5
SEED = 3


def first_arrivals(receiver: Receiver) -> list[str]:
    """Each event id in the order it first arrived (a delivery cut off by the stop may arrive again)."""
    return list(dict.fromkeys(receiver.event_ids()))


async def publish(sim: Simulator, sub: Subscription, events: list[Event]) -> None:
    """Publish `events` in one turn of the loop (made before any of them commits), then wait for the commit."""
    for event in events:
        await sim.engine.publish(event, [sub], speed=0, faults={"reorder": WINDOW}, seed=SEED)
    await sim.store.writer.barrier()


async def stop_mid_way(db_path: Path, receiver: Receiver, events: list[Event]) -> Subscription:
    """A process that publishes `events` to a slow receiver, one at a time, and stops once the first has arrived:
    most of them are left in the store, waiting."""
    receiver.respond(status=204, delay=0.3)
    sim = await Simulator.open(str(db_path))
    try:
        sub = await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=1))
        await publish(sim, sub, events)
        await until(lambda: len(receiver.requests) >= 1, what="the first delivery")
    finally:
        await sim.close(grace=2)
    assert len(first_arrivals(receiver)) < len(events) - WINDOW, "too much went before the stop"
    return sub


async def sent_order(sim: Simulator, sub: Subscription, batches: list[list[Event]]) -> list[str]:
    """The event ids in the order the seed plans them: batch by batch (each published by a process of its own, its
    windows counted from zero), then window by window, by rank; a window cut short, by position."""
    await sim.store.records.barrier()
    records = {d.event_ids[0]: d.faults["reorder"] for _, d in await sim.store.list_deliveries(subscription_id=sub.id)}
    batch = {event.id: i for i, events in enumerate(batches) for event in events}
    return sorted(
        records,
        key=lambda eid: (
            batch[eid],
            records[eid]["index"],
            records[eid]["position" if "cut" in records[eid] else "rank"],
        ),
    )


async def test_windows_let_go_while_a_lane_reads_its_backlog_go_after_it(
    db_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = events_of("token.created", 13 * WINDOW, seed=5)
    before, after = events[: 9 * WINDOW], events[9 * WINDOW :]  # full windows: nine, then four
    sub = await stop_mid_way(db_path, receiver, before)

    # The restarted lane reads its backlog (over 40 deliveries) 20 at a time, and reads on once 11 are left: more
    # than a window, so a window the page's end splits waits for the rest of it (a lane's low water is 500).
    monkeypatch.setattr(lane_module, "HIGH_WATER", 20)
    monkeypatch.setattr(lane_module, "LOW_WATER", 12)
    receiver.respond(status=204, delay=0.05)
    sim = await Simulator.open(str(db_path))
    try:
        await publish(sim, sub, after)  # its four windows fill, and go, while the backlog is still being read
        assert sim.engine.lanes[sub.id].spilled, "the lane had read its whole backlog: nothing to overtake"
        arrived = lambda: set(first_arrivals(receiver))  # noqa: E731
        # Until every event arrived, or every later one did (some of the backlog overtaken, or left in the store).
        await until(lambda: arrived() >= {e.id for e in after}, timeout=15, what="the later events")
        await until(lambda: len(arrived()) == len(events), timeout=2, what="the backlog, left in the store")
        expected = await sent_order(sim, sub, [before, after])
    finally:
        await sim.close(grace=1)
    print("DBG", [expected.index(e) for e in first_arrivals(receiver)])
    assert first_arrivals(receiver) == expected


async def test_a_window_a_stop_cut_short_goes_after_the_windows_let_go_before_it(
    db_path: Path, receiver: Receiver
) -> None:
    events = events_of("token.created", 4 * WINDOW + 3)  # four full windows, and three of a fifth at the stop
    sub = await stop_mid_way(db_path, receiver, events)

    receiver.respond(status=204)
    sim = await Simulator.open(str(db_path))
    try:
        await until(lambda: len(first_arrivals(receiver)) == len(events), timeout=15, what="every event")
        expected = await sent_order(sim, sub, [events])
        cut = [d.faults["reorder"].get("cut") for _, d in await sim.store.list_deliveries(subscription_id=sub.id)]
    finally:
        await sim.close(grace=1)
    assert cut == [None] * 4 * WINDOW + [holds.CUT] * 3  # only the fifth window was still filling
    print("DBG", [expected.index(e) for e in first_arrivals(receiver)])
    assert first_arrivals(receiver) == expected
