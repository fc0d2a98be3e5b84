"""The events the Basis Theory twin's own calls emit fit the event types' schemas, as generated events do: a token
made without `expires_at` (the REST default, null) was told by a `token.created` the schema refused."""

from __future__ import annotations

import json
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from simulator import catalog
from simulator.testing import WebhookSim
from tests.api.harness import eventually


def _sent(sim: WebhookSim, subscription: str) -> dict[str, Any]:
    def first() -> Any:
        found = sim.deliveries(subscription=subscription)
        return found[0] if found and found[0].attempt_log else None

    delivery = eventually(first, what="the token.created delivery's first attempt")
    return dict(json.loads(delivery.attempt_log[0].request.body))


def test_a_token_made_without_an_expiry_is_told_as_its_schema_says(
    sim: WebhookSim, bt: httpx.Client, control: httpx.Client
) -> None:
    made = control.post("/subscriptions", json={"url": "http://127.0.0.1:9/x", "events": ["basistheory:token.created"]})
    assert made.status_code == 201, made.text
    token = bt.post("/tokens", json={"type": "token", "data": "x"}).json()
    assert token.get("expires_at") is None
    body = _sent(sim, made.json()["id"])
    assert body["event"]["data"]["token"]["id"] == token["id"] and body["event"]["data"]["token"]["expires_at"] is None
    schema = catalog.schema("basistheory:token.created")
    errors = list(Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(body))
    assert errors == [], [e.message for e in errors]
