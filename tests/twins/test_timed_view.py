"""A timed run stores each event a fraction of a second before it falls due (`core.run_plan.LOOKAHEAD`), which at
speed 20 is four seconds of the run's clock: a consumer that calls the twin back while it handles a delivery
still sees each object as that event tells it, not as the run's next event, stored already, does. An event no
subscription takes shows when it falls due."""

from __future__ import annotations

import time

import httpx
import pytest

from simulator.delivery import gate
from simulator.testing import WebhookSim
from tests.api.harness import eventually
from tests.twins.conftest import KEY
from tests.twins.expect import named
from tests.twins.test_speed0_view import calling_back, each_as_told


@pytest.mark.parametrize(
    ("scenario", "speed"),
    [("basistheory-3ds-challenge", 1000.0), ("basistheory-token-intent-conversion", 100.0)],
    ids=["3ds-at-1000", "intents-at-100"],
)
def test_a_consumer_of_a_timed_run_sees_each_object_as_the_event_it_handles(
    sim: WebhookSim, scenario: str, speed: float
) -> None:
    with httpx.Client(base_url=f"{sim.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=10.0) as bt:

        def look(body: dict) -> list[tuple]:
            return [(obj, bt.get(obj.path)) for obj in named(body["event"])]

        with calling_back(look) as (url, seen):
            handle = sim.run(scenario, seed=7, speed=speed, target=url)
            assert handle.wait(timeout=60).status == "completed"
        assert each_as_told(seen) > 10, seen


def test_a_timed_runs_event_no_subscription_takes_shows_when_it_falls_due() -> None:
    """Held by its time alone: not before, and not for the minute an event waiting for a delivery may be."""
    held = gate.Gate()
    due = time.time() + 0.3
    held.hold("basistheory", "run_a/0", [], due)
    held.hold("syncfy", "run_b/0", ["msg_1"])  # a run at speed 0's, whose delivery has not started
    held.hold("syncfy", "run_b/1", [], time.time() + 0.2)  # behind it in its run: hidden with it
    held.hold("syncfy", "run_c/0", [], time.time() + 0.2)
    assert held.held("basistheory", "run_a/0") and held.firsts("syncfy") == ["run_b/0", "run_c/0"]
    eventually(lambda: not held.held("basistheory", "run_a/0"), timeout=5, what="its time")
    assert time.time() >= due
    assert held.firsts("syncfy") == ["run_b/0"]  # the timed run's shown, the other still waits for its delivery
