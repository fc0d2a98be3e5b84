"""A deleted user registers no credential: `POST /v1/credentials` for them is a 404 naming the user, as a session
or a webhook for them is, whether the API made the user or only events named them, and nothing of theirs is
served after."""

from __future__ import annotations

import httpx

from simulator.testing import WebhookSim
from tests.twins.syncfy_harness import envelope

BANK = "56cf5728784806f72b8b4568"  # the sandbox's "Normal" bank: no token asked
LOGIN = {"id_site": BANK, "credentials": {"username": "ana", "password": "x"}}


def refused_for(syncfy: httpx.Client, id_user: str) -> None:
    """A registration for `id_user` is Syncfy's 404, and the user has no credential after it."""
    answer = syncfy.post("/v1/credentials", json=LOGIN, params={"id_user": id_user})
    envelope(answer, 404)
    assert id_user in answer.json()["message"]
    assert envelope(syncfy.get("/v1/credentials", params={"id_user": id_user})) == []
    assert envelope(syncfy.get("/v1/accounts", params={"id_user": id_user})) == []


def test_a_deleted_user_whose_credentials_events_named_registers_none(syncfy: httpx.Client) -> None:
    """The user's credential was announced by events, which still name the user once they are deleted: those
    events were taken for the user, and a new credential was made and played for a deleted user."""
    id_user = envelope(syncfy.post("/v1/users", json={"name": "Ana"}))["id_user"]
    made = envelope(syncfy.post("/v1/credentials", json=LOGIN, params={"id_user": id_user}))
    assert envelope(syncfy.get(f"/v1/credentials/{made['id_credential']}"))  # its events are indexed
    assert envelope(syncfy.delete(f"/v1/users/{id_user}")) is True
    refused_for(syncfy, id_user)


def test_a_deleted_user_only_events_named_registers_none(sim: WebhookSim, syncfy: httpx.Client) -> None:
    id_user = sim.emit("credentials.created").body["header"]["user"]["id_user"]
    envelope(syncfy.post("/v1/credentials", json=LOGIN, params={"id_user": id_user}))  # while they exist
    assert envelope(syncfy.delete(f"/v1/users/{id_user}")) is True
    refused_for(syncfy, id_user)
