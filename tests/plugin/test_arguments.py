"""The test support and the client check what they are given: a value of the wrong type is a TypeError, and one
out of range a ValueError, each naming the argument, at the call; never a hang, a bare error from deep inside, or
a value quietly read as something else."""

from __future__ import annotations

import contextlib
import math
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from simulator.client import AsyncClient, Client
from simulator.testing import WebhookSim, serve_app
from simulator.testing.receiver import Receiver


def test_an_app_whose_startup_fails_is_said_at_once_with_its_own_error() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("db not reachable")
        yield

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="db not reachable") as caught, serve_app(Starlette(lifespan=lifespan)):
        pass
    assert time.monotonic() - started < 5.0  # not its whole timeout
    assert isinstance(caught.value.__cause__, RuntimeError) and str(caught.value.__cause__) == "db not reachable"


@pytest.mark.parametrize(
    ("call", "error", "said"),
    [
        (lambda r: r.wait_for(1, timeout=math.nan), ValueError, "timeout must be 0 or more seconds"),
        (lambda r: r.wait_for(1, timeout=None), TypeError, "timeout must be a number of seconds, got None"),
        (lambda r: r.wait_for(None), TypeError, "count must be an integer, got None"),
        (lambda r: r.respond(204, None), TypeError, "delay must be a number of seconds, got None"),
        (lambda r: r.respond("500"), TypeError, "status must be an HTTP status (an int), got '500'"),
        (lambda r: r.fail(1, retry_after=1.5), TypeError, "retry_after must be seconds (an int) or the header's"),
        (lambda r: r.fail(1, retry_after="1\n"), ValueError, "retry_after must be text a header can carry"),
        (lambda r: r.fail("2"), TypeError, "times must be an integer, got '2'"),
    ],
)
def test_a_receivers_wrong_argument_is_named(call: Callable[[Receiver], Any], error: type, said: str) -> None:
    with Receiver() as receiver:
        started = time.monotonic()
        with pytest.raises(error) as caught:
            call(receiver)
        assert said in str(caught.value)
        assert time.monotonic() - started < 5.0  # refused, not waited on


