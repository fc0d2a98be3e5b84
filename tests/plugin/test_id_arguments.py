"""An argument that takes an id (or a URL) refuses the handle or record that has it, naming the argument and saying
how to get the id: given the object, a filter matched nothing, and an assertion that no delivery died passed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from simulator.client import DeliveryInfo, EmittedEvent, SubscriptionInfo
from simulator.testing import RunHandle, WebhookSim
from simulator.testing.receiver import Receiver


def test_a_run_handle_given_as_the_run_of_a_filter_is_refused_not_matched_against_nothing(
    webhook_sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    consumer = make_webhook_receiver(status=500)  # every delivery dies
    run = webhook_sim.run("syncfy-credential-lifecycle", params={"refreshes": 0}, target=consumer.url)
    run.wait(30)
    with pytest.raises(TypeError, match=r"^run must be a run id \(a str\), got a RunHandle: pass its \.id$"):
        webhook_sim.deliveries(run=run, status="dead")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"run must be a run id \(a str\), got a RunInfo: pass its \.id"):
        webhook_sim.deliveries(run=run.get(), status="dead")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"run must be a run id \(a str\), got a RunHandle: pass its \.id"):
        webhook_sim.wait_for_deliveries(1, run=run, timeout=1)  # type: ignore[arg-type]
    assert len(webhook_sim.deliveries(run=run.id, status="dead")) == 4


@dataclass
class Made:
    """What a test has at hand: a subscription, a run, an emitted event and its delivery, a receiver."""

    subscription: SubscriptionInfo
    run: RunHandle
    event: EmittedEvent
    delivery: DeliveryInfo
    receiver: Receiver


@pytest.fixture
def made(webhook_sim: WebhookSim, webhook_receiver: Receiver) -> Made:
    sub = webhook_sim.subscribe(webhook_receiver.url)
    event = webhook_sim.emit("credentials.updated", subscriptions=[sub.id])
    [delivery] = webhook_sim.wait_for_deliveries(1, subscription=sub.id)
    run = webhook_sim.run("syncfy-two-factor", subscriptions=[sub.id])
    run.wait(30)  # its deliveries final: nothing arrives later
    return Made(sub, run, event, delivery, webhook_receiver)


SUB_ID = r"subscription must be a subscription id \(a str\), got a SubscriptionInfo: pass its \.id"
TO_URL = r"target must be a URL \(a str\), got a Receiver: pass its \.url"
Call = Callable[[WebhookSim, Made], Any]
CASES: dict[str, tuple[Call, str]] = {
    "deliveries": (lambda s, m: s.deliveries(subscription=m.subscription), SUB_ID),
    "wait_for_deliveries": (lambda s, m: s.wait_for_deliveries(1, subscription=m.subscription, timeout=1), SUB_ID),
    "handle.deliveries": (lambda s, m: m.run.deliveries(subscription=m.subscription), SUB_ID),
    "secret": (
        lambda s, m: s.secret(m.subscription),
        r"subscription_id must be a subscription id \(a str\), got a SubscriptionInfo: pass its \.id",
    ),
    "redeliver a delivery": (
        lambda s, m: s.redeliver(m.delivery),
        r"delivery_id must be a delivery id \(a str\), got a DeliveryInfo: pass its \.id",
    ),
    "redeliver an event": (
        lambda s, m: s.redeliver(m.event),
        r"delivery_id must be a delivery id \(a str\), got an EmittedEvent: pass one of its \.deliveries",
    ),
    "emit subscriptions": (
        lambda s, m: s.emit("credentials.updated", subscriptions=[m.subscription]),
        r"subscriptions must be a list of ids \(str\), got a SubscriptionInfo in it: pass its \.id",
    ),
    "run subscriptions": (
        lambda s, m: s.run("syncfy-two-factor", subscriptions=m.subscription),
        r"subscriptions must be a list of ids, got a SubscriptionInfo: pass a list holding its \.id",
    ),
    "a number for a run": (lambda s, m: s.deliveries(run=5), r"run must be a run id \(a str\), got 5$"),
    "subscribe": (lambda s, m: s.subscribe(m.receiver), r"url must be a URL \(a str\), got a Receiver: pass its \.url"),
    "emit target": (lambda s, m: s.emit("credentials.updated", target=m.receiver), TO_URL),
    "run target": (lambda s, m: s.run("syncfy-two-factor", target=m.receiver), TO_URL),
    "target_secret": (lambda s, m: s.target_secret(m.receiver), TO_URL),
}


@pytest.mark.parametrize(("call", "said"), CASES.values(), ids=CASES.keys())
def test_an_object_given_for_an_id_or_a_url_is_refused_saying_what_to_pass(
    webhook_sim: WebhookSim, made: Made, call: Call, said: str
) -> None:
    before = _counts(webhook_sim, made)
    with pytest.raises(TypeError, match=said):
        call(webhook_sim, made)
    assert _counts(webhook_sim, made) == before  # refused before anything was started, made or sent


def _counts(sim: WebhookSim, made: Made) -> tuple[int, int, int, int]:
    client = sim.client
    runs, subscriptions = len(client.list_runs().data), len(client.list_subscriptions().data)
    return runs, subscriptions, len(client.list_deliveries().data), len(made.receiver.requests)
