"""A timed run stores each event a fraction of a second before it falls due (`core.run_plan.LOOKAHEAD`), so a
consumer that calls the twin back while it handles a delivery sees the credential as that event tells it, on each
store. On PostgreSQL this is the way to such a view: there a run at speed 0 holds nothing back from the twins
(docs/provider-apis.md)."""

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


def _seen(sim: WebhookSim, scenario: Path, speed: float) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(event, the credential the twin answered while the event's delivery was handled), for each event."""
    auth = {"Authorization": f"api_key api_key={SYNCFY_KEY}"}
    with httpx.Client(base_url=f"{sim.url}/syncfy", headers=auth, timeout=10.0) as syncfy:

        def look(body: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
            path = body["events"][0]["payload"]["endpoints"]["credential"][0]
            return [(event, syncfy.get(path).json()["response"]) for event in body["events"]]

        with calling_back(look) as (url, seen):
            handle = sim.run(scenario, seed=7, speed=speed, target=url)
            assert handle.wait(timeout=60).status == "completed"
    pairs = [pair for _, batch in seen for pair in batch]
    return [(event, shown[0] if isinstance(shown, list) else shown) for event, shown in pairs]


def _running(credential: dict[str, Any]) -> bool:
    """Syncfy's job codes: 1xx while the job runs, 410 while it waits for a second factor (PROVIDERS.md)."""
    return bool(credential["code"] < 200 or credential["code"] == 410)


def test_a_timed_run_shows_each_credential_as_the_event_being_handled(sim: WebhookSim, tmp_path: Path) -> None:
    scenario = tmp_path / "timed-two-factor.yaml"
    scenario.write_text(SCENARIO)
    seen = _seen(sim, scenario, speed=1)
    assert [bool(event["payload"]["is_executing"]) for event, _ in seen] == [True, True, True, False]
    assert [_running(credential) for _, credential in seen] == [True, True, True, False]
