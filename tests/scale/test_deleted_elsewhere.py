"""A subscription deleted through one process while others send for it, or publish to it, on a shared store:
the process sending stops at once (told by NOTIFY, not at its next read a second later), and what another process
published to it during the delete ends dead instead of waiting for good for a lease nobody will take."""

from __future__ import annotations

import asyncio
import time

import pytest

from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.errors import Conflict
from simulator.testing.receiver import Receiver
from tests.scale.helpers import publish, subscribe, until


async def test_a_subscription_deleted_elsewhere_stops_its_sender_and_ends_what_was_made_meanwhile(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    api = await Simulator.open(db, sends=False)  # the server the DELETE goes through
    late = await Simulator.open(db, sends=False)  # a server publishing with the subscription it read before
    sender = await Simulator.open(db, role="worker")
    try:
        with Receiver() as receiver:
            receiver.respond(204, delay=0.05)  # one at a time: the worker's lane holds a long queue
            (sub,) = await subscribe(api, receiver, 1, max_in_flight=1)
            await publish(api, [sub], 200, seed=1)
            await until(lambda: len(receiver.requests) >= 3, 20, "the worker sending")
            await api.subscriptions.delete(sub.id)
            deleted_at = time.time()
            # A publish that matched the subscription before the delete, committed after it.
            event = catalog.build_event(catalog.resolve("token.created"), catalog.new_context(2, catalog.SAMPLE_TIME))
            (stray,) = await late.engine.publish(event, [sub], speed=0)
            await late.store.writer.barrier()

            async def stray_ended() -> bool:
                return (await api.delivery(stray)).status == "dead"

            deadline = time.monotonic() + 20
            while not await stray_ended():
                assert time.monotonic() < deadline, "the delivery published during the delete still waits"
                await asyncio.sleep(0.05)
            after = [r for r in list(receiver.requests) if r.at > deleted_at + 0.3]
            assert after == [], f"{len(after)} requests reached the receiver over 0.3 s after the DELETE answered"
            assert (await api.delivery(stray)).last_error == "its subscription was deleted"
    finally:
        for sim in (sender, late, api):
            await sim.close()


async def test_a_resend_through_a_process_that_does_not_send_says_when_the_retry_comes(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    api = await Simulator.open(db, sends=False)
    sender = await Simulator.open(db, role="worker")
    try:
        with Receiver() as receiver:
            receiver.respond(500)
            (sub,) = await subscribe(api, receiver, 1, retry={"delays": [3600]})
            event = catalog.build_event(catalog.resolve("token.created"), catalog.new_context(3, catalog.SAMPLE_TIME))
            await api.engine.publish(event, [sub], speed=1)  # at speed 0 the hour's retry would take no time
            await until(lambda: receiver.requests, 20, "the first attempt")
            [(_, delivery)] = await api.store.list_deliveries(subscription_id=sub.id)

            async def failed() -> bool:
                return (await api.delivery(delivery.id)).status == "failed"

            deadline = time.monotonic() + 20
            while not await failed():
                assert time.monotonic() < deadline, "the first attempt's record"
                await asyncio.sleep(0.05)
            with pytest.raises(Conflict) as refused:
                await api.redeliver(delivery.id)
            assert "waiting for its next retry at" in refused.value.detail
            assert "only the process that sends its subscription's deliveries" in refused.value.detail
            assert "send it again in a moment" not in refused.value.detail  # it would not work before the retry
    finally:
        for sim in (sender, api):
            await sim.close()
