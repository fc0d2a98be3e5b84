"""A consumer converts or deletes a run's token intent while it handles `token-intent.created`, at speed 0: the
run's own `token-intent.converted` is stored already, held back from the twin until it is sent. The intent is
ended once: the consumer is told it is gone, as when another caller converted it first, where the run converts
it; an intent the run abandons is the consumer's to convert."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.scenarios import load_text, runner
from simulator.testing import WebhookSim
from tests.api.harness import eventually
from tests.twins.conftest import KEY
from tests.twins.test_speed0_view import receiving

SCENARIO = "basistheory-token-intent-conversion"
SOURCE = Path(__file__).resolve().parents[2] / "scenarios" / f"{SCENARIO}.yaml"
# The events a run of it with seed 7 makes (its timeline, the same at any start).
PLANNED = sum(
    1 for _ in runner.timeline(load_text(SOURCE.read_text()), seed=7, params={}, start_time=datetime.now(UTC))
)


@pytest.mark.parametrize("act", ["convert", "delete"])
def test_an_intent_is_ended_once_whoever_ends_it(sim: WebhookSim, act: str) -> None:
    events: list[dict[str, Any]] = []
    answers: dict[str, int] = {}  # intent id -> the consumer's call's status
    started: dict[str, str] = {}  # the run's id, once it is known
    with (
        httpx.Client(base_url=f"{sim.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=10.0) as bt,
        httpx.Client(base_url=sim.url, timeout=10.0) as control,
    ):

        def all_stored() -> bool:
            """Whether the run has stored every event it plans: its conversions are in the store, held back from
            the twin until they are sent. (An event the run has not made yet is no conflict the twin could see.)"""
            if "id" not in started:
                return False
            run = control.get(f"/runs/{started['id']}").json()
            return run["status"] != "running" or run["events"] == PLANNED

        def handle(raw: bytes) -> None:
            event = json.loads(raw)["event"]
            events.append(event)
            if event["type"] == "token-intent.created":
                eventually(all_stored, what="the run's events stored")
                intent = event["data"]["token_intent"]["id"]
                if act == "convert":
                    answers[intent] = bt.post("/tokens", json={"token_intent_id": intent}).status_code
                else:
                    answers[intent] = bt.delete(f"/token-intents/{intent}").status_code

        def all_received() -> bool:  # the run's deliveries, and those of what the consumer's calls made
            made = control.get("/deliveries", params={"subscription": sub.id, "limit": 100}).json()["data"]
            return all(d["status"] == "succeeded" for d in made) and len(events) == len(made)

        with receiving(handle) as url:
            # One at a time: while the consumer handles `token-intent.created`, the conversion is not sent.
            sub = sim.subscribe(url, events=["basistheory:token-intent.*"], max_in_flight=1)
            try:
                run = sim.run(SCENARIO, seed=7, speed=0)
                started["id"] = run.id
                assert run.wait(timeout=60).status == "completed"
                eventually(all_received, what="every delivery received")
            finally:  # the simulator is the session's: a subscription left behind would start the next test's
                control.delete(f"/subscriptions/{sub.id}")
    ended = [e["data"] for e in events if e["type"] in ("token-intent.converted", "token-intent.deleted")]
    by_intent = Counter(c["token_intent"]["id"] for c in ended)
    assert by_intent and max(by_intent.values()) == 1, by_intent
    converted = {e["data"]["token_intent"]["id"] for e in events if e["type"] == "token-intent.converted"}
    refused = {intent for intent, status in answers.items() if status == 404}
    assert refused and refused <= converted, (answers, by_intent)  # the run converted those
    with httpx.Client(base_url=f"{sim.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=10.0) as bt:
        for c in ended:  # each conversion's token lives: the one the run made, or the consumer's
            if "token" in c:
                assert bt.get(f"/tokens/{c['token']['id']}").status_code == 200, c
    assert set(answers.values()) <= {201, 204, 404}, answers
