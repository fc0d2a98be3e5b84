"""Values a hostile caller sends the twins, over real HTTP: numbers JSON can write and a double cannot hold, masks
that would make every read of a token enormous, fields of the wrong kind, ids that are not text, and paths with
an empty id. Each is refused in the provider's own shape naming the field, and nothing is stored."""

from __future__ import annotations

import httpx
import pytest

from simulator.providers.basistheory import api_mask
from tests.twins.syncfy_harness import envelope
from tests.twins.test_api import bt_problem

JSON = {"Content-Type": "application/json"}


def token_count(bt: httpx.Client) -> int:
    listed = bt.get("/v2/tokens", params={"size": 100})
    assert listed.status_code == 200, listed.text
    return len(listed.json()["data"])


@pytest.mark.parametrize("number", ["1e400", "-1e309", "1e-400"])
def test_a_number_a_double_cannot_hold_is_refused_and_nothing_is_stored(bt: httpx.Client, number: str) -> None:
    """`1e400` became infinity: the token was stored and its event sent, then every read of it, and every page
    listing it, was a 500. `1e-400` became 0."""
    before = token_count(bt)
    body = f'{{"type": "token", "data": {{"x": {number}}}, "mask": "{{{{ data }}}}"}}'
    refused = bt_problem(bt.post("/tokens", content=body, headers=JSON), 400, "body")
    assert number in refused["detail"]
    intent = f'{{"type": "token", "data": {{"x": {number}}}}}'
    bt_problem(bt.post("/token-intents", content=intent, headers=JSON), 400, "body")
    assert token_count(bt) == before


def test_a_mask_that_shows_far_more_than_the_data_is_refused(bt: httpx.Client) -> None:
    """2,600 copies of a 30,000-character value: every read of the token answered 78 MB."""
    before = token_count(bt)
    body = {"type": "token", "data": "a" * 30_000, "mask": ["{{data}}"] * 2_600}
    refused = bt_problem(bt.post("/tokens", json=body), 400, "mask")
    assert "more than" in refused["errors"]["mask"][0]
    assert token_count(bt) == before
    shown_twice = {"type": "token", "data": "4242424242424242", "mask": ["{{ data | last4 }}", "{{ data }}"]}
    made = bt.post("/tokens", json=shown_twice)  # what a real mask does, showing parts of the data, stays allowed
    assert made.status_code == 201 and made.json()["data"] == ["4242", "4242424242424242"], made.text


def test_the_bound_holds_for_a_token_made_from_an_intent(bt: httpx.Client) -> None:
    """Converting an intent, the token's data is the intent's: the mask is bounded by that, not by the `data` the
    request does not carry."""
    intent = bt.post("/token-intents", json={"type": "token", "data": "z" * 30_000})
    assert intent.status_code == 201, intent.text
    before = token_count(bt)
    body = {"token_intent_id": intent.json()["id"], "mask": ["{{data}}"] * 2_600}
    bt_problem(bt.post("/tokens", json=body), 400, "mask")
    assert token_count(bt) == before
    kept = bt.get(f"/token-intents/{intent.json()['id']}")
    assert kept.status_code == 200, kept.text  # the refusal did not use the intent up
    fine = bt.post("/tokens", json={"token_intent_id": intent.json()["id"], "mask": "{{ data | last4 }}"})
    assert fine.status_code == 201 and fine.json()["data"] == "zzzz", fine.text


def test_an_unclosed_mask_is_refused_in_one_pass() -> None:
    """The same pieces as the expression `\\{\\{(.*?)\\}\\}` splits a mask into, found by a scan: the expression
    tried each `{` of 32,000 to the end of the text (five seconds with the server's loop held)."""
    assert api_mask._pieces("a{{ data }}b{{{ x }}}c}}") == ["a", " data ", "b", "{ x ", "}c}}"]
    assert api_mask._pieces("{" * 5) == ["{" * 5]
    with pytest.raises(api_mask.MaskError, match="not closed"):
        api_mask.checked("{" * 32_000)


def test_a_trailing_slash_is_the_same_route_never_a_redirect(bt: httpx.Client) -> None:
    """As ASP.NET Core routes Basis Theory's API: `/tokens/{id}/` is `/tokens/{id}`, `POST /tokens/` makes a token,
    and an empty id is the collection's path (a 405 naming what it serves). It was a 307 to the path without the
    slash, which a client that follows redirects turned into a 405 for `DELETE /webhooks/`."""
    made = bt.post("/tokens/", json={"type": "token", "data": "x"})
    assert made.status_code == 201, made.text
    token_id = made.json()["id"]
    read = bt.get(f"/tokens/{token_id}/")
    assert read.status_code == 200 and read.json()["id"] == token_id, read.text
    listed = bt.get("/v2/tokens/", params={"size": 100})
    assert listed.status_code == 200 and token_id in [t["id"] for t in listed.json()["data"]]
    emptied = bt.delete("/webhooks/")
    bt_problem(emptied, 405)
    assert {m.strip() for m in emptied.headers["allow"].split(",")} == {"GET", "HEAD", "POST"}
    bt_problem(bt.get("/tokens/%2F"), 404)
    assert bt.delete(f"/tokens/{token_id}/").status_code == 204
    bt_problem(bt.get(f"/tokens/{token_id}"), 404)


