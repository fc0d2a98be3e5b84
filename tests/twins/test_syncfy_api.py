"""The Syncfy twin's own rules over real HTTP: its auth styles and sessions, a configured provider key, its
refusals (always the envelope), V1 webhooks as real subscriptions, and a fiscal credential's lifecycle down to its
documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulator import signing, testing
from simulator.receiving import make_verifier
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.conftest import HOSTILE_JSON
from tests.twins.syncfy_harness import KEY, envelope, eventually, twin_client

FISCAL_SITE = "5da784f1f9de2a06483abec1"  # the sandbox's SAT site: its credentials download documents
BANK_SITE = "56cf5728784806f72b8b4568"


def new_user(syncfy: httpx.Client, name: str) -> str:
    return envelope(syncfy.post("/v1/users", json={"name": name, "id_external": name.upper()}))["id_user"]


def session(syncfy: httpx.Client, id_user: str) -> str:
    return envelope(syncfy.post("/v1/sessions", json={"id_user": id_user}))["token"]


def test_every_auth_style_of_the_sdks_and_samples_is_accepted(sim: WebhookSim, syncfy: httpx.Client):
    token = session(syncfy, new_user(syncfy, "ana"))
    base = f"{sim.url}/syncfy/v1/catalogues/sites"
    styles = [
        {"headers": {"Authorization": f"api_key api_key={KEY}"}},
        {"headers": {"Authorization": f"API_KEY api_key={KEY}"}},
        {"headers": {"Authorization": f"Bearer {token}"}},
        {"headers": {"Authorization": f"TOKEN token={token}"}},
        {"params": {"api_key": KEY}},
        {"params": {"token": token}},
        {"json": {"token": token}, "headers": {"X-Http-Method-Override": "GET"}},
    ]
    for style in styles:
        method = "POST" if "json" in style else "GET"
        assert envelope(httpx.request(method, base, **style)), style  # type: ignore[arg-type]


def test_missing_or_wrong_credentials_are_401_envelopes(sim: WebhookSim, syncfy: httpx.Client):
    base = f"{sim.url}/syncfy/v1"
    assert envelope(httpx.get(f"{base}/credentials"), 401) is None
    assert envelope(httpx.get(f"{base}/credentials", headers={"Authorization": "Bearer nope"}), 401) is None
    assert envelope(httpx.get(f"{base}/credentials", headers={"Authorization": "api_key api_key="}), 401) is None
    token = session(syncfy, new_user(syncfy, "luis"))
    # Users, sessions and webhooks take the API key only.
    assert envelope(httpx.get(f"{base}/users", headers={"Authorization": f"Bearer {token}"}), 401) is None
    assert envelope(syncfy.get(f"/v1/sessions/{token}/verify")) is True
    assert envelope(syncfy.delete(f"/v1/sessions/{token}")) is True
    assert envelope(httpx.get(f"{base}/credentials", headers={"Authorization": f"Bearer {token}"}), 401) is None
    assert envelope(syncfy.get(f"/v1/sessions/{token}/verify"), 401) is None  # as Syncfy answers (recorded)


def test_a_provider_key_makes_every_other_key_a_401():
    with testing.webhook_sim(provider_key="the-only-key") as sim, twin_client(sim.url, "another-key") as wrong:
        assert envelope(wrong.get("/v1/catalogues/sites"), 401) is None
        with twin_client(sim.url, "the-only-key") as right:
            assert envelope(right.get("/v1/catalogues/sites"))


def test_refusals_are_envelopes_never_5xx(syncfy: httpx.Client):
    assert envelope(syncfy.get("/v1/credentials/5f0000000000000000000000"), 404) is None
    assert envelope(syncfy.get("/v1/documents", params={"id_job_webhook": "5f00000000000000000000ff"}), 404) is None
    assert envelope(syncfy.get("/v1/no/such/route"), 404) is None
    for bad in ({"limit": 0}, {"limit": 5001}, {"skip": -1}, {"limit": "ten"}, {"dt_refresh_from": "yesterday"}):
        assert envelope(syncfy.get("/v1/transactions", params=bad), 400) is None, bad
    for bad in ({"limit": 0}, {"limit": "ten"}, {"skip": "-1"}):  # the users' list pages the same way
        assert envelope(syncfy.get("/v1/users", params=bad), 400) is None, bad
    assert envelope(syncfy.post("/v1/credentials", content=b"{not json"), 400) is None
    for hostile in HOSTILE_JSON:  # nesting the parser cannot follow, a number past CPython's digit limit, NaN
        assert envelope(syncfy.post("/v1/users", content=hostile), 400) is None, hostile[:40]
    assert envelope(syncfy.request("PATCH", "/v1/credentials"), 405) is None
    assert envelope(syncfy.post("/v1/credentials", json={"id_site": BANK_SITE}), 400) is None


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/v1/users", {"name": 5}, "name must be text, not a number"),
        ("/v1/users", {"name": ["Ana"]}, "name must be text, not a list"),
        ("/v1/credentials", {"id_site": 5, "credentials": {"rfc": "x"}}, "id_site must be a site's id (text), not a"),
        ("/v1/webhooks", {"url": "http://127.0.0.1:9/", "events": ["refresh"], "delay": "\u0663"}, "delay must be a"),
    ],
)
def test_a_parameter_of_the_wrong_kind_is_a_400_saying_so(
    sim: WebhookSim, syncfy: httpx.Client, path: str, body: dict[str, Any], message: str
):
    """It said `name is required` for a number, and `no id_site '5'` (a 404) for a site id given as a number."""
    user = envelope(syncfy.post("/v1/users", json={"name": "Ana"}))["id_user"]
    token = envelope(syncfy.post("/v1/sessions", json={"id_user": user}))["token"]
    headers = {"Authorization": f"TOKEN token={token}"} if path == "/v1/credentials" else {}
    answer = syncfy.post(path, json=body, headers=headers)
    assert answer.status_code == 400 and message in answer.json()["message"], answer.text


def test_a_v1_webhook_is_a_subscription_the_control_api_shows_and_edits(
    sim: WebhookSim, syncfy: httpx.Client, control: httpx.Client, receiver: Receiver
):
    hook = envelope(syncfy.post("/v1/webhooks", json={"url": receiver.url, "events": ["refresh"], "delay": 0}))
    assert list(hook) == ["id_webhook", "id_user", "events", "url", "delay", "dt_created", "dt_modified"]
    (sub,) = [s for s in control.get("/subscriptions").json()["data"] if s["url"] == receiver.url]
    assert sub["signing"] == "syncfy" and sub["events"] == ["syncfy:credentials.refreshed"]
    assert control.patch(f"/subscriptions/{sub['id']}", json={"enabled": False}).is_success
    (listed,) = [w for w in envelope(syncfy.get("/v1/webhooks")) if w["id_webhook"] == hook["id_webhook"]]
    assert listed["is_disabled"] == 1 and listed["ct_failed"] == 0
    envelope(syncfy.put(f"/v1/webhooks/{hook['id_webhook']}", json={"is_disabled": 0, "events": ["credential_create"]}))
    assert control.get(f"/subscriptions/{sub['id']}").json()["events"] == ["syncfy:credentials.created"]
    assert envelope(syncfy.delete(f"/v1/webhooks/{hook['id_webhook']}")) is True
    assert control.get(f"/subscriptions/{sub['id']}").status_code == 404
    assert envelope(syncfy.post("/v1/webhooks", json={"url": receiver.url, "events": ["nope"]}), 400) is None


@pytest.mark.parametrize("value", ["0", "false", "no", 2, [1], None, 0.5])
def test_a_webhooks_is_disabled_takes_0_or_1_only(
    sim: WebhookSim, syncfy: httpx.Client, control: httpx.Client, receiver: Receiver, value: Any
):
    hook = envelope(syncfy.post("/v1/webhooks", json={"url": receiver.url, "events": ["refresh"]}))
    path = f"/v1/webhooks/{hook['id_webhook']}"
    if value == "0":  # a query string's text: the flag as a number
        assert envelope(syncfy.put(path, json={"is_disabled": "1"}))["is_disabled"] == 1
        assert envelope(syncfy.put(path, params={"is_disabled": value}))["is_disabled"] == 0
        return
    answer = syncfy.put(path, json={"is_disabled": value, "url": "http://127.0.0.1:9/moved"})
    assert answer.status_code == 400 and "is_disabled must be 0 or 1" in answer.json()["message"], answer.text
    (listed,) = envelope(syncfy.get(path))
    assert listed["is_disabled"] == 0 and listed["url"] == receiver.url  # nothing of the refused change was kept


def test_a_webhook_for_a_user_names_one_that_exists(
    sim: WebhookSim, syncfy: httpx.Client, control: httpx.Client, receiver: Receiver
):
    before = len(envelope(syncfy.get("/v1/webhooks"))), len(control.get("/subscriptions").json()["data"])
    nobody = {"url": receiver.url, "events": ["refresh"], "id_user": "ffffffffffffffffffffffff"}
    answer = syncfy.post("/v1/webhooks", json=nobody)
    assert answer.status_code == 404 and "id_user" in answer.json()["message"], answer.text
    answer = syncfy.post("/v1/webhooks", json={**nobody, "id_user": 5})
    assert answer.status_code == 400 and "id_user" in answer.json()["message"], answer.text
    after = len(envelope(syncfy.get("/v1/webhooks"))), len(control.get("/subscriptions").json()["data"])
    assert after == before  # no webhook, and no subscription behind one
    owner = new_user(syncfy, "dueña")
    assert envelope(syncfy.post("/v1/webhooks", json={**nobody, "id_user": owner}))["id_user"] == owner


def test_a_fiscal_credential_runs_to_its_documents_for_its_users_webhook_only(
    sim: WebhookSim, syncfy: httpx.Client, make_receiver: Receiver
):
    mine, other = new_user(syncfy, "sat"), new_user(syncfy, "nadie")
    secret = signing.new_secret("syncfy")
    ours, theirs = make_receiver(), make_receiver()
    ours.verifier = make_verifier("syncfy", secret=secret)
    events = ["credential_create", "credential_update", "refresh", "documents"]
    for url, owner in ((ours.url, mine), (theirs.url, other)):
        envelope(syncfy.post("/v1/webhooks", json={"url": url, "events": events, "id_user": owner, "key": secret}))
    token = session(syncfy, mine)
    bearer = {"Authorization": f"Bearer {token}"}
    login = {"id_site": FISCAL_SITE, "credentials": {"username": "ACM010101ABC", "password": "x"}}
    job = envelope(syncfy.post("/v1/credentials", json=login, headers=bearer))
    assert job["status"].startswith(str(syncfy.base_url)) and job["is_new"] == 1
    received = ours.wait_for(5, timeout=15)  # created, updated, refreshed, documents completed and success
    # A V1 webhook: Syncfy's flat V1 notification for the credential events, the V3 envelope for documents.
    names = [r.json().get("event") or r.json()["events"][0]["header"]["event"]["name"] for r in received]
    assert names == [
        "credential_create",
        "credential_update",
        "refresh",
        "documents.completed",
        "documents.success",
    ]
    assert all(r.verified for r in received)
    assert not theirs.requests  # another user's webhook hears nothing of this credential
    last = received[-1].json()["events"][0]["payload"]["endpoints"][0]
    documents = envelope(syncfy.get(last.removeprefix("/v1").join(["/v1", ""]), headers=bearer))
    assert documents and {d["id_document_status"] for d in documents} == {"5b23219d056f2905985444c2"}
    again = envelope(syncfy.post("/v1/credentials/pulls", json=login, headers=bearer))
    assert again["id_credential"] == job["id_credential"] and again["is_new"] == 0
    eventually(lambda: len(ours.requests) >= 9, 15, "the second pull's events")


@pytest.fixture
def make_receiver() -> Iterator[object]:
    started: list[Receiver] = []

    def make() -> Receiver:
        started.append(Receiver().start())
        return started[-1]

    yield make
    for receiver in started:
        receiver.stop()


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "PATCH", "OPTIONS"])
def test_any_method_a_route_lacks_is_answered_in_the_envelope(syncfy: httpx.Client, method: str) -> None:
    """A method outside the twin's list (TRACE, PROPFIND) got the control API's problem document."""
    assert envelope(syncfy.request(method, "/v1/catalogues/sites"), 405) is None
    assert envelope(syncfy.request(method, "/v1/no-such-route"), 404) is None


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_body_past_the_size_limit_is_refused_in_each_twins_shape(sim: WebhookSim, chunked: bool) -> None:
    """It was the control API's problem document, which sync-py's error handling broke on."""
    big = b'{"name": "' + b"x" * (2 << 20) + b'"}'

    def sent() -> Any:
        return (part for part in (big[:1000], big[1000:])) if chunked else big

    key = {"Authorization": f"api_key api_key={KEY}"}
    syncfy = httpx.post(f"{sim.url}/syncfy/v1/users", content=sent(), headers=key)
    assert envelope(syncfy, 413) is None and "larger than" in syncfy.json()["message"]
    bt = httpx.post(f"{sim.url}/basistheory/tokens", content=sent(), headers={"BT-API-KEY": KEY})
    assert bt.status_code == 413 and bt.headers["content-type"] == "application/problem+json", bt.text
    # Basis Theory's ProblemDetails, `errors` naming the body as a map of messages, not the control API's list
    assert bt.json()["title"] == "Payload Too Large" and list(bt.json()["errors"]) == ["body"], bt.text
    ours = httpx.post(f"{sim.url}/subscriptions", content=sent())
    assert ours.status_code == 413 and ours.json()["errors"][0]["field"] == "body"


def test_the_recorded_sat_ciec_registration_gives_its_rfc_and_is_answered_it_masked(syncfy: httpx.Client) -> None:
    """Syncfy's recorded `POST /v1/credentials/pulls` at SAT CIEC (the Sync Tax collection's "Create credential")
    names its login `rfc`, as the site's catalogue entry does, and is answered `"username": "A**********A"`."""
    id_user = new_user(syncfy, "ciec")
    bearer = {"Authorization": f"Bearer {session(syncfy, id_user)}"}
    ciec = "56cf5728784806f72b8b456f"
    (site,) = [s for s in envelope(syncfy.get("/v1/catalogues/sites", headers=bearer)) if s["id_site"] == ciec]
    assert [(f["name"], f["username"]) for f in site["credentials"]] == [("rfc", True), ("password", False)]
    recorded = {
        "id_site": ciec,
        "credentials": {"rfc": "AAA010101AAA", "password": "ciec"},
        "options": {"search_from": "2025-01-01", "search_to": "2025-01-31"},
    }
    answer = envelope(syncfy.post("/v1/credentials/pulls", json=recorded, headers=bearer))
    assert (answer["username"], answer["is_new"]) == ("A**********A", 1)
    assert envelope(syncfy.get(f"/v1/credentials/{answer['id_credential']}", headers=bearer))[0]["username"] == (
        "A**********A"
    )
    refused = syncfy.post("/v1/credentials", json={"id_site": ciec, "credentials": {"password": "x"}}, headers=bearer)
    assert refused.status_code == 400 and "credentials.rfc" in refused.json()["message"], refused.text
