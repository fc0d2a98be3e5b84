"""A `reorder` window (or `burst` group) that goes before it fills, as a run ends or its subscription's faults
change: its deliveries' fault records say it was cut short, and a window's ranks are the order its deliveries went
in. Drawn for the whole window, a window of 3 recorded ranks 3 and 4, places it never had."""

from __future__ import annotations

from collections.abc import Callable

from simulator.core.simulator import Simulator
from simulator.delivery.faults_hold import CUT_EARLY
from simulator.testing.receiver import Receiver
from tests.conftest import until
from tests.delivery.test_faults import deliver, events_of, subscribe


async def test_a_window_cut_short_records_the_ranks_its_deliveries_went_in(sim: Simulator, receiver: Receiver) -> None:
    events = events_of("token.created", 13)  # two windows of 5, and one of 3 that the end lets go
    for seed in (1, 3, 4):  # each drew ranks past 2 for the last window
        receiver.clear()
        sub = await subscribe(sim, receiver.url)
        deliveries = await deliver(sim, sub, events, {"reorder": 5, "burst": 13}, seed=seed)
        await sim.store.records.barrier()  # the records of what was let go
        by_event = {d.event_ids[0]: d for _, d in await sim.store.list_deliveries(subscription_id=sub.id)}
        assert len(deliveries) == len(by_event) == 13
        arrived = receiver.event_ids()
        assert sorted(arrived) == sorted(e.id for e in events)
        for position, event in enumerate(events):
            record = by_event[event.id].faults
            window = record["reorder"]
            if window["index"] < 2:  # full: as drawn, and not cut
                assert "cut" not in window
                assert arrived[5 * window["index"] + window["rank"]] == event.id
            else:
                assert window["cut"] == CUT_EARLY
                assert arrived[10 + window["rank"]] == event.id, (seed, position, window)
            assert "cut" not in record["burst"]  # a group of 13 for 13: it filled


async def test_the_new_record_is_stored_as_the_window_goes_before_any_attempt_ends(
    sim: Simulator, make_receiver: Callable[..., Receiver]
) -> None:
    """Written with the attempt's record alone, it was the old one until then; and on a shared store another
    process, sending what this one let go, read the old one and wrote it back with its attempt."""
    slow = make_receiver()
    slow.respond(204, delay=30.0)  # answers nothing while the test looks
    sub = await subscribe(sim, slow.url, max_in_flight=10)
    events = events_of("token.created", 3)
    for event in events:
        await sim.engine.publish(event, [sub], speed=0, faults={"reorder": 5}, seed=1)
    await sim.engine.release(None)
    await until(lambda: slow.in_flight == 3, what="the three attempts under way")
    await sim.store.records.barrier()
    stored = [d.faults["reorder"] for _, d in await sim.store.list_deliveries(subscription_id=sub.id)]
    assert all(d["cut"] == CUT_EARLY for d in stored), stored
    assert sorted(d["rank"] for d in stored) == [0, 1, 2], stored
