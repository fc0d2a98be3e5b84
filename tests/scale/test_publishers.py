"""Several processes publishing to one subscription on a shared store: each numbers its deliveries itself, so a
delivery one of them makes may come behind the position the sender has read to. The sender still takes it at
its next read, not once the subscription has nothing else to send."""

from __future__ import annotations

import asyncio

import pytest

from simulator.core.simulator import Simulator
from simulator.delivery import shared
from simulator.models.inputs import EventSpec
from simulator.testing.receiver import Receiver
from tests.scale.helpers import by_path, distinct, duplicates, publish, subscribe, until


async def test_a_delivery_numbered_behind_what_the_sender_read_is_sent_while_the_others_go_on(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    first = await Simulator.open(db, sends=False)
    second = await Simulator.open(db, sends=False)  # opened beside the first: it numbers from the same start
    for publisher in (first, second):  # and goes on so for this test (a round would move it past the first's)
        monkeypatch.setattr(publisher.engine, "number_after", lambda n: None)
    sender = await Simulator.open(db, role="worker")
    try:
        with Receiver() as receiver:
            receiver.respond(204, delay=0.05)  # one at a time, 50 ms each: the lane stays busy
            (sub,) = await subscribe(first, receiver, 1, max_in_flight=1)
            await publish(first, [sub], 20, seed=1)
            await until(lambda: len(receiver.requests) >= 5, 10, "the first publisher's deliveries to flow")
            (late,) = await publish(second, [sub], 1, seed=2)
            more = await publish(first, [sub], 40, seed=3)  # due after it, and numbered after what was read
            await until(lambda: distinct(receiver) == 61, 30, "every delivery")
            assert await sender.engine.settled(None, timeout=10)
            assert duplicates(receiver) == 0  # what the lane held, or ended during a read, was not read again
            arrived = by_path(receiver)["/hook/s0"]
            assert arrived.index(late) < arrived.index(more[-10]), (
                f"the second publisher's delivery waited for the lane to idle: {arrived.index(late) + 1} of 61"
            )
    finally:
        for sim in (sender, second, first):
            await sim.close()


async def test_a_lone_publishers_deliveries_cost_the_sender_no_read_behind_its_position(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One publishing process numbers its deliveries in the order it commits them: nothing can come behind a
    sender's position, and a busy sender does not list what it holds every second to find out."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    publisher = await Simulator.open(db, sends=False)
    sender = await Simulator.open(db, role="worker")
    reads = 0
    real = sender.store.outbox_ids_behind

    async def counted(sub_id: str, upto_n: int) -> list[str]:
        nonlocal reads
        reads += 1
        return await real(sub_id, upto_n)

    monkeypatch.setattr(sender.store, "outbox_ids_behind", counted)
    try:
        with Receiver() as receiver:
            receiver.respond(204, delay=0.05)
            (sub,) = await subscribe(publisher, receiver, 1, max_in_flight=1)
            for seed in range(4):  # the lane stays busy for some 3 s, its sender told of each commit
                await publish(publisher, [sub], 15, seed=seed)
                await asyncio.sleep(0.5)
            await until(lambda: distinct(receiver) == 60, 30, "every delivery")
    finally:
        for sim in (sender, publisher):
            await sim.close()
    assert reads == 0


async def test_a_publisher_numbers_after_the_positions_another_gave_within_a_round(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process numbers its deliveries itself; at each round (a second at most) it moves past the highest
    position in the store, so what it makes next does not come behind what senders have read of another's."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    first = await Simulator.open(db, sends=False)
    second = await Simulator.open(db, sends=False)
    try:
        with Receiver() as receiver:
            (sub,) = await subscribe(first, receiver, 1)
            await publish(first, [sub], 30, seed=1)
            highest = await first.store.max_delivery_n()
            await until(lambda: second.engine._n >= highest, 5, "the second publisher's round")
            await publish(second, [sub], 1, seed=2)
            assert await second.store.max_delivery_n() == highest + 1  # not at a position behind
    finally:
        for sim in (second, first):
            await sim.close()


async def test_an_event_made_through_one_server_after_anothers_answered_is_numbered_after_it(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each server numbered its deliveries from where it last caught up with the others, once a round: an event
    made through the second after the first had answered got the lower position, and a strict subscription
    received the two the wrong way round."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    monkeypatch.setattr(shared, "ROUND_MAX", 60.0)  # no round moves either's numbering meanwhile
    first = await Simulator.open(db, sends=False)
    second = await Simulator.open(db, sends=False)
    try:
        with Receiver() as receiver:
            (sub,) = await subscribe(first, receiver, 1, strict_order=True)
            made = []
            for server in (first, first, first, second, first, second, second, first):
                _, [delivery_id] = await server.emit(EventSpec(type="token.created", subscriptions=[sub.id]))
                made.append(delivery_id)
            listed = await first.store.list_deliveries(subscription_id=sub.id)
            assert [d.id for _, d in sorted(listed, key=lambda item: item[0])] == made
    finally:
        for sim in (second, first):
            await sim.close()