def test_a_405_names_every_method_the_path_serves(bt: httpx.Client) -> None:
    for path, methods in (("/tokens/x", {"GET", "HEAD", "DELETE"}), ("/webhooks/x", {"GET", "HEAD", "PUT", "DELETE"})):
        answer = bt.patch(path, json={})
        bt_problem(answer, 405)
        assert {m.strip() for m in answer.headers["allow"].split(",")} == methods


def test_syncfy_refuses_a_username_that_is_not_text(syncfy: httpx.Client) -> None:
    id_user = envelope(syncfy.post("/v1/users", json={"name": "Ana"}))["id_user"]
    for username in (["ab", "cd"], {"a": 1}, True, 1.5):
        login = {"id_site": "56cf5728784806f72b8b4568", "credentials": {"username": username, "password": "p"}}
        refused = syncfy.post("/v1/credentials", params={"id_user": id_user}, json=login)
        envelope(refused, 400)
        assert "credentials.username" in refused.json()["message"]
    assert envelope(syncfy.get("/v1/credentials", params={"id_user": id_user})) == []


def test_syncfy_refuses_an_id_filter_that_is_not_text(syncfy: httpx.Client) -> None:
    for path, field in (("/v1/transactions", "id_credential"), ("/v1/documents", "id_job_webhook")):
        answer = syncfy.request("GET", path, json={field: ["a", {"b": 1}]})
        envelope(answer, 400)
        assert field in answer.json()["message"] and "{'b'" not in answer.json()["message"]


def test_syncfy_refuses_a_huge_number_as_id_external(syncfy: httpx.Client) -> None:
    for number in ("1e400", "1e-400"):
        answer = syncfy.post("/v1/users", content=f'{{"name": "Ana", "id_external": {number}}}', headers=JSON)
        envelope(answer, 400)
        assert number in answer.json()["message"]


def test_a_v1_webhooks_refusal_names_its_own_field(syncfy: httpx.Client) -> None:
    answer = syncfy.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["refresh"], "key": 123})
    envelope(answer, 400)
    message = answer.json()["message"]
    assert "key" in message and "secret" not in message and "subscription" not in message


def test_an_expiry_is_a_date_time_as_documented_and_nothing_else(bt: httpx.Client) -> None:
    later = "2031-04-23T13:24:28"
    for odd in (f"{later}\u0000Z", f"{later}+05:30:30", f"{later}Z junk"):
        bt_problem(bt.post("/tokens", json={"type": "token", "data": "x", "expires_at": odd}), 400, "expires_at")
    for fine in (f"{later}Z", f"{later}.123-04:00"):
        made = bt.post("/tokens", json={"type": "token", "data": "x", "expires_at": fine})
        assert made.status_code == 201 and made.json()["expires_at"].startswith(later), made.text


@pytest.mark.parametrize("kind", ["social_security_number", "employer_id_number"])
@pytest.mark.parametrize(
    "data", [{"x": 1}, [1, 2, 3], True, 1.5, "abc", "12345678", "1234567890", "-123456789", "123--456789"]
)
def test_a_number_with_dashes_is_nine_digits_or_refused(bt: httpx.Client, kind: str, data: object) -> None:
    """Basis Theory's token types page: numeric with an optional '-' delimiter, 9 digits without it. The twin took
    any data and showed its JSON text through the mask (`{"x":1}` as `XXX":1}`)."""
    before = token_count(bt)
    refused = bt_problem(bt.post("/tokens", json={"type": kind, "data": data}), 400, "data")
    assert "9 digits" in refused["errors"]["data"][0]
    bt_problem(bt.post("/token-intents", json={"type": kind, "data": data}), 400, "data")
    assert token_count(bt) == before


@pytest.mark.parametrize(
    ("kind", "given", "shown"),
    [("social_security_number", "123-45-6789", "XXX-XX-6789"), ("employer_id_number", "12-3456789", "XX-XXX6789")],
)
def test_a_number_with_dashes_is_fingerprinted_without_them(
    bt: httpx.Client, kind: str, given: str, shown: str
) -> None:
    """The type's default fingerprint expression is `{{ data | remove: '-' }}`: with or without the dashes, the
    same number is the same fingerprint."""
    dashed = bt.post("/tokens", json={"type": kind, "data": given})
    plain = bt.post("/tokens", json={"type": kind, "data": given.replace("-", "")})
    assert dashed.status_code == plain.status_code == 201, dashed.text
    assert dashed.json()["data"] == shown
    assert dashed.json()["fingerprint"] == plain.json()["fingerprint"]
    assert dashed.json()["fingerprint_expression"] == "{{ data | remove: '-' }}"
    other = bt.post("/tokens", json={"type": kind, "data": "987654321"})
    assert other.json()["fingerprint"] != plain.json()["fingerprint"]
