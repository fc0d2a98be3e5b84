"""The catalog, emitting one event, deliveries, the public key, reset and health, over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from simulator import __version__, catalog, signing
from simulator.models import answers as schemas
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, ok, problem


def test_health(api: httpx.Client) -> None:
    assert ok(api.get("/health"), schemas.Health) == {"status": "ok", "version": __version__}


def test_catalog_pages_through_every_type(api: httpx.Client) -> None:
    seen, cursor = [], None
    while True:
        page = ok(
            api.get("/events", params={"limit": 7, **({"cursor": cursor} if cursor else {})}), schemas.EventTypePage
        )
        seen += [e["type"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e.key for e in catalog.event_types()]
    syncfy = ok(api.get("/events", params={"provider": "syncfy"}), schemas.EventTypePage)["data"]
    assert {e["provider"] for e in syncfy} == {"syncfy"} and len(syncfy) == len(catalog.event_types("syncfy"))
    problem(api.get("/events", params={"provider": "stripe"}), 422, "provider")
    problem(api.get("/events", params={"provider": ""}), 422, "provider")  # not "every provider"


def test_sample_is_the_catalogs_exact_bytes(api: httpx.Client) -> None:
    response = api.get("/events/syncfy:credentials.created/sample", params={"seed": 5})
    assert response.status_code == 200
    assert response.content == catalog.sample("syncfy:credentials.created", 5)
    assert api.get("/events/credentials.created/sample", params={"seed": 5}).content == response.content
    assert api.get("/events/credentials.created/sample", params={"seed": 6}).content != response.content
    problem(api.get("/events/credentials.created/sample", params={"seed": -1}), 422, "seed")
    problem(api.get("/events/credentials.created/sample", params={"seed": "x"}), 422, "seed")


def test_schema(api: httpx.Client) -> None:
    response = api.get("/events/basistheory:token.created/schema")
    assert response.status_code == 200
    assert response.json() == catalog.schema("basistheory:token.created")


def test_unknown_types_are_404_with_suggestions(api: httpx.Client) -> None:
    for response in (
        api.get("/events/token.craeted/sample"),
        api.get("/events/token.craeted/schema"),
        api.post("/events", json={"type": "token.craeted"}),
    ):
        assert "token.created" in problem(response, 404, "type")["detail"]


def test_emit_delivers_with_overrides(api: httpx.Client, receiver: Receiver) -> None:
    sub = ok(api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"]}), schemas.Subscription, 201)
    emitted = ok(
        api.post("/events", json={"type": "token.created", "overrides": {"data.token.metadata.plan": "gold"}}),
        schemas.EmittedEvent,
        202,
    )
    assert emitted["type"] == "basistheory:token.created"
    assert emitted["body"]["data"]["token"]["metadata"]["plan"] == "gold"
    [request] = receiver.wait_for(1)
    assert request.json()["event"]["data"]["token"]["metadata"]["plan"] == "gold"
    assert request.event_ids == [emitted["id"]]
    [delivery_id] = emitted["deliveries"]
    eventually(lambda: api.get(f"/deliveries/{delivery_id}").json()["status"] == "succeeded", what="delivered")
    detail = ok(api.get(f"/deliveries/{delivery_id}"), schemas.DeliveryDetail)
    assert detail["subscription_id"] == sub["id"] and detail["event_ids"] == [emitted["id"]]
    assert [(a["number"], a["status_code"]) for a in detail["attempt_log"]] == [(1, 204)]


def test_an_event_named_for_subscriptions_that_take_nothing_says_why_each_was_passed_over(
    api: httpx.Client, receiver: Receiver
) -> None:
    """A disabled subscription receives nothing, as the providers' disabled webhooks do; an event that names it
    says so, where it answered an empty list of deliveries and no reason."""
    made = [
        ok(api.post("/subscriptions", json={"url": receiver.url, **extra}), schemas.Subscription, 201)
        for extra in ({}, {"enabled": False}, {"events": ["syncfy:*"]})
    ]
    live, paused, other = (sub["id"] for sub in made)
    emitted = ok(
        api.post("/events", json={"type": "token.created", "subscriptions": [live, paused, other]}),
        schemas.EmittedEvent,
        202,
    )
    assert len(emitted["deliveries"]) == 1
    assert [(s["subscription"], s["reason"].split(":")[0]) for s in emitted["skipped"]] == [
        (paused, "disabled"),
        (other, "not subscribed to basistheory"),
    ]
    everyone = ok(api.post("/events", json={"type": "token.created"}), schemas.EmittedEvent, 202)
    assert everyone["skipped"] == []  # unnamed: the matching subscriptions, as before


def test_an_unknown_subscription_an_event_names_is_a_404_naming_its_place(
    api: httpx.Client, receiver: Receiver
) -> None:
    """Named `id`, a field the body has none of, where `POST /runs` names `subscriptions.N`; and nothing is sent."""
    live = ok(api.post("/subscriptions", json={"url": receiver.url}), schemas.Subscription, 201)["id"]
    body = problem(api.post("/events", json={"type": "token.created", "subscriptions": [live, "sub_nope"]}), 404)
    assert [e["field"] for e in body["errors"]] == ["subscriptions.1"]
    assert api.get("/deliveries").json()["data"] == []


def test_emit_to_an_ad_hoc_target(api: httpx.Client, receiver: Receiver) -> None:
    emitted = ok(
        api.post("/events", json={"type": "syncfy:documents.success", "target": receiver.url}),
        schemas.EmittedEvent,
        202,
    )
    receiver.wait_for(1)
    assert receiver.event_ids() == [emitted["id"]]
    # The target's subscription is reachable by id but is not one of the listed subscriptions.
    assert ok(api.get("/subscriptions"), schemas.SubscriptionPage)["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "type"),
        ({"type": 5}, "type"),
        ({"type": "token.created", "overrides": "x"}, "overrides"),
        # A superscript two is a digit to str.isdigit, not to int(): taken for a list index, it was a 500.
        (
            {"type": "token.created", "overrides": {"data.token.containers.²": "/x/"}},
            "overrides.data.token.containers.²",
        ),
        ({"type": "token.created", "target": "mailto:a@b.c"}, "target"),
        ({"type": "token.created", "seed": -3}, "seed"),
        ({"type": "token.created", "seed": True}, "seed"),
        ({"type": "token.created", "seed": "3"}, "seed"),
    ],
)
def test_invalid_events(refusing_api: httpx.Client, body: dict, field: str) -> None:
    problem(refusing_api.post("/events", json=body), 422, field)


def test_deliveries_filter_and_page(api: httpx.Client, make_receiver: Callable[..., Receiver]) -> None:
    a, b = make_receiver(), make_receiver()
    sub_a = ok(api.post("/subscriptions", json={"url": a.url, "events": ["token.*"]}), schemas.Subscription, 201)
    ok(api.post("/subscriptions", json={"url": b.url}), schemas.Subscription, 201)
    for etype in ("token.created", "token.updated", "syncfy:credentials.created"):
        ok(api.post("/events", json={"type": etype}), schemas.EmittedEvent, 202)
    eventually(
        lambda: len(api.get("/deliveries", params={"status": "succeeded"}).json()["data"]) == 5,
        what="5 deliveries succeeded",
    )

    def listed(**params: object) -> list[dict]:
        return ok(api.get("/deliveries", params=params), schemas.DeliveryPage)["data"]

    assert {d["subscription_id"] for d in listed(subscription=sub_a["id"])} == {sub_a["id"]}
    assert len(listed(subscription=sub_a["id"])) == 2
    assert [d["type"] for d in listed(type="basistheory:token.updated")] == ["token.updated"] * 2
    assert len(listed(type="credentials.created")) == 1
    assert listed(status="dead") == [] and listed(run="run_nope") == []
    paged, cursor = [], None
    while True:
        page = ok(
            api.get("/deliveries", params={"limit": 2, **({"cursor": cursor} if cursor else {})}), schemas.DeliveryPage
        )
        paged += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == listed()
    problem(api.get("/deliveries", params={"status": "lost"}), 422, "status")
    assert "token.created" in problem(api.get("/deliveries", params={"type": "token.craeted"}), 422, "type")["detail"]
    problem(api.get("/deliveries", params={"cursor": "-1"}), 422, "cursor")


def test_unknown_delivery_and_redelivering_a_pending_one(api: httpx.Client, receiver: Receiver) -> None:
    problem(api.get("/deliveries/msg_nope"), 404, "id")
    problem(api.post("/deliveries/msg_nope/redeliver"), 404, "id")
    receiver.respond(204, delay=1)  # keeps the delivery in flight while we ask
    ok(api.post("/subscriptions", json={"url": receiver.url, "signing": "standard"}), schemas.Subscription, 201)
    [delivery_id] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
    eventually(lambda: api.get(f"/deliveries/{delivery_id}").status_code == 200, what="the delivery stored")
    problem(api.post(f"/deliveries/{delivery_id}/redeliver"), 409, "id")  # a conflict with its state
    eventually(lambda: api.get(f"/deliveries/{delivery_id}").json()["status"] == "succeeded", what="delivered")
    again = ok(api.post(f"/deliveries/{delivery_id}/redeliver"), schemas.DeliveryDetail, 202)
    assert again["id"] == delivery_id
    # A resend racing the resend under way: its words were the first attempt's ("its first attempt has no outcome").
    racing = problem(api.post(f"/deliveries/{delivery_id}/redeliver"), 409, "id")["detail"]
    assert racing == (
        f"delivery {delivery_id} is being sent again: attempt 2 has no outcome yet; send it again once it has one"
    )
    assert [r.headers["webhook-id"] for r in receiver.wait_for(2)] == [delivery_id] * 2


def test_redelivering_when_its_subscription_is_gone_says_so(api: httpx.Client, receiver: Receiver) -> None:
    """`trigger --target` deletes the subscription it made once the delivery ends: a resend of it was refused as
    "still being delivered", for good."""
    receiver.respond(500)
    sub = ok(api.post("/subscriptions", json={"url": receiver.url, "retry": {"delays": []}}), schemas.Subscription, 201)
    [delivery_id] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
    eventually(lambda: api.get(f"/deliveries/{delivery_id}").json()["status"] == "dead", what="the delivery dead")
    assert api.delete(f"/subscriptions/{sub['id']}").status_code == 204
    refused = problem(api.post(f"/deliveries/{delivery_id}/redeliver"), 409, "id")
    assert "no longer exists" in refused["detail"] and "still being delivered" not in refused["detail"]


def test_public_key_verifies_basis_theory_signatures(api: httpx.Client, receiver: Receiver) -> None:
    response = api.get("/keys/webhooks.pem")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-pem-file")
    pem = response.text
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    ok(api.post("/subscriptions", json={"url": receiver.url, "signing": "basistheory"}), schemas.Subscription, 201)
    api.post("/events", json={"type": "token.created"})
    [request] = receiver.wait_for(1)
    assert signing.verify("basistheory", request.headers, request.body, public_pem=pem).ok


def test_reset_forgets_everything(api: httpx.Client) -> None:
    ok(api.post("/subscriptions", json={"url": "http://127.0.0.1:9/"}), schemas.Subscription, 201)
    ok(api.post("/runs", json={"scenario": "api-one-event", "speed": 0}), schemas.Run, 202)
    ok(api.post("/schedules", json={"scenario": "api-one-event", "cron": "0 0 * * *"}), schemas.Schedule, 201)
    assert api.post("/reset").status_code == 204
    for path, model in (
        ("/subscriptions", schemas.SubscriptionPage),
        ("/runs", schemas.RunPage),
        ("/deliveries", schemas.DeliveryPage),
        ("/schedules", schemas.SchedulePage),
    ):
        assert ok(api.get(path), model)["data"] == [], path


def test_a_refused_query_names_what_it_was_in_words(api: httpx.Client) -> None:
    """It said "invalid deliveriesquery" (a class name lower-cased)."""
    body = problem(api.get("/deliveries", params={"status": "bogus"}), 422, "status")
    assert body["detail"].startswith("invalid deliveries query: status: ")


def test_events_outside_a_run_for_a_batching_subscription_go_within_the_batch_window(
    api: httpx.Client, receiver: Receiver
) -> None:
    """A Syncfy batch collects a run's events until the run waits or ends; events sent outside a run have no run
    to end, and a subscription with `batch` above 1 held them for good: nothing reached the receiver."""
    ok(
        api.post("/subscriptions", json={"url": receiver.url, "events": ["syncfy:*"], "batch": 5}),
        schemas.Subscription,
        201,
    )
    sent = [
        ok(api.post("/events", json={"type": "syncfy:credentials.updated"}), schemas.EmittedEvent, 202)["id"]
        for _ in range(2)
    ]
    [request] = receiver.wait_for(1, timeout=10)
    assert [event["header"]["event"]["eid"] for event in request.json()["events"]] == sent
    ok(api.post("/events", json={"type": "syncfy:documents.success"}), schemas.EmittedEvent, 202)
    assert len(receiver.wait_for(2, timeout=10)[1].json()["events"]) == 1  # alone in its window, sent alone
