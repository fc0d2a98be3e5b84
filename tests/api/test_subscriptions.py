"""Subscriptions over HTTP: create (secret shown once), read, change, delete, re-enable, redeliver the dead."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from simulator import signing
from simulator.models import answers as schemas
from simulator.testing import make_verifier
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, ok, problem


def create(api: httpx.Client, **fields: object) -> dict:
    return ok(api.post("/subscriptions", json=fields), schemas.Subscription, 201)


def test_secret_is_shown_in_full_once_and_masked_after(api: httpx.Client) -> None:
    secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    sub = create(api, url="http://127.0.0.1:9/hook", signing="standard", secret=secret)
    assert sub["secret"] == secret
    masked = signing.mask_secret(secret)
    later = [
        ok(api.get(f"/subscriptions/{sub['id']}"), schemas.Subscription),
        ok(api.patch(f"/subscriptions/{sub['id']}", json={"timeout": 5}), schemas.Subscription),
        ok(api.post(f"/subscriptions/{sub['id']}/enable"), schemas.Subscription),
        ok(api.get("/subscriptions"), schemas.SubscriptionPage)["data"][0],
    ]
    assert [s["secret"] for s in later] == [masked] * 4
    assert "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" not in api.get("/subscriptions").text


def test_a_secret_made_by_a_patch_is_shown_in_full_in_its_answer_alone(api: httpx.Client, receiver: Receiver) -> None:
    """`secret: null` makes a new secret: that answer is the only place it can be read (it was masked there too,
    and every later delivery was signed with a key nobody could learn)."""
    sub = create(api, url=receiver.url, signing="standard")
    made = ok(api.patch(f"/subscriptions/{sub['id']}", json={"secret": None}), schemas.Subscription)
    assert made["secret"] != sub["secret"] and "*" not in made["secret"]
    signing.validate_secret("standard", made["secret"])
    assert ok(api.get(f"/subscriptions/{sub['id']}"), schemas.Subscription)["secret"] == signing.mask_secret(
        made["secret"]
    )
    api.post("/events", json={"type": "token.created", "subscriptions": [sub["id"]]})
    [request] = receiver.wait_for(1)
    assert make_verifier("standard", made["secret"])(request.headers, request.body) == (True, "ok")


def test_changes_made_at_once_all_stick_and_a_deleted_subscription_stays_deleted(api: httpx.Client) -> None:
    """Each change read the subscription and wrote it whole: of two PATCHes at once one was lost, and a PATCH
    beside a DELETE wrote the deleted subscription back (it then received events)."""
    sub = create(api, url="http://127.0.0.1:9/hook")
    item = f"/subscriptions/{sub['id']}"
    with ThreadPoolExecutor(4) as pool:
        for i in range(1, 16):
            changes = pool.map(lambda body: api.patch(item, json=body), [{"timeout": float(i)}, {"max_in_flight": i}])
            assert [r.status_code for r in changes] == [200, 200]
            got = api.get(item).json()
            assert (got["timeout"], got["max_in_flight"]) == (float(i), i)
        for _ in range(10):
            doomed = create(api, url="http://127.0.0.1:9/hook")["id"]
            item = f"/subscriptions/{doomed}"
            calls = [("DELETE", item, None), ("PATCH", item, {"timeout": 3.0}), ("POST", f"{item}/enable", None)]
            answers = list(pool.map(lambda c: api.request(c[0], c[1], json=c[2]), calls))
            assert answers[0].status_code == 204
            assert api.get(item).status_code == 404
            assert all(r.status_code in (200, 404) for r in answers[1:])


def test_generated_secret_fits_the_scheme(api: httpx.Client) -> None:
    sub = create(api, url="http://127.0.0.1:9/hook", signing="standard")
    assert sub["secret"].startswith("whsec_")
    signing.validate_secret("standard", sub["secret"])


def test_fields_round_trip(api: httpx.Client) -> None:
    sub = create(
        api,
        url="https://example.test/hooks",
        events=["basistheory:token.*", "syncfy:*"],
        headers={"X-Env": "ci"},
        timeout=2.5,
        retry={"delays": [1, 2], "jitter": 0},
        max_in_flight=4,
        strict_order=True,
        batch=3,
        enabled=False,
        disable_after=0,
    )
    got = ok(api.get(f"/subscriptions/{sub['id']}"), schemas.Subscription)
    assert got["events"] == ["basistheory:token.*", "syncfy:*"]
    assert got["headers"] == {"X-Env": "ci"}
    assert got["retry"] == {"delays": [1.0, 2.0], "jitter": 0.0}
    assert (got["timeout"], got["max_in_flight"], got["batch"]) == (2.5, 4, 3)
    assert (got["strict_order"], got["enabled"], got["status"]) == (True, False, "disabled")


def test_patch_changes_only_given_fields_and_enable_re_enables(api: httpx.Client) -> None:
    sub = create(api, url="http://127.0.0.1:9/a", events=["token.created"])
    changed = ok(
        api.patch(f"/subscriptions/{sub['id']}", json={"url": "http://127.0.0.1:9/b", "enabled": False}),
        schemas.Subscription,
    )
    assert (changed["url"], changed["events"], changed["enabled"]) == ("http://127.0.0.1:9/b", ["token.created"], False)
    assert ok(api.post(f"/subscriptions/{sub['id']}/enable"), schemas.Subscription)["enabled"] is True


def test_delete(api: httpx.Client) -> None:
    sub = create(api, url="http://127.0.0.1:9/hook")
    assert api.delete(f"/subscriptions/{sub['id']}").status_code == 204
    problem(api.get(f"/subscriptions/{sub['id']}"), 404, "id")
    problem(api.delete(f"/subscriptions/{sub['id']}"), 404, "id")


def test_list_pages_through_every_subscription(api: httpx.Client) -> None:
    made = [create(api, url=f"http://127.0.0.1:9/{i}")["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(api.get("/subscriptions", params=params), schemas.SubscriptionPage)
        assert len(page["data"]) <= 2
        seen += [s["id"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(made)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": "ftp://example.test/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": 42}, "url"),
        ({"url": "http://127.0.0.1:9/", "timeout": "soon"}, "timeout"),
        ({"url": "http://127.0.0.1:9/", "timeout": 0}, "timeout"),
        ({"url": "http://127.0.0.1:9/", "max_in_flight": 0}, "max_in_flight"),
        ({"url": "http://127.0.0.1:9/", "max_in_flight": "4"}, "max_in_flight"),
        ({"url": "http://127.0.0.1:9/", "strict_order": 1}, "strict_order"),
        ({"url": "http://127.0.0.1:9/", "signing": "md5"}, "signing"),
        ({"url": "http://127.0.0.1:9/", "signing": "standard", "secret": "short"}, "secret"),
        ({"url": "http://127.0.0.1:9/", "events": ["token.craeted"]}, "events.0"),
        ({"url": "http://127.0.0.1:9/", "retry": {"delays": [-1]}}, "retry.delays.0"),
        ({"url": "http://127.0.0.1:9/", "colour": "blue"}, "colour"),
        ({"url": "http://127.0.0.1:9/", "headers": {"X-A": "1\r\nX-Injected: 2"}}, "headers"),
        ({"url": "http://127.0.0.1:9/", "headers": {"X A": "1"}}, "headers"),
        ({"url": "http://127.0.0.1:9/", "headers": {"Content-Length": "1"}}, "headers"),
        ({"url": "http://127.0.0.1:9/", "headers": {"X-A": "snow ☃"}}, "headers"),
    ],
)
def test_invalid_subscriptions_are_refused_naming_the_field(refusing_api: httpx.Client, body: dict, field: str) -> None:
    problem(refusing_api.post("/subscriptions", json=body), 422, field)
    assert ok(refusing_api.get("/subscriptions"), schemas.SubscriptionPage)["data"] == []


def test_unknown_filter_suggests_the_closest_types(api: httpx.Client) -> None:
    body = problem(
        api.post("/subscriptions", json={"url": "http://127.0.0.1:9/", "events": ["token.craeted"]}), 422, "events.0"
    )
    assert "token.created" in body["detail"]


def test_unknown_subscription(api: httpx.Client) -> None:
    for response in (
        api.get("/subscriptions/sub_nope"),
        api.patch("/subscriptions/sub_nope", json={}),
        api.post("/subscriptions/sub_nope/enable"),
        api.post("/subscriptions/sub_nope/redeliver"),
    ):
        problem(response, 404, "id")
    problem(api.patch("/subscriptions/sub_nope", json={"timeout": -1}), 422, "timeout")


def test_redeliver_dead_deliveries_of_a_subscription(api: httpx.Client, make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    receiver.fail(2, status=503)
    sub = create(api, url=receiver.url, events=["token.created"], signing="standard", retry={"delays": [], "jitter": 0})
    ids = [
        ok(api.post("/events", json={"type": "token.created"}), schemas.EmittedEvent, 202)["deliveries"][0]
        for _ in range(2)
    ]

    def statuses() -> list[str]:
        return [api.get(f"/deliveries/{i}").json()["status"] for i in ids]

    eventually(lambda: statuses() == ["dead", "dead"], what="both deliveries dead")
    again = ok(api.post(f"/subscriptions/{sub['id']}/redeliver"), schemas.Redelivered, 202)
    assert sorted(again["redelivered"]) == sorted(ids)
    eventually(lambda: statuses() == ["succeeded", "succeeded"], what="redelivered")
    sent = receiver.wait_for(4)
    assert {r.headers["webhook-id"] for r in sent[2:]} == {r.headers["webhook-id"] for r in sent[:2]} == set(ids)
    detail = ok(api.get(f"/deliveries/{ids[0]}"), schemas.DeliveryDetail)
    assert [a["status_code"] for a in detail["attempt_log"]] == [503, 204]


def test_redelivers_asked_at_once_send_one_series(api: httpx.Client, make_receiver: Callable[..., Receiver]) -> None:
    """Each read the delivery as dead before either had marked it sent again: eight at once started several
    series of attempts (numbers 1, 2, 3, 3, 3, …) and its count of attempts fell behind its log."""
    receiver = make_receiver()
    receiver.respond(503)
    sub = create(api, url=receiver.url, events=["token.created"], retry={"delays": [], "jitter": 0})
    [delivery] = ok(api.post("/events", json={"type": "token.created"}), schemas.EmittedEvent, 202)["deliveries"]
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "dead", what="dead")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: api.post(f"/deliveries/{delivery}/redeliver").status_code, range(8)))
        bulk = list(pool.map(lambda _: api.post(f"/subscriptions/{sub['id']}/redeliver").status_code, range(4)))
    assert 202 in answers and set(answers) <= {202, 409} and set(bulk) == {202}
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "dead", what="dead again")
    # One series at a time (a later one may start once the one before has ended): numbered 1, 2, 3… once each.
    detail = ok(api.get(f"/deliveries/{delivery}"), schemas.DeliveryDetail)
    numbers = [a["number"] for a in detail["attempt_log"]]
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
    assert detail["attempts"] == len(numbers) == len(receiver.requests)


@pytest.mark.parametrize("field", ["events", "url", "timeout", "headers", "enabled", "faults", "disable_after"])
def test_patch_refuses_null_for_a_field_that_cannot_be_null(api, field) -> None:
    sub = api.post("/subscriptions", json={"url": "http://127.0.0.1:9/x"}).json()
    refused = api.patch(f"/subscriptions/{sub['id']}", json={field: None})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == [field]
    assert api.get(f"/subscriptions/{sub['id']}").json() == {
        **sub,
        "secret": api.get("/subscriptions").json()["data"][0]["secret"],
    }


def test_patch_with_null_clears_what_may_be_null(api) -> None:
    sub = api.post("/subscriptions", json={"url": "http://127.0.0.1:9/x", "retry": {"delays": [1]}}).json()
    changed = api.patch(f"/subscriptions/{sub['id']}", json={"retry": None, "signing": None})
    assert changed.status_code == 200 and changed.json()["retry"] is None and changed.json()["signing"] is None


def test_a_whsec_secret_without_a_signing_scheme_says_which_scheme_it_is_checked_for(api: httpx.Client) -> None:
    """It said only "a syncfy secret must be non-empty base64" to someone who never mentioned Syncfy."""
    secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    body = problem(api.post("/subscriptions", json={"url": "http://127.0.0.1:9/h", "secret": secret}), 422, "secret")
    assert "set signing to standard" in body["detail"], body
    made = api.post("/subscriptions", json={"url": "http://127.0.0.1:9/h", "secret": secret, "signing": "standard"})
    assert made.status_code == 201, made.text
