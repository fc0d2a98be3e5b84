"""The twin's own rules over real HTTP: its key, its error shape, webhook management (a real subscription behind
each, five per tenant, auto-disable shown as `status`), deletes that emit events, and the public key's path."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator import testing
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually
from tests.twins.conftest import HOSTILE_JSON, played

CARD = {"number": "5555555555554444", "expiration_month": 3, "expiration_year": 2030}


def bt_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Basis Theory's ProblemDetails: title, status, detail, and `errors` as {field: [messages]}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert isinstance(body["errors"][field], list) and body["errors"][field], body
    return body


def subscription_of(sim: WebhookSim, url: str) -> dict[str, Any]:
    found = [s for s in httpx.get(f"{sim.url}/subscriptions").json()["data"] if s["url"] == url]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("headers", [{}, {"BT-API-KEY": ""}])
def test_a_missing_key_is_a_401(sim: WebhookSim, headers: dict[str, str]) -> None:
    response = httpx.get(f"{sim.url}/basistheory/tokens/anything", headers=headers)
    bt_problem(response, 401)


def test_any_key_is_accepted_without_a_provider_key(sim: WebhookSim) -> None:
    response = httpx.get(f"{sim.url}/basistheory/webhooks/event-types", headers={"BT-API-KEY": "whatever"})
    assert response.status_code == 200 and "token.created" in response.json()


def test_unknown_ids_routes_and_methods_answer_in_the_providers_shape(bt: httpx.Client) -> None:
    for path in ("/tokens/nope", "/token-intents/nope", "/3ds/sessions/nope", "/applications/nope"):
        body = bt_problem(bt.get(path), 404)
        assert "field" not in str(body.get("errors", ""))  # not the control API's [{field, message}] list
    bt_problem(bt.get("/no/such/route"), 404)
    bt_problem(bt.patch("/webhooks"), 405)


@pytest.mark.parametrize("query", ["size=0", "size=101", "size=abc", "start=not-a-cursor", "start=bjpY"])
def test_bad_pagination_is_a_400(bt: httpx.Client, query: str) -> None:
    bt_problem(bt.get(f"/v2/tokens?{query}"), 400, query.split("=")[0])


@pytest.mark.parametrize("path", ["/v2/tokens", "/webhooks"])
@pytest.mark.parametrize("query", ["size=abc&size=1", "size=1&size=2", "start=x&size=1&start=y"])
def test_a_query_parameter_given_twice_is_a_400_naming_it(bt: httpx.Client, path: str, query: str) -> None:
    """Basis Theory's API takes each query parameter at most once: the last was taken, an invalid one before it
    never seen (`size=abc&size=1` listed one token)."""
    repeated = next(name for name in ("size", "start") if query.count(f"{name}=") > 1)
    body = bt_problem(bt.get(f"{path}?{query}"), 400, repeated)
    assert "more than once" in json.dumps(body)


def test_bad_bodies_are_400s_naming_the_field(bt: httpx.Client) -> None:
    json_typed = {"content-type": "application/json"}
    bt_problem(bt.post("/token-intents", content=b"{nope", headers=json_typed), 400, "body")
    # A body that is not typed JSON is a 415, as Basis Theory's API answers one it has no reader for.
    assert bt.post("/tokens", content=b'{"type": "token", "data": "x"}').status_code == 415
    text = bt.post("/tokens", content=b'{"type": "token", "data": "x"}', headers={"content-type": "text/plain"})
    assert (text.status_code, text.json()["title"]) == (415, "Unsupported Media Type")
    for hostile in HOSTILE_JSON:
        bt_problem(bt.post("/tokens", content=hostile, headers=json_typed), 400, "body")
    for when in ("garbage", "2030-01-01T00:00:00", "2001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "+99:00"):
        bt_problem(bt.post("/tokens", json={"type": "token", "data": "x", "expires_at": when}), 400, "expires_at")


def test_a_token_expiry_is_echoed_and_the_event_writes_it_its_way(bt: httpx.Client, webhook_receiver: Receiver) -> None:
    """The REST object answers in the offset given (as the docs' create example does); the event in UTC, `…sssZ`."""
    hook = bt.post("/webhooks", json={"name": "e", "url": webhook_receiver.url, "events": ["token.created"]}).json()
    try:
        made = bt.post("/tokens", json={"type": "token", "data": "x", "expires_at": "2030-04-23T17:24:28-04:00"})
        assert made.status_code == 201 and made.json()["expires_at"] == "2030-04-23T17:24:28-04:00"
        event = webhook_receiver.wait_for(1)[0].json()["event"]
        assert event["data"]["token"]["expires_at"] == "2030-04-23T21:24:28.000Z"
        assert bt.get(f"/tokens/{made.json()['id']}").json()["expires_at"] == "2030-04-23T17:24:28-04:00"
    finally:
        bt.delete(f"/webhooks/{hook['id']}")
    bt_problem(bt.post("/token-intents", json={"type": "car", "data": CARD}), 400, "type")
    bad_card = {**CARD, "number": "4242424242424241"}
    bt_problem(bt.post("/token-intents", json={"type": "card", "data": bad_card}), 400, "data.number")
    bt_problem(bt.post("/tokens", json={"token_intent_id": 7}), 400, "token_intent_id")
    bt_problem(bt.post("/tokens", json={"token_intent_id": "missing"}), 404)
    bt_problem(bt.post("/webhooks", json={"name": "x", "url": "ftp://x", "events": ["token.created"]}), 400, "url")
    bt_problem(bt.post("/webhooks", json={"name": "x", "url": "http://h/", "events": ["nope"]}), 400, "events[0]")


@pytest.mark.parametrize(
    ("given", "echoed"),
    [
        ("8/26/2030 7:23:57 PM -07:00", "2030-08-26T19:23:57-07:00"),  # the docs' create request, and their answer
        ("12/1/2031 12:00:00 AM +00:00", "2031-12-01T00:00:00+00:00"),
        ("2/30/2030 7:23:57 PM -07:00", None),
        ("8/26/2030 13:23:57 PM -07:00", None),
        ("8/26/2030 7:23:57 PM", None),
        ("8/26/2030 7:23:57 PM -07:00 ", None),
    ],
)
def test_a_token_expiry_in_the_form_the_docs_send_is_taken(bt: httpx.Client, given: str, echoed: str | None) -> None:
    made = bt.post("/tokens", json={"type": "token", "data": "x", "expires_at": given})
    if echoed is None:
        bt_problem(made, 400, "expires_at")
        return
    assert made.status_code == 201 and made.json()["expires_at"] == echoed
    assert bt.get(f"/tokens/{made.json()['id']}").json()["expires_at"] == echoed


def test_cursor_pages_walk_every_token_once(bt: httpx.Client) -> None:
    made = {bt.post("/tokens", json={"type": "token", "data": f"value-{i}"}).json()["id"] for i in range(5)}
    seen: list[str] = []
    page = bt.get("/v2/tokens?size=2").json()
    while True:
        assert len(page["data"]) <= 2 and page["pagination"]["page_size"] == 2
        seen.extend(t["id"] for t in page["data"])
        if "next" not in page["pagination"]:
            break
        page = bt.get(f"/v2/tokens?size=2&start={page['pagination']['next']}").json()
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_deleting_a_token_emits_token_deleted_and_it_is_gone(
    sim: WebhookSim, bt: httpx.Client, webhook_receiver: Receiver
) -> None:
    hook = bt.post("/webhooks", json={"name": "d", "url": webhook_receiver.url, "events": ["token.deleted"]}).json()
    try:
        token = bt.post("/tokens", json={"type": "card", "data": CARD}).json()
        assert token["data"]["number"] == "XXXXXXXXXXXX4444" and token["card"]["brand"] == "mastercard"
        response = bt.delete(f"/tokens/{token['id']}", headers={"BT-TRACE-ID": "trace-for-delete"})
        assert response.status_code == 204 and response.headers["BT-TRACE-ID"] == "trace-for-delete"
        event = webhook_receiver.wait_for(1)[0].json()["event"]
        assert (event["type"], event["data"]["token"]["id"], event["trace_id"]) == (
            "token.deleted",
            token["id"],
            "trace-for-delete",
        )
        bt_problem(bt.get(f"/tokens/{token['id']}"), 404)
        bt_problem(bt.delete(f"/tokens/{token['id']}"), 404)
    finally:
        bt.delete(f"/webhooks/{hook['id']}")


def test_a_head_of_a_token_reads_no_data_and_emits_nothing(bt: httpx.Client, webhook_receiver: Receiver) -> None:
    """A HEAD answers the token's headers, not its data: it emitted a `token.read` ("a token's data was read") as
    a GET does. Its GET after it is the first read told."""
    hook = bt.post("/webhooks", json={"name": "h", "url": webhook_receiver.url, "events": ["token.read"]}).json()
    try:
        token = bt.post("/tokens", json={"type": "token", "data": "x"}).json()
        head = bt.head(f"/tokens/{token['id']}", headers={"BT-TRACE-ID": "trace-for-head"})
        assert head.status_code == 200 and head.content == b""
        bt_problem(bt.get("/tokens/no-such-token"), 404)
        assert bt.head("/tokens/no-such-token").status_code == 404
        bt.get(f"/tokens/{token['id']}", headers={"BT-TRACE-ID": "trace-for-get"})
        assert webhook_receiver.wait_for(1)[0].json()["event"]["trace_id"] == "trace-for-get"
    finally:
        bt.delete(f"/webhooks/{hook['id']}")


def test_reading_a_token_emits_token_read_and_changes_nothing(bt: httpx.Client, webhook_receiver: Receiver) -> None:
    hook = bt.post("/webhooks", json={"name": "r", "url": webhook_receiver.url, "events": ["token.read"]}).json()
    try:
        token = bt.post("/tokens", json={"type": "card", "data": CARD, "metadata": {"k": "v"}}).json()
        first = bt.get(f"/tokens/{token['id']}", headers={"BT-TRACE-ID": "trace-for-read"})
        assert first.status_code == 200 and first.json() == token
        event = webhook_receiver.wait_for(1)[0].json()["event"]
        assert (event["type"], event["data"]["token"], event["trace_id"]) == (
            "token.read",
            {"id": token["id"], "type": "card"},
            "trace-for-read",
        )
        assert event["tenant_id"] == token["tenant_id"]
        assert bt.get(f"/tokens/{token['id']}").json() == token  # the event folded in changed nothing
        bt_problem(bt.get("/tokens/no-such-token"), 404)  # a read that finds nothing emits nothing
        bt.get(f"/tokens/{token['id']}")
        read = [r.json()["event"]["data"]["token"]["id"] for r in webhook_receiver.wait_for(3)]
        assert read == [token["id"]] * 3  # one event a read
    finally:
        bt.delete(f"/webhooks/{hook['id']}")


def test_a_call_without_a_trace_id_is_given_one_that_its_events_and_its_answer_share(
    bt: httpx.Client, webhook_receiver: Receiver
) -> None:
    events = ["token.created", "token-intent.converted"]
    hook = bt.post("/webhooks", json={"name": "t", "url": webhook_receiver.url, "events": events}).json()
    try:
        intent = bt.post("/token-intents", json={"type": "card", "data": CARD})
        response = bt.post("/tokens", json={"token_intent_id": intent.json()["id"]})
        assert response.status_code == 201
        traces = {r.json()["event"]["trace_id"] for r in webhook_receiver.wait_for(2)}
        assert traces == {response.headers["BT-TRACE-ID"]}
        assert intent.headers["BT-TRACE-ID"] not in traces  # each call a trace of its own
    finally:
        bt.delete(f"/webhooks/{hook['id']}")


def test_a_webhook_is_a_subscription_the_control_api_sees_and_edits(sim: WebhookSim, bt: httpx.Client) -> None:
    body = {"name": "n", "url": "http://127.0.0.1:9/a", "notify_email": "a@example.com", "events": ["token.created"]}
    hook = bt.post("/webhooks", json=body).json()
    sub = subscription_of(sim, "http://127.0.0.1:9/a")
    assert (sub["signing"], sub["events"]) == ("basistheory", ["basistheory:token.created"])
    httpx.patch(f"{sim.url}/subscriptions/{sub['id']}", json={"url": "http://127.0.0.1:9/b"}).raise_for_status()
    assert bt.get(f"/webhooks/{hook['id']}").json()["url"] == "http://127.0.0.1:9/b"
    changed = {**body, "url": "http://127.0.0.1:9/c", "events": ["token:updated"], "name": "m"}
    updated = bt.put(f"/webhooks/{hook['id']}", json=changed).json()
    assert (updated["name"], updated["events"], updated["notify_email"]) == ("m", ["token.updated"], "a@example.com")
    assert updated["modified_at"] and subscription_of(sim, "http://127.0.0.1:9/c")["id"] == sub["id"]
    assert bt.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert httpx.get(f"{sim.url}/subscriptions/{sub['id']}").status_code == 404
    bt_problem(bt.get(f"/webhooks/{hook['id']}"), 404)


def test_five_webhooks_per_tenant(bt: httpx.Client) -> None:
    made = []
    try:
        for i in range(5 - len(bt.get("/webhooks").json()["data"])):
            body = {"name": f"w{i}", "url": f"http://127.0.0.1:9/{i}", "events": ["token.created"]}
            made.append(bt.post("/webhooks", json=body).json()["id"])
        extra = {"name": "sixth", "url": "http://127.0.0.1:9/6", "events": ["token.created"]}
        bt_problem(bt.post("/webhooks", json=extra), 422)
        every = bt.get("/webhooks").json()["data"]
        assert len(every) == 5
        # Pages of two reach all five once, each but the last naming the next (a `size` hid the rest for good).
        walked, start = [], None
        while True:
            page = bt.get("/webhooks", params={"size": 2, **({"start": start} if start else {})}).json()
            walked += [w["id"] for w in page["data"]]
            start = page["pagination"].get("next")
            if start is None:
                break
        assert walked == [w["id"] for w in every]
        bt_problem(bt.get("/webhooks", params={"start": "nope"}), 400, "start")
        # Each list's cursors are its own: a position in one means nothing in the other.
        for _ in range(3):
            bt.post("/tokens", json={"type": "token", "data": "paged"})
        token_cursor = bt.get("/v2/tokens", params={"size": 1}).json()["pagination"]["next"]
        webhook_cursor = bt.get("/webhooks", params={"size": 1}).json()["pagination"]["next"]
        bt_problem(bt.get("/webhooks", params={"start": token_cursor}), 400, "start")
        bt_problem(bt.get("/v2/tokens", params={"start": webhook_cursor}), 400, "start")
    finally:
        for hook_id in made:
            bt.delete(f"/webhooks/{hook_id}")


def test_status_shows_auto_disable_and_put_re_enables(
    sim: WebhookSim, bt: httpx.Client, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_webhook_receiver(status=500)
    hook = bt.post("/webhooks", json={"name": "f", "url": receiver.url, "events": ["token-intent.created"]}).json()
    try:
        sub = subscription_of(sim, receiver.url)
        change = {"retry": {"delays": []}, "disable_after": 1}
        httpx.patch(f"{sim.url}/subscriptions/{sub['id']}", json=change).raise_for_status()
        bt.post("/token-intents", json={"type": "card", "data": CARD}).raise_for_status()
        eventually(lambda: bt.get(f"/webhooks/{hook['id']}").json()["status"] == "disabled", what="auto-disable")
        again = {"name": "f", "url": receiver.url, "events": ["token-intent.created"], "status": "enabled"}
        assert bt.put(f"/webhooks/{hook['id']}", json=again).json()["status"] == "enabled"
        assert httpx.get(f"{sim.url}/subscriptions/{sub['id']}").json()["status"] == "enabled"
    finally:
        bt.delete(f"/webhooks/{hook['id']}")


@pytest.mark.parametrize("name", ["webhooks.v1.key", "webhooks.v1-test.key"])  # the test tenants' name too
def test_the_public_key_is_served_where_basis_theory_publishes_it(sim: WebhookSim, name: str) -> None:
    served = httpx.get(f"{sim.url}/basistheory/keys/{name}")
    assert served.status_code == 200 and served.text.startswith("-----BEGIN PUBLIC KEY-----")
    assert served.text == sim.public_key_pem


def test_a_token_made_after_a_run_is_listed_before_the_runs_tokens(sim: WebhookSim, bt: httpx.Client) -> None:
    """Newest first, whether or not anything read the twin in between: a run's events were numbered when a read
    folded them in, so a token made before that read was listed after the run's older tokens."""
    with Receiver() as receiver:
        body = {"scenario": "basistheory-token-intent-conversion", "speed": 0, "target": receiver.url, "seed": 5}
        # Started a year ago: its tokens' created_at are older than one made now (at speed 0 a run started now
        # makes tokens whose created_at lie ahead of the clock, listed first).
        body["start_time"] = (datetime.now(UTC) - timedelta(days=365)).isoformat()
        run = httpx.post(f"{sim.url}/runs", json=body).json()
        eventually(lambda: httpx.get(f"{sim.url}/runs/{run['id']}").json()["status"] == "completed", what="the run")
        made = bt.post("/tokens", json={"type": "token", "data": "newest"}).json()  # no read of the twin before
        assert bt.get("/v2/tokens?size=1").json()["data"][0]["id"] == made["id"]


def test_tokens_are_listed_newest_created_at_first_across_pages(sim: WebhookSim, bt: httpx.Client) -> None:
    """Sorted by `created_at`, descending, as Basis Theory's list is: by the order they were stored, a run's
    tokens, dated ahead of the clock or from an earlier start, were listed among others out of that order."""
    with Receiver() as receiver:
        now = datetime.now(UTC)
        made = [bt.post("/tokens", json={"type": "token", "data": f"now-{i}"}).json()["id"] for i in range(3)]
        for seed, start in ((6, now + timedelta(days=30)), (7, now - timedelta(days=30))):  # after those, stored
            body = {"scenario": "basistheory-token-intent-conversion", "speed": 0, "target": receiver.url}
            run = httpx.post(f"{sim.url}/runs", json={**body, "seed": seed, "start_time": start.isoformat()}).json()
            eventually(lambda r=run: httpx.get(f"{sim.url}/runs/{r['id']}").json()["status"] == "completed", what="run")
    listed: list[dict[str, Any]] = []
    page = bt.get("/v2/tokens", params={"size": 2}).json()
    while True:
        listed.extend(page["data"])
        if "next" not in page["pagination"]:
            break
        page = bt.get("/v2/tokens", params={"size": 2, "start": page["pagination"]["next"]}).json()
    ids = [t["id"] for t in listed]
    assert len(ids) == len(set(ids)) and set(made) <= set(ids)
    times = [datetime.fromisoformat(t["created_at"]) for t in listed]
    assert times == sorted(times, reverse=True)
    assert any(t > now + timedelta(days=1) for t in times) and any(t < now - timedelta(days=1) for t in times)


@pytest.mark.parametrize(
    ("data", "query"),
    [
        ({**CARD, "number": "５５５５５５５５５５５５４４４４"}, None),  # full-width digits
        ({**CARD, "expiration_month": "١٢"}, None),  # Arabic-Indic digits
        (None, "size=１０"),
    ],
    ids=["full-width-number", "arabic-indic-month", "full-width-size"],
)
def test_numbers_are_ascii_digits(bt: httpx.Client, data: dict[str, Any] | None, query: str | None) -> None:
    """Python's `\\d` and int() take any script's digits: a full-width card number made a token whose bin and
    last4 were full-width, with another fingerprint than the same card's."""
    if query is not None:
        bt_problem(bt.get(f"/v2/tokens?{query}"), 400, "size")
    else:
        bt_problem(bt.post("/tokens", json={"type": "card", "data": data}), 400)


@pytest.mark.parametrize(
    ("token_type", "data", "field"),
    [
        ("card_number", "4242424242424241", "data"),  # fails Luhn
        ("card_number", {"number": "4242424242424242"}, "data"),
        ("us_bank_routing_number", "110000001", "data"),  # fails the ABA checksum
        ("us_bank_routing_number", "abc", "data"),
        ("us_bank_account_number", "x", "data"),
        ("bank", {"routing_number": "110000001", "account_number": "1234"}, "data.routing_number"),
    ],
)
def test_the_single_number_types_and_bank_numbers_are_checked(
    bt: httpx.Client, token_type: str, data: Any, field: str
) -> None:
    """They were stored as given: a card number failing Luhn and a routing number failing its checksum got 201."""
    bt_problem(bt.post("/tokens", json={"type": token_type, "data": data}), 400, field)


def test_a_card_needs_only_its_number_and_a_card_number_token_shows_its_card(bt: httpx.Client) -> None:
    """Basis Theory's card object makes the expiry optional; a `card_number` token has the `card` details too."""
    bare = bt.post("/tokens", json={"type": "card", "data": {"number": "4242424242424242"}})
    assert bare.status_code == 201, bare.text
    assert bare.json()["card"] == {"bin": "42424242", "last4": "4242", "brand": "visa", "funding": "credit"}
    assert bt.get(f"/tokens/{bare.json()['id']}").json()["data"] == {"number": "XXXXXXXXXXXX4242"}
    intent = bt.post("/token-intents", json={"type": "card", "data": {"number": "5555555555554444", "cvc": "123"}})
    assert intent.status_code == 201 and intent.json()["card"]["last4"] == "4444", intent.text
    number = bt.post("/tokens", json={"type": "card_number", "data": "5555555555554444"}).json()
    assert number["card"] == {"bin": "55555555", "last4": "4444", "brand": "mastercard", "funding": "credit"}
    routing = bt.post("/tokens", json={"type": "us_bank_routing_number", "data": "110000000"})
    assert routing.status_code == 201 and "card" not in routing.json(), routing.text


def test_a_tokens_fingerprint_expression_is_the_callers_or_the_documented_default(bt: httpx.Client) -> None:
    given = bt.post("/tokens", json={"type": "token", "data": "abc", "fingerprint_expression": "{{ data }}"}).json()
    assert given["fingerprint_expression"] == "{{ data }}"
    assert bt.get(f"/tokens/{given['id']}").json()["fingerprint_expression"] == "{{ data }}"
    plain = bt.post("/tokens", json={"type": "token", "data": {"email": "a@b.c"}}).json()
    assert plain["fingerprint_expression"] == "{{ data | stringify }}"
    card = bt.post("/tokens", json={"type": "card", "data": CARD}).json()
    assert card["fingerprint_expression"] == "{{ data.number }}"
    bt_problem(bt.post("/tokens", json={"type": "token", "data": "x", "fingerprint_expression": 5}), 400)


def test_a_utf8_trace_id_reaches_the_events_as_sent(bt: httpx.Client, webhook_receiver: Receiver) -> None:
    """HTTP hands header bytes over as Latin-1: "été" sent as UTF-8 reached the events as "Ã©tÃ©"."""
    hook = bt.post("/webhooks", json={"name": "u", "url": webhook_receiver.url, "events": ["token.created"]}).json()
    try:
        sent = "été-✓".encode()
        response = bt.post("/tokens", json={"type": "token", "data": "x"}, headers={"BT-TRACE-ID": sent})
        assert response.status_code == 201, response.text
        assert dict(response.headers.raw)[b"bt-trace-id"] == sent  # the answer echoes the bytes
        assert webhook_receiver.wait_for(1)[0].json()["event"]["trace_id"] == "été-✓"
    finally:
        bt.delete(f"/webhooks/{hook['id']}")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "card", "data": {**CARD, "cardholder_name": "Jane"}}, "data.cardholder_name"),
        (
            {"type": "bank", "data": {"routing_number": "021000021", "account_number": "1234", "holder": "J"}},
            "data.holder",
        ),
        ({"type": "card", "data": {**CARD, "number": 5555555555554444}}, "data.number"),
        ({"type": "card", "data": {**CARD, "cvc": 123}}, "data.cvc"),
        ({"type": "bank", "data": {"routing_number": 110000000, "account_number": "1234"}}, "data.routing_number"),
        ({"type": "network_token", "data": "garbage"}, "data"),
        ({"type": "network_token", "data": {"number": "1"}}, "data.number"),
        ({"type": "token", "data": "x", "deduplicate_token": "yes"}, "deduplicate_token"),
        ({"type": "token", "data": "x", "id": ".."}, "id"),
        ({"type": "token", "data": "x", "id": "."}, "id"),
    ],
    ids=[
        "card-field",
        "bank-field",
        "number-as-number",
        "cvc-as-number",
        "routing-as-number",
        "network-token-text",
        "network-token-number",
        "deduplicate-text",
        "id-dot-dot",
        "id-dot",
    ],
)
def test_data_is_kept_as_sent_or_refused_naming_the_field(bt: httpx.Client, body: dict[str, Any], field: str) -> None:
    """Each made a token (201) whose data or id was not what was sent: a field dropped, a number turned into text,
    a network token of any JSON, a token at a path no client can ask for."""
    bt_problem(bt.post("/tokens", json=body), 400, field)


