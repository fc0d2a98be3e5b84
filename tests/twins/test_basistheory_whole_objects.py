"""What the Basis Theory twin answers after events that tell an object's field whole, and the tenant of the
applications acting in the twin's own events, whatever the order of the calls that first name them."""

from __future__ import annotations

import httpx

from simulator import testing
from simulator.testing import WebhookSim
from tests.twins.conftest import KEY

CARD = {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030}


def _updated(control: httpx.Client, token_id: str, metadata: dict[str, str]) -> None:
    overrides = {"data.token.id": token_id, "data.token.metadata": metadata}
    answer = control.post("/events", json={"type": "basistheory:token.updated", "overrides": overrides})
    assert answer.status_code == 202, answer.text
    assert answer.json()["body"]["data"]["token"]["metadata"] == metadata


def test_a_token_updated_event_gives_the_token_its_metadata_whole(
    sim: WebhookSim, bt: httpx.Client, control: httpx.Client
) -> None:
    """A key the event's metadata no longer has is gone from the token the API answers with: merged key by key,
    the old `plan` stayed beside the event's keys."""
    made = bt.post("/tokens", json={"type": "card", "data": CARD, "metadata": {"plan": "trial", "customer": "c1"}})
    token = made.json()
    _updated(control, token["id"], {"customer": "c1"})
    assert bt.get(f"/tokens/{token['id']}").json()["metadata"] == {"customer": "c1"}
    _updated(control, token["id"], {"tier": "gold"})
    assert bt.get(f"/tokens/{token['id']}").json()["metadata"] == {"tier": "gold"}


def test_the_twins_private_application_is_its_tenants_after_reading_a_runs_token() -> None:
    """The first event naming the twin's private application as actor was a read of a token `POST /events` made:
    that read is told by the token's tenant, and the application then answered as that other tenant's."""
    with (
        testing.webhook_sim() as sim,
        httpx.Client(base_url=sim.url, timeout=30.0) as control,
        httpx.Client(base_url=f"{sim.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=10.0) as bt,
    ):
        told = control.post("/events", json={"type": "basistheory:token.created"}).json()["body"]
        assert bt.get(f"/tokens/{told['data']['token']['id']}").status_code == 200  # a token.read, acted by the twin
        own = bt.post("/tokens", json={"type": "card", "data": CARD}).json()
        assert own["tenant_id"] != told["tenant_id"]
        app = bt.get(f"/applications/{own['created_by']}")
        assert app.status_code == 200, app.text
        assert (app.json()["tenant_id"], app.json()["type"]) == (own["tenant_id"], "private")
