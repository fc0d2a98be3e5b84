"""A consumer that calls the twin back while it handles a delivery sees the credential as that event tells it, on
each store: in a timed run, whose events are stored a fraction of a second before they fall due
(`core.run_plan.LOOKAHEAD`); and at speed 0, where the process that publishes the run's events holds them back
until their deliveries start (`delivery.gate`), which on PostgreSQL it does for the subscriptions whose leases
it holds (docs/provider-apis.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.testing import WebhookSim
from tests.twins.syncfy_harness import KEY as SYNCFY_KEY
from tests.twins.test_speed0_view import calling_back

# A job that waits for a second factor, gets it and ends: a second between each step, as Syncfy's are seconds apart.
SCENARIO = """name: timed-two-factor
provider: syncfy
description: a two-factor job, a second between its steps
steps:
  - emit: credentials.created
  - wait: 1s
  - emit: credentials.updated
    with: {payload.is_executing: 1}
  - wait: 1s
  - emit: credentials.updated
    with: {payload.is_executing: 1}
  - wait: 1s
  - emit: credentials.updated
"""


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    return sim_on_each_store


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario's file, once for the module's simulator (a name is one file's)."""
    path = tmp_path_factory.mktemp("scenario") / "timed-two-factor.yaml"
    path.write_text(SCENARIO)
    return path


def _seen(
    sim: WebhookSim, scenario: Path, speed: float, *, warmed: bool = False
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(event, the credential the twin answered while the event's delivery was handled), for each event. `warmed`:
    to a subscription that has had a run before (on PostgreSQL, this process holds its lease by then)."""
    auth = {"Authorization": f"api_key api_key={SYNCFY_KEY}"}
    with httpx.Client(base_url=f"{sim.url}/syncfy", headers=auth, timeout=10.0) as syncfy:

        def look(body: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
            path = body["events"][0]["payload"]["endpoints"]["credential"][0]
            return [(event, syncfy.get(path).json()["response"]) for event in body["events"]]

        with calling_back(look) as (url, seen):
            target: dict[str, Any] = {"target": url}
            if warmed:
                target = {"subscriptions": [sim.subscribe(url).id]}
                assert sim.run(scenario, seed=6, speed=0, **target).wait(timeout=60).status == "completed"
                seen.clear()
            handle = sim.run(scenario, seed=7, speed=speed, **target)
            assert handle.wait(timeout=60).status == "completed"
    pairs = [pair for _, batch in seen for pair in batch]
    return [(event, shown[0] if isinstance(shown, list) else shown) for event, shown in pairs]


def _running(credential: dict[str, Any]) -> bool:
    """Syncfy's job codes: 1xx while the job runs, 410 while it waits for a second factor (PROVIDERS.md)."""
    return bool(credential["code"] < 200 or credential["code"] == 410)


def test_a_timed_run_shows_each_credential_as_the_event_being_handled(sim: WebhookSim, scenario: Path) -> None:
    seen = _seen(sim, scenario, speed=1)
    assert [bool(event["payload"]["is_executing"]) for event, _ in seen] == [True, True, True, False]
    assert [_running(credential) for _, credential in seen] == [True, True, True, False]


@pytest.mark.parametrize("warmed", [True, False], ids=["to-a-subscription-sent-to-before", "to-its-target"])
def test_a_run_at_speed_0_shows_each_credential_as_the_event_being_handled(
    sim: WebhookSim, scenario: Path, warmed: bool
) -> None:
    seen = _seen(sim, scenario, speed=0, warmed=warmed)
    assert [bool(event["payload"]["is_executing"]) for event, _ in seen] == [True, True, True, False]
    assert [_running(credential) for _, credential in seen] == [True, True, True, False]