def test_a_network_token_is_a_cards_data_with_its_details(bt: httpx.Client) -> None:
    made = bt.post("/tokens", json={"type": "network_token", "data": CARD})
    assert made.status_code == 201, made.text
    assert made.json()["network_token"] == {
        "bin": "55555555",
        "last4": "4444",
        "expiration_month": 3,
        "expiration_year": 2030,
        "brand": "mastercard",
        "funding": "credit",
    }
    assert bt.get(f"/tokens/{made.json()['id']}").json()["network_token"] == made.json()["network_token"]


def test_an_intent_is_converted_alone_and_a_deleted_tokens_id_is_not_taken_again(bt: httpx.Client) -> None:
    intent = bt.post("/token-intents", json={"type": "card", "data": CARD}).json()
    mixed = {"token_intent_id": intent["id"], "type": "bank", "data": {"routing_number": "021000021"}}
    bt_problem(bt.post("/tokens", json=mixed), 400, "token_intent_id")
    assert bt.get(f"/token-intents/{intent['id']}").status_code == 200  # not converted by the refused call
    made = bt.post("/tokens", json={"type": "token", "data": "x", "id": "reused-id"})
    assert made.status_code == 201, made.text
    assert bt.delete("/tokens/reused-id").status_code == 204
    again = bt_problem(bt.post("/tokens", json={"type": "token", "data": "y", "id": "reused-id"}), 409, "id")
    assert again["errors"]["id"] == ["was a token's, now deleted"], again


