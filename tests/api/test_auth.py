"""Bearer-token auth, checked on every route of the route table: none, wrong and right credentials."""

from __future__ import annotations

import httpx
import pytest

from simulator.api.app import ENDPOINTS
from simulator.api.endpoints import Endpoint
from tests.api.conftest import TOKEN
from tests.api.harness import ApiServer, concrete, problem


def send(server: ApiServer, ep: Endpoint, headers: dict[str, str]) -> httpx.Response:
    with server.client() as client:
        return client.request(ep.method, concrete(ep.path), headers=headers, json={} if ep.body else None)


ROUTES = pytest.mark.parametrize("ep", ENDPOINTS, ids=[f"{ep.method} {ep.path}" for ep in ENDPOINTS])


@ROUTES
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong", "basic", "bare", "longer", "empty"],
)
def test_bad_credentials_are_refused(secured_server: ApiServer, ep: Endpoint, headers: dict[str, str]) -> None:
    response = send(secured_server, ep, headers)
    if ep.public:
        assert response.status_code == 200
        return
    problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@ROUTES
def test_the_token_opens_every_route(secured_server: ApiServer, ep: Endpoint) -> None:
    response = send(secured_server, ep, {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code not in (401, 403) and response.status_code < 500, response.text
    lower = send(secured_server, ep, {"authorization": f"bearer {TOKEN}"})
    assert lower.status_code == response.status_code


def test_unknown_routes_need_the_token_too(secured_server: ApiServer) -> None:
    with secured_server.client() as anonymous, secured_server.client(TOKEN) as client:
        problem(anonymous.get("/nowhere"), 401)
        problem(client.get("/nowhere"), 404)


def test_the_document_declares_the_scheme(secured_server: ApiServer) -> None:
    with secured_server.client(TOKEN) as client:
        doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert "401" in doc["paths"]["/runs"]["post"]["responses"]
    assert "401" not in doc["paths"]["/keys/webhooks.pem"]["get"]["responses"]
