"""A consumer converts or deletes a run's token intent while it handles `token-intent.created`, at speed 0: the
run's own `token-intent.converted` is stored already, held back from the twin until it is sent. The intent is
converted once: the consumer is told it is gone, as when another caller converted it first, where the run converts
it; an intent the run abandons is the consumer's to convert."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest

from simulator.testing import WebhookSim
from tests.api.harness import eventually
from tests.twins.conftest import KEY
from tests.twins.test_speed0_view import receiving


@pytest.mark.parametrize("act", ["convert", "delete"])
def test_an_intent_is_ended_once_whoever_ends_it(sim: WebhookSim, act: str) -> None:
    events: list[dict[str, Any]] = []
    answers: dict[str, int] = {}  # intent id -> the consumer's conversion's status
    with httpx.Client(base_url=f"{sim.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=10.0) as bt:

        def handle(raw: bytes) -> None:
            event = json.loads(raw)["event"]
            events.append(event)
            if event["type"] == "token-intent.created":
                intent = event["data"]["token_intent"]["id"]
                if act == "convert":
                    answers[intent] = bt.post("/tokens", json={"token_intent_id": intent}).status_code
                else:
                    answers[intent] = bt.delete(f"/token-intents/{intent}").status_code

        with receiving(handle) as url:
            sub = sim.subscribe(url, events=["basistheory:token-intent.*"])
            run = sim.run("basistheory-token-intent-conversion", seed=7, speed=0)
            assert run.wait(timeout=60).status == "completed"
            with httpx.Client(base_url=sim.url, timeout=10.0) as control:  # the consumer's own conversions too
                pending = {"subscription": sub.id, "status": "pending"}
                eventually(lambda: control.get("/deliveries", params=pending).json()["data"] == [], what="all sent")
        ended = [e["data"] for e in events if e["type"] in ("token-intent.converted", "token-intent.deleted")]
        by_intent = Counter(c["token_intent"]["id"] for c in ended)
        assert by_intent and max(by_intent.values()) == 1, by_intent
        converted = {e["data"]["token_intent"]["id"] for e in events if e["type"] == "token-intent.converted"}
        refused = {intent for intent, status in answers.items() if status == 404}
        assert refused and refused <= converted, (answers, by_intent)  # the run converted those
        for c in ended:  # each conversion's token lives: the one the run made, or the consumer's
            if "token" in c:
                assert bt.get(f"/tokens/{c['token']['id']}").status_code == 200, c
        assert {status for status in answers.values()} <= {201, 204, 404}, answers
