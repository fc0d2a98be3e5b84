"""A delivery waiting for its disabled subscription has no next attempt due: it goes once the subscription is
enabled again. Its `next_attempt_at` stayed the time its retry had been due, long past, and the list, the
delivery's page and the dashboard showed a retry about to come that never did."""

from __future__ import annotations

from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, RetrySpec, SubscriptionPatch, SubscriptionSpec
from simulator.testing.receiver import Receiver
from tests.conftest import until


async def test_a_disabled_subscriptions_waiting_delivery_has_no_next_attempt_until_it_is_enabled(
    sim: Simulator, receiver: Receiver
) -> None:
    receiver.respond(status=500)
    retry = RetrySpec(delays=[0.2, 0.2], jitter=0)
    sub = await sim.create_subscription(SubscriptionSpec(url=receiver.url, retry=retry, disable_after=1))
    for _ in range(2):
        await sim.emit(EventSpec(type="token.created"))
    await until(lambda: len(receiver.requests) >= 4, what="the first to die, the second to fail")
    await sim.engine.settled(None, timeout=5)
    assert (await sim.subscription(sub.id)).status == "disabled"
    [waiting] = [d for _, d in await sim.store.list_deliveries(subscription_id=sub.id) if d.status != "dead"]
    assert waiting.status in ("pending", "failed") and waiting.next_attempt_at is None
    assert (await sim.delivery(waiting.id)).next_attempt_at is None
    receiver.respond(status=204)
    await sim.update_subscription(sub.id, SubscriptionPatch(enabled=True))
    await until(lambda: receiver.requests[-1].status == 204, what="the waiting delivery, once enabled")
    assert await sim.engine.settled(None, timeout=5)
    assert (await sim.delivery(waiting.id)).status == "succeeded"
