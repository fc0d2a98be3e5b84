"""A SAT credential's documents are the taxpayer's: they name the RFC it was registered with (`keywords`, the
file's name, the file itself), not the user's `id_external`, which is the client's own reference; a pull that
gives no login keeps that RFC. They were made before they were refreshed, and another user's notification is as
unknown as one never sent."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import httpx

from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import KEY, envelope

FISCAL_SITE = "5da784f1f9de2a06483abec1"  # the SAT: its credentials' jobs download documents
RFC = "ACO1205113J7"  # the Postman collection's taxpayer


def documents_of_a_job(syncfy: httpx.Client, id_user: str, start: Any) -> tuple[str, list[dict[str, Any]]]:
    """Start a job with `start(receiver_url)`, wait for its `documents.success`: the URL it carried, and the
    documents that URL lists."""
    with Receiver() as receiver:
        webhook = {"url": receiver.url, "events": ["documents"], "id_user": id_user}
        envelope(syncfy.post("/v1/webhooks", json=webhook))
        start()
        notices = [e for r in receiver.wait_for(2, timeout=15) for e in r.json()["events"]]
    (success,) = [e for e in notices if e["header"]["event"]["name"] == "documents.success"]
    (url,) = success["payload"]["endpoints"]
    documents: list[dict[str, Any]] = envelope(syncfy.get(url))
    assert documents
    return url, documents


def assert_the_taxpayers(documents: list[dict[str, Any]], rfc: str) -> None:
    for document in documents:
        assert document["keywords"] == [rfc]
        assert document["file"].rsplit(".", 1)[0].endswith(f"_SAT_{rfc[:9]}")
        assert rfc in base64.b64decode(document["content"]).decode()
        assert document["id_external"] == "pman-test-unit00"  # still the user's own reference


def test_a_sat_credentials_documents_name_the_rfc_it_was_registered_with(syncfy: httpx.Client) -> None:
    id_user = envelope(syncfy.post("/v1/users", json={"name": "Sat", "id_external": "pman-test-unit00"}))["id_user"]
    login = {"id_site": FISCAL_SITE, "credentials": {"rfc": RFC, "password": "x"}}
    made: dict[str, Any] = {}

    def register() -> None:
        made.update(envelope(syncfy.post("/v1/credentials", json=login, params={"id_user": id_user})))

    _, documents = documents_of_a_job(syncfy, id_user, register)
    assert_the_taxpayers(documents, RFC)
    for document in documents:
        created = datetime.fromisoformat(document["dt_created"])
        assert created <= datetime.fromisoformat(document["dt_refreshed"])
        assert int(document["id_document"][:8], 16) == int(created.timestamp())  # an ObjectId of that time

    user = {"Authorization": f"api_key api_key={KEY},id_user={id_user}"}
    path = f"/v1/credentials/{made['id_credential']}/pulls"
    _, pulled = documents_of_a_job(syncfy, id_user, lambda: envelope(syncfy.put(path, headers=user, json={})))
    assert {d["id_document"] for d in pulled}.isdisjoint(d["id_document"] for d in documents)  # a new job's
    assert_the_taxpayers(pulled, RFC)


def test_another_users_documents_notification_is_as_unknown_as_one_never_sent(syncfy: httpx.Client) -> None:
    owner, other = (envelope(syncfy.post("/v1/users", json={"name": name}))["id_user"] for name in ("A", "B"))
    login = {"id_site": FISCAL_SITE, "credentials": {"rfc": RFC, "password": "x"}}
    url, _ = documents_of_a_job(
        syncfy, owner, lambda: envelope(syncfy.post("/v1/credentials", json=login, params={"id_user": owner}))
    )

    def as_user(id_user: str, address: str) -> httpx.Response:
        token = envelope(syncfy.post("/v1/sessions", json={"id_user": id_user}))["token"]
        return syncfy.get(address, headers={"Authorization": f"Bearer {token}"})

    assert envelope(as_user(owner, url))
    unknown = url.split("id_job_webhook=")[0] + "id_job_webhook=6b15809bf4d0ab274fadd98f"
    assert envelope(as_user(other, unknown), 404) is None
    answer = as_user(other, url)
    assert envelope(answer, 404) is None
    assert "id_job_webhook" in answer.json()["message"]
