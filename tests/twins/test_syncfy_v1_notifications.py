"""Syncfy's V1 webhooks as its official receiver sample uses them, over real HTTP: a webhook registered with
`POST /v1/webhooks` receives the flat V1 notification (the V3 payload of the same event, keys sorted), and the
sample's calls back (`Authorization: api_key api_key=KEY,id_user=ID` on a POST with `X-Http-Method-Override:
GET`) pass a configured provider key and answer for that user only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulator import signing, testing
from simulator.receiving import make_verifier
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import KEY, envelope, eventually, twin_client

BANK_SITE = "56cf5728784806f72b8b4568"  # the sandbox's "Normal" bank: created, updated (done), refreshed
FISCAL_SITE = "5da784f1f9de2a06483abec1"  # the SAT: its credentials download documents too
# The keys of Syncfy's V1 credential notifications, as its sample prints them (sorted).
CREDENTIAL_KEYS = [
    "endpoints",
    "event",
    "id_credential",
    "id_external",
    "id_job",
    "id_job_uuid",
    "id_site",
    "id_site_organization",
    "id_site_organization_type",
    "id_user",
    "is_executing",
]
V1_NAMES = ["credential_create", "credential_update", "refresh"]
V3_TYPES = ["syncfy:credentials.created", "syncfy:credentials.updated", "syncfy:credentials.refreshed"]


@pytest.fixture(scope="module")
def sim() -> Iterator[WebhookSim]:
    """A twin that takes its one provider key only: the sample's header must carry it, not garble it."""
    with testing.webhook_sim(provider_key=KEY) as served:
        yield served


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    with Receiver() as v1, Receiver() as v3:
        yield v1, v3


def sample_headers(id_user: str, form: str = "api_key api_key={key},id_user={user}") -> dict[str, str]:
    """The official receiver sample's headers for its calls back."""
    return {"Authorization": form.format(key=KEY, user=id_user), "X-Http-Method-Override": "GET"}


def user_with_credential(syncfy: httpx.Client, name: str, site: str = BANK_SITE) -> tuple[str, str]:
    """A new user and a credential registered for them (its lifecycle then plays): their ids."""
    id_user = envelope(syncfy.post("/v1/users", json={"name": name}))["id_user"]
    token = envelope(syncfy.post("/v1/sessions", json={"id_user": id_user}))["token"]
    login = {"id_site": site, "credentials": {"username": "test", "password": "x"}}
    job = envelope(syncfy.post("/v1/credentials", json=login, headers={"Authorization": f"Bearer {token}"}))
    return id_user, job["id_credential"]


def payloads(received: list[Any]) -> list[dict[str, Any]]:
    return [e["payload"] for r in received for e in r.json()["events"]]


