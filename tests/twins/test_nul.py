"""A NUL character in what a client sends, on SQLite and on PostgreSQL: PostgreSQL's text cannot hold one, and a
read looking for it (an id in the path, a query) or a write storing it as text (a webhook's name, a user's) answered
500 there, in the control API's shape on the twins' paths too; a Basis Theory webhook so refused still made its
subscription. Each is now a 4xx naming where the NUL is, in the shape of the API asked, on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from simulator.testing import WebhookSim
from tests.api.harness import problem
from tests.twins.conftest import played
from tests.twins.syncfy_harness import ENVELOPE_KEYS
from tests.twins.test_api import bt_problem

NUL = "a\u0000b"


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    return sim_on_each_store


@pytest.mark.parametrize(
    "target,status,field",
    [
        ("/deliveries/%00", 404, "path"),  # an id that names nothing
        ("/subscriptions/a%00b", 404, "path"),
        ("/runs/%00", 404, "path"),
        ("/deliveries?q=%00", 422, "q"),  # a value the parameter cannot take
        ("/deliveries?limit=5&q=x%00y", 422, "q"),
    ],
)
def test_the_control_api_names_a_nul_in_the_path_or_query(
    control: httpx.Client, target: str, status: int, field: str
) -> None:
    body = problem(control.get(target), status, field)
    assert "NUL" in body["detail"], body
    assert control.get("/deliveries").status_code == 200  # and it goes on serving


def test_a_basis_theory_id_holding_nul_is_refused_in_basis_theorys_shape(bt: httpx.Client) -> None:
    body = bt_problem(bt.get("/tokens/%00"), 404)
    assert "NUL" in body["detail"], body


def test_a_token_intent_id_holding_nul_is_a_400_naming_it(bt: httpx.Client) -> None:
    """On PostgreSQL its look-up was a 500 (text cannot hold NUL); on SQLite a 404 for an id no intent can have."""
    body = bt_problem(bt.post("/tokens", json={"token_intent_id": "a\x00b"}), 400, "token_intent_id")
    assert "NUL" in str(body), body


@pytest.mark.parametrize("query,field", [("start=%00", "start"), ("size=5&start=x%00y", "start"), ("a%00=1", "query")])
def test_a_nul_in_a_basis_theory_query_is_a_400_naming_the_parameter(bt: httpx.Client, query: str, field: str) -> None:
    """It was a 422 without `errors`, where every other value the query cannot take is a 400 naming it."""
    body = bt_problem(bt.get(f"/v2/tokens?{query}"), 400, field)
    assert "NUL" in body["detail"] and body["title"] == "One or more validation errors occurred.", body
    bt_problem(bt.get("/v2/tokens?size=abc"), 400, "size")  # as a value of the wrong kind is


def test_a_basis_theory_webhook_named_with_nul_is_refused_and_makes_no_subscription(
    bt: httpx.Client, control: httpx.Client
) -> None:
    before = control.get("/subscriptions").json()["data"]
    url = "http://127.0.0.1:9/nul-webhook"
    answer = bt.post("/webhooks", json={"name": NUL, "url": url, "events": ["token.created"]})
    bt_problem(answer, 400, "name")
    assert control.get("/subscriptions").json()["data"] == before


@pytest.mark.parametrize(
    "method,path,body,status,field",
    [
        ("GET", "/v1/credentials/%00", None, 404, "path"),
        ("POST", "/v1/users", {"name": NUL}, 400, "name"),
        ("POST", "/v1/users", {"name": "Ana", "id_external": NUL}, 400, "id_external"),
    ],
)
def test_syncfy_refuses_a_nul_naming_where_in_its_envelope(
    syncfy: httpx.Client, method: str, path: str, body: dict[str, str] | None, status: int, field: str
) -> None:
    response = syncfy.request(method, path, json=body)
    answer = response.json()
    assert response.status_code == status and list(answer) == ENVELOPE_KEYS and answer["code"] == status, answer
    assert "NUL" in answer["message"] and field in answer["message"], answer


SYNCFY_NUL = """name: twin-nul-syncfy
provider: syncfy
steps:
  - emit: credentials.created
    unchecked: true
    with:
      payload.id_credential: "abc\\0def"
      header.user.id_user: "u\\0"
  - emit: credentials.updated
  - emit: documents.success
    unchecked: true
    with:
      payload.endpoints: ["/v1/transactions?id_job_webhook=j\\0b"]
"""

BASISTHEORY_NUL = """name: twin-nul-basistheory
provider: basistheory
steps:
  - emit: token.created
    unchecked: true
    with:
      data.id: "tok\\0en"
      tenant_id: "t\\0"
  - emit: token.created
"""


def test_events_holding_nul_are_delivered_and_the_twins_keep_answering(
    sim: WebhookSim, syncfy: httpx.Client, bt: httpx.Client, tmp_path: Path
) -> None:
    """On PostgreSQL the Syncfy twin's index refused such an event on every read, each a 500, for good."""
    assert "\\u0000" in json.dumps(played(sim, tmp_path, "syncfy", SYNCFY_NUL)[0])  # delivered as written
    for path in ("/v1/credentials", "/v1/credentials/all", "/v1/users"):
        answer = syncfy.get(path)
        assert answer.status_code == 200, (path, answer.text)
    played(sim, tmp_path, "bt", BASISTHEORY_NUL)
    listed = bt.get("/v2/tokens", params={"size": 100})
    assert listed.status_code == 200, listed.text


def test_syncfy_refuses_a_username_holding_nul(syncfy: httpx.Client) -> None:
    """Its mask is stored as text: on PostgreSQL the registration answered 500."""
    id_user = syncfy.post("/v1/users", json={"name": "Ana"}).json()["response"]["id_user"]
    login = {"id_site": "56cf5728784806f72b8b4568", "credentials": {"username": NUL, "password": "p"}}
    refused = syncfy.post("/v1/credentials", params={"id_user": id_user}, json=login)
    answer = refused.json()
    assert refused.status_code == 400 and answer["code"] == 400, answer
    assert "NUL" in answer["message"] and "credentials.username" in answer["message"], answer
