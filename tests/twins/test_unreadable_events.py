"""A scenario step marked `unchecked: true` may give an event values no provider would send (an id that is an
object, a header that is a list). The event is delivered as written; the twins fold what they can read of it and
skip the rest, and keep answering."""

from __future__ import annotations

from pathlib import Path

import httpx

from simulator.testing import WebhookSim
from tests.twins.conftest import played
from tests.twins.syncfy_harness import envelope

BASISTHEORY = """name: twin-unreadable-basistheory
provider: basistheory
steps:
  - emit: token.created
    unchecked: true
    with:
      data.token.id: {a: 1}
      tenant_id: [1, 2]
  - emit: token.created
    unchecked: true
    with:
      data: [1, 2]
  - emit: token-intent.converted
    unchecked: true
    with:
      data.token: 5
      data.actor: [x]
"""

SYNCFY = """name: twin-unreadable-syncfy
provider: syncfy
steps:
  - emit: credentials.created
    unchecked: true
    with:
      header.user: [1, 2]
  - emit: credentials.updated
    unchecked: true
    with:
      payload: [1, 2]
  - emit: documents.success
    unchecked: true
    with:
      payload.endpoints: {a: 1}
      payload.id_credential: {a: 1}
"""


def test_the_basistheory_twin_skips_what_it_cannot_read_and_keeps_answering(
    sim: WebhookSim, bt: httpx.Client, tmp_path: Path
) -> None:
    """An object as a token's id was a 500 on every read of the twin's state until /reset (unhashable dict)."""
    played(sim, tmp_path, "bt", BASISTHEORY)
    listed = bt.get("/v2/tokens", params={"size": 100})
    assert listed.status_code == 200, listed.text
    made = bt.post("/tokens", json={"type": "token", "data": "kept"})
    assert made.status_code == 201, made.text
    read = bt.get(f"/tokens/{made.json()['id']}")
    assert read.status_code == 200 and read.json()["id"] == made.json()["id"], read.text


def test_the_syncfy_twin_skips_what_it_cannot_read_and_keeps_answering(
    sim: WebhookSim, syncfy: httpx.Client, tmp_path: Path
) -> None:
    """A list as an event's `header.user` was a 500 on every call that read the twin's index (AttributeError)."""
    played(sim, tmp_path, "syncfy", SYNCFY)
    id_user = envelope(syncfy.post("/v1/users", json={"name": "Ana"}))["id_user"]
    token = envelope(syncfy.post("/v1/sessions", json={"id_user": id_user}))["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert envelope(syncfy.get("/v1/credentials", headers=bearer)) == []
    envelope(syncfy.get("/v1/users"))


SYNCFY_TYPES = """name: twin-mistyped-syncfy
provider: syncfy
steps:
  - emit: credentials.created
    unchecked: true
    with:
      header.user.id_external: 5
  - emit: credentials.refreshed
    unchecked: true
    with:
      payload.endpoints: {credential: [7, "/v1/credentials/zz"], accounts: 5}
  - emit: documents.completed
    unchecked: true
    with:
      header.user.id_external: [1]
"""


def test_the_syncfy_twin_reads_a_value_of_another_type_than_syncfy_sends_as_absent(
    sim: WebhookSim, syncfy: httpx.Client, tmp_path: Path
) -> None:
    """An integer as `id_external` or as a list of page URLs was a 500 on every later read of credentials and
    documents (the event stays stored): each is read as if Syncfy had left it out."""
    created, _, completed = played(sim, tmp_path, "twin-mistyped-syncfy", SYNCFY_TYPES)
    id_credential = created["payload"]["id_credential"]
    listed = {c["id_credential"]: c for c in envelope(syncfy.get("/v1/credentials"))}
    assert isinstance(listed[id_credential]["id_external"], str)  # of the type Syncfy answers, not the 5
    assert id_credential in {c["id_credential"] for c in envelope(syncfy.get("/v1/credentials/all"))}
    envelope(syncfy.get("/v1/accounts", params={"id_credential": id_credential}))
    [url] = completed["payload"]["endpoints"]
    documents = envelope(syncfy.get(url))
    assert documents and all(isinstance(d["file"], str) and d["keywords"] for d in documents)
