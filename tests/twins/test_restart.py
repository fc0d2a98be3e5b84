"""State survives a restart on the same database: what events announced, what the API created, its webhooks and
its tenant; a reset of the simulator forgets the twin's objects too."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.harness import serving_api

HEADERS = {"BT-API-KEY": "key_restart"}
CARD = {"number": "4111111111111111", "expiration_month": 1, "expiration_year": 2032}


def test_objects_webhooks_and_tenant_survive_a_restart(tmp_path: Path) -> None:
    with serving_api(tmp_path) as server, httpx.Client(base_url=server.url, timeout=10) as control:
        bt = f"{server.url}/basistheory"
        emitted = control.post("/events", json={"type": "basistheory:token.created"}).json()["body"]
        intent = httpx.post(f"{bt}/token-intents", headers=HEADERS, json={"type": "card", "data": CARD}).json()
        hook_body = {"name": "h", "url": "http://127.0.0.1:9/h", "events": ["token.created"]}
        hook = httpx.post(f"{bt}/webhooks", headers=HEADERS, json=hook_body).json()
    with serving_api(tmp_path) as server:
        bt = f"{server.url}/basistheory"
        token = httpx.get(f"{bt}/tokens/{emitted['data']['token']['id']}", headers=HEADERS).json()
        assert token["metadata"] == emitted["data"]["token"]["metadata"]
        assert httpx.get(f"{bt}/token-intents/{intent['id']}", headers=HEADERS).json() == intent
        assert httpx.get(f"{bt}/webhooks/{hook['id']}", headers=HEADERS).json() == hook
        converted = httpx.post(f"{bt}/tokens", headers=HEADERS, json={"token_intent_id": intent["id"]}).json()
        assert converted["tenant_id"] == intent["tenant_id"] == hook["tenant_id"]  # the same tenant after a restart


def test_a_reset_forgets_the_twins_objects(tmp_path: Path) -> None:
    with serving_api(tmp_path) as server, httpx.Client(base_url=server.url, timeout=10) as control:
        bt = f"{server.url}/basistheory"
        intent = httpx.post(f"{bt}/token-intents", headers=HEADERS, json={"type": "card", "data": CARD}).json()
        assert httpx.get(f"{bt}/token-intents/{intent['id']}", headers=HEADERS).status_code == 200
        control.post("/reset").raise_for_status()
        assert httpx.get(f"{bt}/token-intents/{intent['id']}", headers=HEADERS).status_code == 404
