"""Sending again to a disabled subscription is refused with 409, saying to enable it first: accepted, it was
answered "pending, due now" and then nothing went out until the subscription was enabled."""

from __future__ import annotations

import httpx

from simulator.models import answers as schemas
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, ok, problem


def test_a_disabled_subscriptions_deliveries_are_not_sent_again_until_it_is_enabled(
    api: httpx.Client, receiver: Receiver
) -> None:
    receiver.respond(500)
    body = {"url": receiver.url, "signing": "standard", "retry": {"delays": []}}
    sub = ok(api.post("/subscriptions", json=body), schemas.Subscription, 201)["id"]
    [delivery] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "dead", what="the delivery dead")
    before = api.get(f"/deliveries/{delivery}").json()
    ok(api.patch(f"/subscriptions/{sub}", json={"enabled": False}), schemas.Subscription)

    refused = problem(api.post(f"/deliveries/{delivery}/redeliver"), 409, "id")
    assert f"subscription {sub} is disabled" in refused["detail"] and "enable it first" in refused["detail"]
    refused = problem(api.post(f"/subscriptions/{sub}/redeliver"), 409, "id")
    assert f"subscription {sub} is disabled" in refused["detail"] and "enable it first" in refused["detail"]
    assert api.get(f"/deliveries/{delivery}").json() == before  # a refused request changes nothing

    receiver.respond(204)
    ok(api.post(f"/subscriptions/{sub}/enable"), schemas.Subscription)
    assert ok(api.post(f"/subscriptions/{sub}/redeliver"), schemas.Redelivered, 202)["redelivered"] == [delivery]
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "succeeded", what="sent again")
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery] * 2
