"""Syncfy's published Python SDK (`sync-py` on PyPI) as the consumer: every call is a POST with a JSON body and
`X-Http-Method-Override`, authenticated with `API_KEY api_key=` or `TOKEN token=`. Against the served twin it
registers a user, a V1 webhook and a two-factor credential, answers the 410 with the token, and the webhooks of
the whole lifecycle arrive signed at a real receiver."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulator import signing
from simulator.receiving import make_verifier
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import KEY, eventually

sdk = pytest.importorskip("sync.sync")  # sync-py: its module is `sync`
TOKEN_SITE = "56cf5728784806f72b8b4569"  # the sandbox's "Token" site: it asks for a second factor
API_KEY = {"api_key": KEY}


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    return sim_on_each_store


def names(receiver: Receiver) -> list[str]:
    """The V1 names of what a V1 webhook received (Syncfy's flat V1 notifications)."""
    return [r.json()["event"] for r in receiver.requests]


def test_the_sdk_plays_a_two_factor_credential_to_its_refresh(sync: Any, sim: WebhookSim, receiver: Receiver):
    secret = signing.new_secret("syncfy")
    receiver.verifier = make_verifier("syncfy", secret=secret)
    user = sync.run(API_KEY, "/users", {"id_external": "SDK-2FA", "name": "Ana"}, "POST")
    token = sync.auth(API_KEY, {"id_user": user["id_user"]})
    events = ["credential_create", "credential_update", "refresh"]
    hook = sync.run(API_KEY, "/webhooks", {"url": receiver.url, "events": events, "key": secret}, "POST")
    assert hook["events"] == events and hook["url"] == receiver.url

    (site,) = sync.run(token, "/catalogues/sites", {"id_site": TOKEN_SITE}, "GET")
    login = {field["name"]: "test" for field in site["credentials"]}
    job = sync.run(token, "/credentials", {"id_site": TOKEN_SITE, "credentials": login}, "POST")
    assert job["is_new"] == 1 and job["username"] == "t**t"
    status = eventually(lambda: _waiting(sync, token, job["id_job"]), 10, "the job to wait for a token")
    assert status[-1]["twofa"][0]["name"] == "token"
    (credential,) = sync.run(token, f"/credentials/{job['id_credential']}", None, "GET")
    assert credential["code"] == 410 and credential["is_twofa"] == 1

    sync.run(token, f"/credentials/{job['id_credential']}", {"twofa": {"token": "123456"}}, "PUT")
    receiver.wait_for(5, timeout=15)  # created, updated (410), updated (102), updated (200), refreshed
    assert names(receiver) == ["credential_create", *["credential_update"] * 3, "refresh"]
    assert all(r.verified for r in receiver.requests), [r.reason for r in receiver.requests]
    payloads = [r.json() for r in receiver.requests]
    assert {p["id_credential"] for p in payloads} == {job["id_credential"]}
    assert [p.get("is_executing") for p in payloads[1:4]] == [1, 1, 0]

    refresh = payloads[-1]["endpoints"]
    rows = [row for url in refresh["transactions"] for row in sync.run(token, url.removeprefix("/v1"), None, "GET")]
    assert rows and {r["id_credential"] for r in rows} == {job["id_credential"]}
    (credential,) = sync.run(token, f"/credentials/{job['id_credential']}", None, "GET")
    assert credential["code"] == 200 and credential["dt_refresh"] is not None
    done = sync.run(token, f"/credentials/{job['id_credential']}", None, "DELETE")
    assert done["response"] is True
    with pytest.raises(sdk.Error) as gone:
        sync.run(token, f"/credentials/{job['id_credential']}", None, "GET")
    assert gone.value.code == 404


def _waiting(sync: Any, token: dict[str, str], id_job: str) -> list[dict[str, Any]] | None:
    status = sync.run(token, f"/jobs/{id_job}/status", None, "GET")
    return status if status[-1]["code"] == 410 else None


def test_the_sdk_answers_a_token_through_the_jobs_route(sync: Any, sim: WebhookSim):
    user = sync.run(API_KEY, "/users", {"name": "Luis"}, "POST")
    token = sync.auth(API_KEY, {"id_user": user["id_user"]})
    job = sync.run(token, "/credentials", {"id_site": TOKEN_SITE, "credentials": {"username": "luis"}}, "POST")
    eventually(lambda: _waiting(sync, token, job["id_job"]), 10, "the job to wait for a token")
    sync.run(token, f"/jobs/{job['id_job']}/twofa", {"twofa": {"token": "654321"}}, "POST")
    codes = eventually(
        lambda: (
            [s["code"] for s in sync.run(token, f"/jobs/{job['id_job']}/status", None, "GET")][-1] == 200
            and [s["code"] for s in sync.run(token, f"/jobs/{job['id_job']}/status", None, "GET")]
        ),
        10,
        "the job to finish",
    )
    assert codes == [100, 101, 410, 102, 200]


def test_the_sdk_sees_the_envelope_of_a_refusal(sync: Any, sim: WebhookSim):
    with pytest.raises(sdk.Error) as refused:
        sync.run({"token": "not-a-session"}, "/credentials", None, "GET")
    assert refused.value.code == 401 and refused.value.message == "Unauthorized"
    patch = httpx.post(f"{sim.url}/syncfy/v1/credentials", headers={"X-Http-Method-Override": "PATCH"})
    assert patch.status_code == 400 and patch.json()["code"] == 400
