"""A `token-intent.converted` of `POST /events` naming an intent the Basis Theory twin holds: a conversion makes a
token of its intent's type, so the event says so and the twin serves that token with it."""

from __future__ import annotations

import httpx
import pytest

from tests.twins.test_adhoc_objects import emit

BANK = {"routing_number": "021000021", "account_number": "1234567"}


@pytest.mark.parametrize("kind,data", [("bank", BANK), ("social_security_number", "123-45-6789")])
def test_the_token_an_event_converts_a_twins_intent_into_is_of_the_intents_type(
    bt: httpx.Client, control: httpx.Client, kind: str, data: object
) -> None:
    intent = bt.post("/token-intents", json={"type": kind, "data": data}).json()
    event = emit(control, "basistheory:token-intent.converted", {"data.token_intent.id": intent["id"]})
    told = event["data"]
    assert told["token_intent"] == {"id": intent["id"], "type": kind}
    assert told["token"]["type"] == kind
    token = bt.get(f"/tokens/{told['token']['id']}")
    assert token.status_code == 200 and token.json()["type"] == kind, token.text
    assert bt.get(f"/token-intents/{intent['id']}").status_code == 404  # converted: gone


def test_an_override_of_the_tokens_type_is_kept(bt: httpx.Client, control: httpx.Client) -> None:
    intent = bt.post("/token-intents", json={"type": "bank", "data": BANK}).json()
    overrides = {"data.token_intent.id": intent["id"], "data.token.type": "token"}
    event = emit(control, "basistheory:token-intent.converted", overrides)
    assert (event["data"]["token_intent"]["type"], event["data"]["token"]["type"]) == ("bank", "token")
