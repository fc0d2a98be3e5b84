"""A fault that changes a request's headers changes them as it records: `malformed: content_type` beside a
subscription's own `content-type` sent both (a receiver that read the first saw JSON), and a `stale_timestamp`
of less than a second, cut to whole seconds, changed nothing."""

from __future__ import annotations

import math

import pytest

from simulator import signing
from simulator.core.simulator import Simulator
from simulator.testing.receiver import Receiver
from tests.delivery.test_faults import NO_RETRY_WAIT, deliver, events_of, subscribe


async def test_a_content_type_fault_replaces_the_subscriptions_own_content_type(
    sim: Simulator, receiver: Receiver
) -> None:
    sub = await subscribe(
        sim,
        receiver.url,
        signing="none",
        headers={"content-type": "application/json; charset=utf-8"},
        retry=NO_RETRY_WAIT,
    )
    receiver.fail(1, status=415)
    malformed = {"malformed": {"probability": 1, "kind": "content_type"}}
    [delivery] = await deliver(sim, sub, events_of("credentials.updated", 1), malformed)
    first, retry = await sim.store.attempts(delivery.id)
    assert first.request is not None and retry.request is not None
    sent = [(name, value) for name, value in first.request.headers.items() if name.lower() == "content-type"]
    assert sent == [("Content-Type", "text/plain")]
    assert first.faults == {"malformed": {"kind": "content_type"}}
    # The retry is intact: the subscription's own type, once.
    again = [(name, value) for name, value in retry.request.headers.items() if name.lower() == "content-type"]
    assert again == [("content-type", "application/json; charset=utf-8")]
    bad, good = receiver.requests
    assert bad.headers["content-type"] == "text/plain"
    assert good.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("age", ["500ms", "1500ms"])
async def test_a_stale_timestamp_of_a_fraction_of_a_second_is_at_least_that_old(
    sim: Simulator, receiver: Receiver, age: str
) -> None:
    sub = await subscribe(sim, receiver.url, signing="standard", retry=NO_RETRY_WAIT)
    [delivery] = await deliver(
        sim, sub, events_of("credentials.updated", 1), {"stale_timestamp": {"probability": 1, "age": age}}
    )
    [attempt] = await sim.store.attempts(delivery.id)
    [request] = receiver.requests
    seconds = int(age.removesuffix("ms")) / 1000
    stamped = int(request.headers["webhook-timestamp"])
    # The attempt's second less `age` rounded up to whole seconds: at least `age` old, and by no more than a second.
    assert stamped == int(attempt.started_at) - math.ceil(seconds)
    assert stamped <= attempt.started_at - seconds
    assert attempt.faults == {"stale_timestamp": {"age": seconds}}
    assert signing.verify("standard", request.headers, request.body, secret=sub.secret, tolerance=3600).ok