def test_a_provider_key_outside_ascii_is_matched_by_its_utf8_bytes() -> None:
    """HTTP hands a header over as Latin-1: the key "sëcret" sent as UTF-8 never matched, on either twin."""
    with testing.webhook_sim(provider_key="sëcret") as served:
        right, wrong = "sëcret".encode(), b"secret"
        for key, status in ((right, 200), (wrong, 401)):
            got = httpx.get(f"{served.url}/basistheory/v2/tokens", headers={"BT-API-KEY": key})
            assert got.status_code == status, got.text
            auth = {"Authorization": b"api_key api_key=" + key}
            got = httpx.get(f"{served.url}/syncfy/v1/catalogues/sites", headers=auth)
            assert got.status_code == status, got.text


RUN_OBJECTS = """name: twin-run-tenant
provider: basistheory
steps:
  - emit: token.created
  - emit: token-intent.created
"""


def test_what_the_twin_does_to_a_runs_objects_is_told_by_the_runs_tenant(
    sim: WebhookSim, bt: httpx.Client, webhook_receiver: Receiver, tmp_path: Path
) -> None:
    """A run's objects are its tenant's: reading or deleting them through the twin emits events of that tenant, as
    only that tenant's key could at Basis Theory."""
    token, intent = played(sim, tmp_path, "twin-run-tenant", RUN_OBJECTS)
    tenant_id = token["tenant_id"]
    own = bt.post("/tokens", json={"type": "token", "data": "x"}).json()["tenant_id"]
    assert intent["tenant_id"] == tenant_id != own  # the run's tenant is not the twin's
    events = ["token.read", "token.deleted", "token-intent.deleted"]
    hook = bt.post("/webhooks", json={"name": "o", "url": webhook_receiver.url, "events": events}).json()
    try:
        assert bt.get(f"/tokens/{token['data']['token']['id']}").status_code == 200
        assert bt.delete(f"/tokens/{token['data']['token']['id']}").status_code == 204
        assert bt.delete(f"/token-intents/{intent['data']['token_intent']['id']}").status_code == 204
        told = [r.json()["event"] for r in webhook_receiver.wait_for(3)]
        assert [e["type"] for e in told] == events
        assert {e["tenant_id"] for e in told} == {tenant_id}
        mine = bt.post("/tokens", json={"type": "token", "data": "y"}).json()
        bt.get(f"/tokens/{mine['id']}")  # the twin's own token: its own tenant
        assert webhook_receiver.wait_for(4)[3].json()["event"]["tenant_id"] == own
    finally:
        bt.delete(f"/webhooks/{hook['id']}")
