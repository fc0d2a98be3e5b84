"""The application a Basis Theory webhook names as its `created_by` and `modified_by` (the tenant's management
application) is one the twin serves, before any event is stored and after: webhook calls emit no event that would
announce it."""

from __future__ import annotations

import httpx
from basis_theory import BasisTheory

from simulator.testing import WebhookSim
from tests.twins.conftest import KEY


def test_the_application_that_made_and_changed_a_webhook_is_served(sim: WebhookSim, bt: httpx.Client) -> None:
    hook = {"name": "creator", "url": "http://127.0.0.1:9/creator", "events": ["token.created"]}
    made = bt.post("/webhooks", json=hook).json()
    try:
        changed = bt.put(f"/webhooks/{made['id']}", json={**hook, "name": "renamed"}).json()
        assert changed["modified_by"] == made["created_by"]
        app = bt.get(f"/applications/{made['created_by']}")
        assert app.status_code == 200, app.text
        body = app.json()
        assert (body["id"], body["type"], body["tenant_id"]) == (made["created_by"], "management", made["tenant_id"])
        assert body["name"] and body["created_at"] and body["permissions"]
        with httpx.Client(timeout=10.0) as http:
            sdk = BasisTheory(api_key=KEY, base_url=f"{sim.url}/basistheory", httpx_client=http)
            read = sdk.applications.get(made["created_by"])
        assert (read.id, read.type, read.name) == (body["id"], "management", body["name"])
        # Read again once events are stored too (the first reads may come before any: this module's server is new).
        assert bt.post("/tokens", json={"type": "token", "data": "x"}).status_code == 201
        assert bt.get(f"/applications/{made['created_by']}").json() == body
    finally:
        bt.delete(f"/webhooks/{made['id']}")