def test_a_retry_after_in_seconds_is_sent_and_the_status_recorded_is_the_one_sent(
    webhook_sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_webhook_receiver(fail=1, fail_status=429, retry_after=1)
    webhook_sim.emit("credentials.updated", target=receiver.url)
    (delivery,) = webhook_sim.wait_for_deliveries(1, timeout=30)
    seen = [a.status_code for a in delivery.attempt_log or ()]
    assert seen == [429, 204]
    assert [r.status for r in receiver.requests] == seen  # what the receiver says it answered, it did
    assert (delivery.attempt_log or [])[0].response_headers == {
        **(delivery.attempt_log or [])[0].response_headers,
        "retry-after": "1",
    }


def test_failing_a_billion_times_takes_no_memory_per_time() -> None:
    receiver = Receiver()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        receiver.fail(1_000_000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 100_000  # one entry, not one per time (about 100 MB for a million)
    receiver.fail(10**12)
    with receiver:
        assert httpx.post(receiver.url, content=b"{}").status_code == 500


@pytest.mark.parametrize(
    ("call", "error", "said"),
    [
        (lambda s: s.subscribe("http://127.0.0.1:9/", events="syncfy:*"), TypeError, "events must be a list"),
        (lambda s: s.emit("credentials.updated", subscriptions="sub_1"), TypeError, "subscriptions must be a list"),
        (lambda s: s.run("syncfy-two-factor", subscriptions="sub_1"), TypeError, "subscriptions must be a list"),
        (lambda s: s.run("syncfy-two-factor", speed=None), TypeError, "speed must be a number, got None"),
        (lambda s: s.emit("credentials.updated", ["a"]), TypeError, "overrides must be a dict, got ['a']"),
        (
            lambda s: s.emit("credentials.updated", {"payload.is_executing": 1}, payload__is_executing=0),
            ValueError,
            "override 'payload.is_executing' is given twice",
        ),
        (lambda s: s.wait_for_deliveries(None), TypeError, "count must be an integer, got None"),
        (lambda s: s.wait_for_deliveries(1, timeout=math.inf), ValueError, "timeout must be 0 or more seconds"),
        (lambda s: s.redeliver(None), TypeError, "delivery_id must be a delivery id (a str), got None"),
        (lambda s: s.client.wait_run("run_x", math.inf), ValueError, "timeout must be 0 or more seconds"),
        (lambda s: s.client.wait_run("run_x", math.nan), ValueError, "timeout must be 0 or more seconds"),
        (lambda s: s.client.wait_run("run_x", -1), ValueError, "timeout must be 0 or more seconds"),
        (lambda s: Client(None), TypeError, "base_url must be a str, got None"),  # type: ignore[arg-type]
        # Refused by the server, each was an ApiError: neither the TypeError nor the ValueError promised.
        (lambda s: s.run("syncfy-two-factor", seed="1"), TypeError, "seed must be an integer, got '1'"),
        (lambda s: s.run("syncfy-two-factor", seed=True), TypeError, "seed must be an integer, got True"),
        (lambda s: s.run("syncfy-two-factor", seed=1.5), TypeError, "seed must be an integer, got 1.5"),
        (lambda s: s.run("syncfy-two-factor", seed=-1), ValueError, "seed must be 0 or more, got -1"),
        (lambda s: s.run("syncfy-two-factor", max_in_flight="2"), TypeError, "max_in_flight must be an integer"),
        (lambda s: s.run("syncfy-two-factor", max_in_flight=0), ValueError, "max_in_flight must be 1 or more"),
        (lambda s: s.run("syncfy-two-factor", secret=123), TypeError, "secret must be a str, got 123"),
        (lambda s: s.run(5), TypeError, "scenario must be a scenario's name or a YAML file's path, got 5"),
        (lambda s: s.emit("credentials.updated", seed="x"), TypeError, "seed must be an integer, got 'x'"),
        (lambda s: s.subscribe("http://127.0.0.1:9/", timeout="5"), TypeError, "timeout must be a number, got '5'"),
        (lambda s: s.subscribe("http://127.0.0.1:9/", timeout=601), ValueError, "timeout must be more than 0"),
        (lambda s: s.deliveries(status="done"), ValueError, "status must be one of pending, "),
    ],
)
def test_a_wrong_argument_is_named_before_anything_is_sent(
    webhook_sim: WebhookSim, call: Callable[[WebhookSim], Any], error: type, said: str
) -> None:
    with pytest.raises(error) as caught:
        call(webhook_sim)
    assert said in str(caught.value)
    assert list(webhook_sim.client.iter_subscriptions()) == []  # nothing made
    assert list(webhook_sim.client.iter_runs()) == []


@pytest.mark.parametrize("timeout", [math.inf, math.nan, -1.0, None, "5"])
def test_a_runs_wait_takes_only_finite_seconds(webhook_sim: WebhookSim, timeout: Any) -> None:
    handle = webhook_sim.run("syncfy-two-factor", speed=0)
    with pytest.raises((TypeError, ValueError), match="timeout must be"):
        handle.wait(timeout)
    with pytest.raises(TypeError, match="its own run"):
        handle.deliveries(run="run_other")
    assert handle.wait(60).status == "completed"


async def test_the_async_clients_wait_takes_only_finite_seconds(webhook_sim: WebhookSim) -> None:
    async with AsyncClient(webhook_sim.url) as client:
        with pytest.raises(ValueError, match="timeout must be 0 or more seconds"):
            await client.wait_run("run_x", math.inf)


def test_a_timed_out_wait_says_a_disabled_subscriptions_delivery_waits_for_it(
    webhook_sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    # The first answer is slow, one at a time: the second event is emitted (a delivery is made) before the
    # first dies and disables the subscription. Emitted after, it would have no delivery to wait for.
    receiver = make_webhook_receiver()
    receiver.respond(500, delay=1.0)
    retry = {"delays": [], "jitter": 0}
    sub = webhook_sim.subscribe(receiver.url, retry=retry, disable_after=1, max_in_flight=1)
    for _ in range(2):
        webhook_sim.emit("credentials.updated", subscriptions=[sub.id])
    with pytest.raises(AssertionError) as caught:
        webhook_sim.wait_for_deliveries(2, timeout=3, subscription=sub.id)
    said = str(caught.value)
    assert f"waits: its subscription {sub.id} is disabled" in said, said
    assert "due now" not in said, said


def test_a_timed_out_wait_lists_what_it_waits_for_first_and_at_most_ten(
    webhook_sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_webhook_receiver()
    done = webhook_sim.subscribe(receiver.url)
    webhook_sim.emit("credentials.updated", subscriptions=[done.id])
    webhook_sim.wait_for_deliveries(1, subscription=done.id)
    receiver.respond(500)
    later = webhook_sim.subscribe(receiver.url, retry={"delays": [3600], "jitter": 0})
    for _ in range(11):
        webhook_sim.emit("credentials.updated", subscriptions=[later.id])
    with pytest.raises(AssertionError) as caught:
        webhook_sim.wait_for_deliveries(12, timeout=2)
    said = str(caught.value)
    assert "have 12: " in said and said.endswith(", and 2 more"), said
    listed = said.split("have 12: ", 1)[1].split(", and 2 more")[0]
    assert listed.count("msg_") == 10 and "succeeded" not in listed, said  # the one succeeded is left out
    assert listed.count("next attempt due in") == 10, said


def test_a_timed_out_wait_says_an_unanswered_attempt_may_be_under_way(
    webhook_sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    """A receiver that does not answer: its delivery is under way, not merely queued, and the run's wait says what
    holds a run back, where it named only failures and Retry-After."""
    receiver = make_webhook_receiver()
    receiver.respond(204, delay=math.inf)
    run = webhook_sim.run("syncfy-credential-lifecycle", target=receiver.url)
    with pytest.raises(AssertionError) as caught:
        webhook_sim.wait_for_deliveries(1, timeout=1, run=run.id)
    assert "due now or under way (no answer yet)" in str(caught.value), caught.value
    with pytest.raises(TimeoutError) as waited:
        run.wait(1)
    assert "answers slowly or not at all" in str(waited.value), waited.value


@pytest.mark.parametrize(
    ("verify", "said"),
    [
        (("syncfy", None), "verify: "),  # a Syncfy secret is needed: an InvalidInput, no ValueError
        (("hmac", "x"), "verify: unknown scheme 'hmac'"),
    ],
)
def test_a_receivers_wrong_verify_is_a_value_error_naming_it(
    make_webhook_receiver: Callable[..., Any], verify: tuple[str, str | None], said: str
) -> None:
    with pytest.raises(ValueError) as caught:
        make_webhook_receiver(verify=verify)
    assert str(caught.value).startswith(said), caught.value
