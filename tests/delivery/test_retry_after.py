"""A receiver's Retry-After, and attempts that go wrong in unexpected ways: every attempt is recorded and follows
the retry schedule; Retry-After is read strictly, capped, and honoured in wall-clock seconds at every speed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.delivery.hooks import FaultHooks, Signer
from simulator.delivery.job import Job
from simulator.delivery.sender import MAX_RETRY_AFTER, parse_retry_after
from simulator.models import Attempt, Subscription
from simulator.models.inputs import RetrySpec, SubscriptionSpec
from simulator.testing.receiver import Receiver

NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("0" * 5000 + "5", 5.0),
        ("Tue, 14 Nov 2023 22:14:20 GMT", 60.0),  # IMF-fixdate
        ("Tuesday, 14-Nov-23 22:15:20 GMT", 120.0),  # RFC 850
        ("Tue Nov 14 22:16:20 2023", 180.0),  # asctime, which is GMT
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),  # a date gone by: at once
    ],
)
def test_retry_after_delta_seconds_and_http_dates(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == (seconds, None)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        *((v, "neither delta-seconds nor an HTTP-date") for v in ["\u00b2", "\u0665", "-5", "+5", "5.0", "0x5"]),
        *((v, "neither delta-seconds nor an HTTP-date") for v in ["1_0", "5 s", "", "Tue, 14 Nov 2023 22:14 GMT"]),
        ("Wed, 31 Feb 2024 08:49:37 GMT", "not a valid date"),
    ],
)
def test_retry_after_that_is_neither_is_ignored_and_said_so(value: str, why: str) -> None:
    assert parse_retry_after(value, NOW) == (None, f"Retry-After {value!r} ignored: {why}")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("86401", "'86401'"),
        ("99999999999", "'99999999999'"),
        ("9" * 400, repr("9" * 40 + "…")),
        ("Sun, 06 Nov 9999 08:49:37 GMT", "'Sun, 06 Nov 9999 08:49:37 GMT'"),
    ],
)
def test_retry_after_is_capped_at_a_day(value: str, shown: str) -> None:
    assert parse_retry_after(value, NOW) == (MAX_RETRY_AFTER, f"Retry-After {shown} capped at 86400 s (1 day)")
    assert parse_retry_after("86400", NOW) == (86_400.0, None)


async def recorded(sim: Simulator, delivery_id: str, count: int, timeout: float = 10.0) -> list[Attempt]:
    """The delivery's attempts once at least `count` are in the store."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await sim.store.writer.barrier()
        attempts = list(await sim.store.attempts(delivery_id))
        if len(attempts) >= count:
            return attempts
        if loop.time() > deadline:
            raise AssertionError(f"{len(attempts)} attempts of {delivery_id} recorded, not {count}")
        await asyncio.sleep(0.01)


async def emit_one(sim: Simulator, url: str, retry: RetrySpec, speed: float = 1.0) -> str:
    await sim.create_subscription(SubscriptionSpec(url=url, retry=retry))
    etype = catalog.resolve("token.created")
    event = catalog.build_event(etype, catalog.new_context(3, catalog.SAMPLE_TIME))
    [delivery_id] = await sim.engine.publish(event, await sim.subscriptions.matching(etype), speed=speed)
    return delivery_id


async def test_a_retry_after_that_is_not_a_number_is_a_recorded_attempt_on_schedule(sim, receiver):
    receiver.fail(1, status=503, retry_after="\u00b2")  # str.isdigit() says yes; float() says no
    did = await emit_one(sim, receiver.url, RetrySpec(delays=[0.2], jitter=0))
    first, second = await recorded(sim, did, 2)
    assert (first.number, first.status_code, first.error) == (
        1,
        503,
        "Retry-After '\u00b2' ignored: neither delta-seconds nor an HTTP-date",
    )
    assert (second.number, second.status_code, second.error) == (2, 204, None)
    assert (await sim.delivery(did)).status == "succeeded"


class ExplodesOnce(FaultHooks):
    """Fault hooks with a bug in them: the first attempt raises."""

    def __init__(self) -> None:
        self.calls = 0

    def on_attempt(
        self, sub: Subscription, job: Job, body: bytes, headers: dict[str, str], signer: Signer | None = None
    ) -> tuple[bytes, dict[str, str], dict[str, Any] | None]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("a bug in a fault injector")
        return body, headers, None


async def test_an_attempt_that_raises_is_recorded_and_retried_on_schedule(tmp_path: Path, receiver: Receiver):
    sim = await Simulator.open(str(tmp_path / "sim.db"), faults=ExplodesOnce())
    try:
        did = await emit_one(sim, receiver.url, RetrySpec(delays=[0.2], jitter=0))
        first, second = await recorded(sim, did, 2)
        delivery = await sim.delivery(did)
    finally:
        await asyncio.wait_for(sim.close(grace=1), 10)
    assert (first.number, first.status_code, first.error) == (
        1,
        None,
        "internal error: RuntimeError: a bug in a fault injector",
    )
    assert (second.number, second.status_code) == (2, 204)
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


@pytest.mark.parametrize("value", ["9" * 400, "99999999999", "Sun, 06 Nov 9999 08:49:37 GMT"])
async def test_a_huge_retry_after_is_capped_and_the_cap_recorded(sim, receiver, value: str):
    receiver.fail(1, status=503, retry_after=value)
    did = await emit_one(sim, receiver.url, RetrySpec(delays=[1], jitter=0))
    [attempt] = await recorded(sim, did, 1)
    delivery = await sim.delivery(did)
    assert attempt.error is not None and attempt.error.endswith(" capped at 86400 s (1 day)")
    assert (delivery.status, delivery.last_status, delivery.last_error) == ("failed", 503, attempt.error)
    assert delivery.next_attempt_at is not None
    assert 86_400 <= delivery.next_attempt_at - attempt.started_at <= 86_400 + 60


@pytest.mark.parametrize("speed", [10.0, 0.0])
async def test_retry_after_is_wall_clock_seconds_at_any_speed(sim, receiver, speed: float):
    receiver.fail(1, status=429, retry_after="1")
    did = await emit_one(sim, receiver.url, RetrySpec(delays=[0.1], jitter=0), speed=speed)
    first, second = await recorded(sim, did, 2)
    assert (first.status_code, second.status_code) == (429, 204)
    # A lower bound only: the retry is due one real second after the 429 arrived, whatever the run's speed.
    assert second.started_at - first.started_at >= 1.0


class UnrecordableFaults(FaultHooks):
    """Fault hooks with a bug that breaks the attempt's record: what they say they injected is not JSON."""

    def on_attempt(
        self, sub: Subscription, job: Job, body: bytes, headers: dict[str, str], signer: Signer | None = None
    ) -> tuple[bytes, dict[str, str], dict[str, Any] | None]:
        return body, headers, {"not json": object()}


async def test_an_attempt_that_cannot_be_recorded_is_retried_ever_later(tmp_path: Path, receiver: Receiver):
    sim = await Simulator.open(str(tmp_path / "sim.db"), faults=UnrecordableFaults())
    try:
        await emit_one(sim, receiver.url, RetrySpec(delays=[0], jitter=0))
        first, second, third = await receiver.wait_for_async(3, timeout=15)
    finally:
        await asyncio.wait_for(sim.close(grace=1), 10)
    # Lower bounds only: 1 s, then 2 s (doubling up to 5 min), never a busy loop.
    assert second.at - first.at >= 1.0 and third.at - second.at >= 2.0
