"""`id_user` with an API key is a user's id, text: any other JSON value is Syncfy's 400 naming it on every route,
as the id filters are. Read as its Python text, a list holding a user's id scoped the request to a user of that
name: an empty list answered, as for a user with no data. So are the account and site filters (`id_account`,
`id_site…`), which the official SDK sends in the same JSON body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.twins.syncfy_harness import envelope

ROUTES = ["/v1/credentials", "/v1/accounts", "/v1/transactions", "/v1/transactions/count", "/v1/documents"]
GET = {"X-Http-Method-Override": "GET"}  # the official SDK's way: parameters in a JSON body


@pytest.fixture(scope="module")
def id_user(syncfy: httpx.Client) -> str:
    """A user with a credential, whose data the routes list."""
    made = str(envelope(syncfy.post("/v1/users", json={"name": "Ana"}))["id_user"])
    login = {"id_site": "56cf5728784806f72b8b4568", "credentials": {"username": "ana", "password": "x"}}
    envelope(syncfy.post("/v1/credentials", json=login, params={"id_user": made}))
    return made


@pytest.mark.parametrize("route", ROUTES)
def test_an_id_user_that_is_not_text_is_refused_naming_it(syncfy: httpx.Client, id_user: str, route: str) -> None:
    wrong: list[Any] = [[id_user], {"id": id_user}, 5, True]
    for value in wrong:
        answer = syncfy.post(route, json={"id_user": value}, headers=GET)
        envelope(answer, 400)
        assert "id_user" in answer.json()["message"], (value, answer.json())
    assert envelope(syncfy.post(route, json={"id_user": id_user}, headers=GET)) is not None  # as text: answered


FILTERS = [
    ("/v1/accounts", "id_account"),
    ("/v1/transactions", "id_account"),
    ("/v1/transactions/count", "id_account"),
    ("/v1/transactions/count", "id_site"),
    ("/v1/credentials", "id_site_organization"),
    ("/v1/accounts", "id_site_organization_type"),
]


@pytest.mark.parametrize("route,field", FILTERS)
def test_an_account_or_site_filter_that_is_not_text_is_refused_naming_it(
    syncfy: httpx.Client, id_user: str, route: str, field: str
) -> None:
    """An empty list or object filtered nothing (every row counted); a number, a list or a NUL matched nothing."""
    for value in [[], {}, 5, ["x"], "\u0000"]:
        answer = syncfy.post(route, json={"id_user": id_user, field: value}, headers=GET)
        envelope(answer, 400)
        assert field in answer.json()["message"], (value, answer.json())
    assert envelope(syncfy.post(route, json={"id_user": id_user, field: ""}, headers=GET)) is not None