def test_a_v1_webhook_receives_the_flat_notification_the_v3_payload_sorted(
    sim: WebhookSim, receivers: tuple[Receiver, Receiver]
) -> None:
    v1, v3 = receivers
    secret = signing.new_secret("syncfy")
    v1.verifier = make_verifier("syncfy", secret=secret)
    with twin_client(sim.url) as syncfy, httpx.Client(base_url=sim.url) as control:
        owner = envelope(syncfy.post("/v1/users", json={"name": "Olga"}))["id_user"]
        hook = {"url": v1.url, "events": V1_NAMES, "id_user": owner, "key": secret}
        envelope(syncfy.post("/v1/webhooks", json=hook))
        made = control.post("/subscriptions", json={"url": v3.url, "events": V3_TYPES})
        assert made.status_code == 201, made.text
        token = envelope(syncfy.post("/v1/sessions", json={"id_user": owner}))["token"]
        login = {"id_site": BANK_SITE, "credentials": {"username": "test", "password": "x"}}
        envelope(syncfy.post("/v1/credentials", json=login, headers={"Authorization": f"Bearer {token}"}))
        flat = [r.json() for r in v1.wait_for(3, timeout=15)]
        v3_payloads = payloads(v3.wait_for(3, timeout=15))

        assert [n["event"] for n in flat] == V1_NAMES
        assert flat == v3_payloads  # the same events, the same values: the V3 payload is the V1 body
        for body, received in zip(flat, v1.requests, strict=True):
            assert list(body) == sorted(body) and "events" not in body and "rid" not in body
            assert received.body == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        assert [list(n) for n in flat[:2]] == [CREDENTIAL_KEYS] * 2
        assert [n["is_executing"] for n in flat[:2]] == [1, 0] and "is_executing" not in flat[2]
        assert set(CREDENTIAL_KEYS[:-1]) < set(flat[2])  # the refresh: Syncfy's sample's keys, and more
        assert {"accounts", "credential", "transactions"} < set(flat[2]["endpoints"])
        assert all(r.verified for r in v1.requests), [r.reason for r in v1.requests]  # signed as before

        # The sample's call back with what the notification gives: the credential it names, as the twin has it.
        create = flat[0]
        answer = httpx.post(f"{sim.url}/syncfy{create['endpoints']['credential'][0]}", headers=sample_headers(owner))
        (credential,) = envelope(answer)
        same = ["id_credential", "id_user", "id_site", "id_site_organization", "id_site_organization_type"]
        assert {k: credential[k] for k in same} == {k: create[k] for k in same}
        assert create["id_user"] == owner


def test_a_v1_webhook_gets_the_flat_body_for_v3_names_and_the_envelope_for_documents(
    sim: WebhookSim, receivers: tuple[Receiver, Receiver]
) -> None:
    """V3 type names given to a V1 webhook choose the events, not the body; documents events, for which Syncfy
    documents no V1 body, keep the V3 envelope."""
    v1, _ = receivers
    with twin_client(sim.url) as syncfy:
        owner = envelope(syncfy.post("/v1/users", json={"name": "Sat"}))["id_user"]
        events = ["credentials.created", "documents"]
        envelope(syncfy.post("/v1/webhooks", json={"url": v1.url, "events": events, "id_user": owner}))
        token = envelope(syncfy.post("/v1/sessions", json={"id_user": owner}))["token"]
        login = {"id_site": FISCAL_SITE, "credentials": {"username": "ACM010101ABC", "password": "x"}}
        job = envelope(syncfy.post("/v1/credentials", json=login, headers={"Authorization": f"Bearer {token}"}))
        created, completed, success = (r.json() for r in v1.wait_for(3, timeout=15))
    assert created["event"] == "credential_create" and created["id_credential"] == job["id_credential"]
    assert [e["header"]["event"]["name"] for e in completed["events"] + success["events"]] == [
        "documents.completed",
        "documents.success",
    ]
    assert list(completed) == ["rid", "events"]  # Syncfy's documents notices, as the V3 webhooks get them


@pytest.mark.parametrize(
    "form",
    ["api_key api_key={key},id_user={user}", "API_KEY api_key={key}, id_user={user}"],
    ids=["webhook-sample", "php-sdk"],
)
def test_the_api_key_header_naming_a_user_answers_for_that_user_only(sim: WebhookSim, form: str) -> None:
    with twin_client(sim.url) as syncfy:
        ana, ana_credential = user_with_credential(syncfy, "Ana")
        _, luis_credential = user_with_credential(syncfy, "Luis")
        base = f"{sim.url}/syncfy/v1"
        made = (ana_credential, luis_credential)
        eventually(lambda: all(syncfy.get(f"/v1/credentials/{c}").is_success for c in made), 10, "the credentials")

        mine = envelope(httpx.post(f"{base}/credentials", headers=sample_headers(ana, form)))
        assert [c["id_credential"] for c in mine] == [ana_credential]
        assert {c["id_user"] for c in mine} == {ana}
        other = httpx.post(f"{base}/credentials/{luis_credential}", headers=sample_headers(ana, form))
        assert envelope(other, 404) is None  # another user's credential, as a session of Ana's is answered
        every = envelope(syncfy.get("/v1/credentials"))  # the key alone: every user's
        assert {ana_credential, luis_credential} <= {c["id_credential"] for c in every}

        wrong = sample_headers(ana, form.replace("{key}", "not-the-key"))
        assert envelope(httpx.post(f"{base}/credentials", headers=wrong), 401) is None
        both = httpx.post(
            f"{base}/credentials", params={"id_user": "5f0000000000000000000000"}, headers=sample_headers(ana, form)
        )
        assert envelope(both, 400) is None and "id_user" in both.json()["message"]


