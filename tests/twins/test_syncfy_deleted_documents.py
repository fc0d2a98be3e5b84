"""A deleted credential's documents go with it, and a deleted user's with their credentials, on each store: the URL a
`documents.success` notification carried answers as an unknown one (404) and the user's list is empty, while
another user's documents are still served."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import envelope

FISCAL_SITE = "5da784f1f9de2a06483abec1"  # the SAT: its credentials' jobs download documents
LOGIN = {"id_site": FISCAL_SITE, "credentials": {"username": "ACM010101ABC", "password": "x"}}


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    """The documents' credential is looked up in the twin's index, which each backend queries its own way."""
    return sim_on_each_store


def with_documents(syncfy: httpx.Client) -> tuple[str, str, str]:
    """A user whose credential at the SAT downloaded its documents: the user, the credential, and the URL its
    `documents.success` notification carried (as a V1 webhook of theirs received it)."""
    id_user = envelope(syncfy.post("/v1/users", json={"name": "Sat"}))["id_user"]
    with Receiver() as receiver:
        webhook = {"url": receiver.url, "events": ["documents"], "id_user": id_user}
        envelope(syncfy.post("/v1/webhooks", json=webhook))
        made = envelope(syncfy.post("/v1/credentials", json=LOGIN, params={"id_user": id_user}))
        notices = [e for r in receiver.wait_for(2, timeout=15) for e in r.json()["events"]]
    (success,) = [e for e in notices if e["header"]["event"]["name"] == "documents.success"]
    (url,) = success["payload"]["endpoints"]
    return id_user, made["id_credential"], url


def served(syncfy: httpx.Client, url: str) -> list[dict[str, Any]]:
    """The documents `url` lists, at least one."""
    documents: list[dict[str, Any]] = envelope(syncfy.get(url))
    assert documents
    return documents


def test_a_deleted_credentials_documents_go_with_it(syncfy: httpx.Client) -> None:
    id_user, id_credential, url = with_documents(syncfy)
    _, _, others = with_documents(syncfy)
    documents = served(syncfy, url)
    assert all(d["content"] for d in documents)  # each file, base64: what must not outlive the credential
    assert envelope(syncfy.get("/v1/documents", params={"id_user": id_user})) == documents
    assert envelope(syncfy.delete(f"/v1/credentials/{id_credential}")) is True
    assert envelope(syncfy.get(url), 404) is None  # as an id_job_webhook never notified
    assert envelope(syncfy.get("/v1/documents", params={"id_user": id_user})) == []  # as a user with none
    served(syncfy, others)  # another user's credential keeps its own


def test_a_deleted_users_documents_go_with_them(syncfy: httpx.Client) -> None:
    id_user, _, url = with_documents(syncfy)
    served(syncfy, url)
    assert envelope(syncfy.delete(f"/v1/users/{id_user}")) is True
    assert envelope(syncfy.get(url), 404) is None
    assert envelope(syncfy.get("/v1/documents", params={"id_user": id_user})) == []
    header = {"Authorization": f"api_key api_key=any-key,id_user={id_user}"}  # the sample's style, same answer
    assert envelope(syncfy.get("/v1/documents", headers=header)) == []


def test_a_runs_user_deleted_takes_the_documents_its_events_announced(sim: WebhookSim, syncfy: httpx.Client) -> None:
    """A credential only events announced (no API call registered it): found from the index as well."""
    handle = sim.run("syncfy-documents-failed", seed=7, speed=0)
    assert handle.wait(timeout=60).status == "completed"
    events = [e.body for e in handle.events()]  # each as its envelope carries it: header and payload
    urls = [e["payload"]["endpoints"][0] for e in events if e["header"]["event"]["name"].startswith("documents.")]
    id_user = events[0]["payload"]["id_user"]
    for url in urls:
        served(syncfy, url)
    assert envelope(syncfy.delete(f"/v1/users/{id_user}")) is True
    assert [envelope(syncfy.get(url), 404) for url in urls] == [None] * len(urls)
    assert envelope(syncfy.get("/v1/documents", params={"id_user": id_user})) == []


def test_a_deleted_users_documents_go_even_where_no_credential_announced_them(
    sim: WebhookSim, syncfy: httpx.Client
) -> None:
    """A documents event emitted alone names a user and no credential: deleting the user takes its documents
    too, as it takes those of their credentials. They were still served, to the API key, after the user was gone."""
    body = sim.emit("documents.success").body
    id_user, (url,) = body["header"]["user"]["id_user"], body["payload"]["endpoints"]
    _, _, kept = with_documents(syncfy)  # another user's
    served(syncfy, url)
    assert envelope(syncfy.delete(f"/v1/users/{id_user}")) is True
    assert envelope(syncfy.get(url), 404) is None
    assert envelope(syncfy.get("/v1/documents", params={"id_user": id_user})) == []
    served(syncfy, kept)
