"""Basis Theory's `delivered_at` is the real time of each attempt, as at the provider (consumers reject one far
from now): at speed 1 as at speed 0, whatever the run's simulated start time, on retries too, and it never goes
back in time for one subscription."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import RetrySpec, RunSpec, SubscriptionSpec
from simulator.testing.receiver import Receiver
from simulator.timeutil import DeliveryClock, parse_time

SCENARIO = """\
name: quick-token-story
provider: basistheory
steps:
  - emit: token.created
  - wait: 300ms
  - emit: token.updated
  - emit: token.read
  - wait: 300ms
  - emit: token.deleted
"""


@pytest.mark.parametrize("speed", [0.0, 1.0])
@pytest.mark.parametrize("start_time", [None, datetime(2025, 6, 1, 12, 0, tzinfo=UTC)], ids=["now", "months-ago"])
async def test_delivered_at_is_the_receivers_now_on_every_attempt(
    tmp_path: Path, speed: float, start_time: datetime | None
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "quick-token-story.yaml").write_text(SCENARIO)
    with Receiver() as receiver:
        receiver.fail(2, status=503)  # two retries, each stamped when it is made
        sim = await Simulator.open(str(tmp_path / "sim.db"), scenario_dirs=[folder])
        try:
            retry = RetrySpec(delays=[0.3, 0.3], jitter=0)
            sub = await sim.create_subscription(SubscriptionSpec(url=receiver.url, retry=retry))
            spec = RunSpec(scenario="quick-token-story", subscriptions=[sub.id], speed=speed, start_time=start_time)
            run = await sim.runs.start(spec)
            assert (await asyncio.wait_for(sim.runs.wait(run.id), 30)).status == "completed"
            requests = await receiver.wait_for_async(6)
            deliveries = [d for _, d in await sim.store.list_deliveries(subscription_id=sub.id)]
            attempts = [a for d in deliveries for a in await sim.store.attempts(d.id)]
        finally:
            await sim.close(grace=1)
    gaps = [parse_time(r.json()["delivered_at"]).timestamp() - r.at for r in requests]
    assert all(-5 <= gap <= 5 for gap in gaps), gaps
    # In the order the attempts were made, the subscription's delivered_at never goes back.
    stamps = [a.delivered_at for a in sorted(attempts, key=lambda a: a.started_at)]
    assert len(stamps) == 6 and stamps == sorted(stamps)


def test_the_clock_never_goes_back_for_one_subscription() -> None:
    clock = DeliveryClock()
    first = clock.stamp("sub_a", 1_000.5)
    assert clock.stamp("sub_a", 999.0) == first  # the system clock stepped back: the stamp does not
    assert clock.stamp("sub_b", 999.0).timestamp() == 999.0  # another subscription has its own
    assert clock.stamp("sub_a", 1_001.0).timestamp() == 1_001.0
    clock.forget("sub_a")
    assert clock.stamp("sub_a", 10.0).timestamp() == 10.0