def test_the_samples_calls_back_on_a_refresh_answer_as_gets(
    sim: WebhookSim, receivers: tuple[Receiver, Receiver]
) -> None:
    """The sample's refresh handler: a POST overridden to GET on each endpoint the notification lists."""
    v1, _ = receivers
    with twin_client(sim.url) as syncfy:
        owner = envelope(syncfy.post("/v1/users", json={"name": "Rosa"}))["id_user"]
        envelope(syncfy.post("/v1/webhooks", json={"url": v1.url, "events": ["refresh"], "id_user": owner}))
        token = envelope(syncfy.post("/v1/sessions", json={"id_user": owner}))["token"]
        login = {"id_site": BANK_SITE, "credentials": {"username": "test", "password": "x"}}
        envelope(syncfy.post("/v1/credentials", json=login, headers={"Authorization": f"Bearer {token}"}))
        (refresh,) = (r.json() for r in v1.wait_for(1, timeout=15))
        headers = sample_headers(refresh["id_user"])
        (credential,) = envelope(
            httpx.post(f"{sim.url}/syncfy{refresh['endpoints']['credential'][0]}", headers=headers)
        )
        assert credential["id_credential"] == refresh["id_credential"] and credential["code"] == 200
        for kind in ("accounts", "transactions"):
            rows = [
                r
                for url in refresh["endpoints"][kind]
                for r in envelope(httpx.post(f"{sim.url}/syncfy{url}", headers=headers))
            ]
            assert rows and {r["id_credential"] for r in rows} == {refresh["id_credential"]}, kind
            assert {r["id_user"] for r in rows} == {owner}
        as_get = [r for url in refresh["endpoints"]["transactions"] for r in envelope(syncfy.get(url))]
        assert as_get == rows  # the same rows a GET answers


def test_schema_drift_on_a_v1_webhook_drifts_the_flat_notification(
    sim: WebhookSim, receivers: tuple[Receiver, Receiver]
) -> None:
    """The drift is planned on the V3 envelope; a V1 body, the payload itself, takes it at its top."""
    v1, _ = receivers
    with twin_client(sim.url) as syncfy, httpx.Client(base_url=sim.url) as control:
        owner = envelope(syncfy.post("/v1/users", json={"name": "Drift"}))["id_user"]
        envelope(syncfy.post("/v1/webhooks", json={"url": v1.url, "events": ["credential_create"], "id_user": owner}))
        (sub,) = [s for s in control.get("/subscriptions").json()["data"] if s["url"] == v1.url]
        drift = {"faults": {"schema_drift": {"probability": 1, "kind": "add"}}}
        assert control.patch(f"/subscriptions/{sub['id']}", json=drift).is_success
        token = envelope(syncfy.post("/v1/sessions", json={"id_user": owner}))["token"]
        login = {"id_site": BANK_SITE, "credentials": {"username": "test", "password": "x"}}
        envelope(syncfy.post("/v1/credentials", json=login, headers={"Authorization": f"Bearer {token}"}))
        (received,) = v1.wait_for(1, timeout=15)
    body = received.json()
    assert body["event"] == "credential_create" and len(set(body) - set(CREDENTIAL_KEYS)) == 1, body
    assert set(CREDENTIAL_KEYS) <= set(body)
