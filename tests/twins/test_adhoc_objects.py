"""An event of `POST /events` that names, by an override of its id, an object the Basis Theory twin holds: the
event tells of that object as the twin knows it, and the twin's object keeps what it was made as."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulator.testing import WebhookSim
from tests.twins.expect import instant

CARD = {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030}
MADE_AS = ("tenant_id", "type", "created_at", "created_by", "fingerprint", "fingerprint_expression", "containers")


def emit(control: httpx.Client, etype: str, overrides: dict[str, Any]) -> dict[str, Any]:
    answer = control.post("/events", json={"type": etype, "overrides": overrides})
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()["body"]
    return body


@pytest.mark.parametrize("etype", ["token.read", "token.updated", "token.expired"])
def test_an_event_naming_a_token_of_the_twin_tells_of_that_token(
    sim: WebhookSim, bt: httpx.Client, control: httpx.Client, etype: str
) -> None:
    """The rest of the event was made up around the id: the token's tenant, type and creation changed with every
    such event (a read included), and the event contradicted what the API had answered."""
    made = bt.post("/tokens", json={"type": "card", "data": CARD, "metadata": {"plan": "pro"}}).json()
    for _ in range(2):  # the second sees the twin's token as the first event left it
        event = emit(control, etype, {"data.token.id": made["id"]})
        told = event["data"]["token"]
        assert event["tenant_id"] == made["tenant_id"]
        assert told["id"] == made["id"] and told.get("type", "card") == "card"
        # (times by their instant: the REST object writes `+00:00` where the event writes `Z`)
        assert {k: instant(told[k]) for k in MADE_AS if k in told} == {
            k: instant(made[k]) for k in MADE_AS if k in told
        }
        read = bt.get(f"/tokens/{made['id']}")
        if etype == "token.expired":
            assert read.status_code == 404  # the event's word on its state holds
            return
        shown = read.json()
        assert {k: shown[k] for k in MADE_AS} == {k: made[k] for k in MADE_AS}
        assert shown["card"] == made["card"]
        if etype == "token.updated":  # what an update is about is the event's, and the API shows it
            assert shown["metadata"] == told["metadata"]


def test_an_override_of_a_field_is_kept_and_an_unknown_id_changes_nothing(
    sim: WebhookSim, bt: httpx.Client, control: httpx.Client
) -> None:
    made = bt.post("/tokens", json={"type": "card", "data": CARD}).json()
    chosen = emit(control, "token.updated", {"data.token.id": made["id"], "data.token.containers": ["/x/"]})
    assert chosen["data"]["token"]["containers"] == ["/x/"]  # the caller's word, where it gives one
    assert instant(chosen["data"]["token"]["created_at"]) == instant(made["created_at"])
    # What a token was made as is set once: an event the caller made to say otherwise does not remake it.
    said = emit(
        control, "token.updated", {"data.token.id": made["id"], "data.token.created_at": "2020-01-01T00:00:00.000Z"}
    )
    assert said["data"]["token"]["created_at"] == "2020-01-01T00:00:00.000Z"
    shown = bt.get(f"/tokens/{made['id']}").json()
    assert shown["created_at"] == made["created_at"] and shown["containers"] == ["/x/"]
    unknown = emit(control, "token.updated", {"data.token.id": "0b2e6f1c-8f4e-4a43-9d1e-3f9a3d7b9c11"})
    assert unknown["tenant_id"] != made["tenant_id"]  # the events' own tenant: nothing the twin holds
