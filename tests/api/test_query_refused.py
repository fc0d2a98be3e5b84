"""A query parameter a route does not take is a 422 naming it, on every route, as the list routes always did:
ignored, `PATCH /subscriptions/{id}?enabled=false` answered 200 and left the subscription enabled."""

from __future__ import annotations

import httpx
import pytest

from simulator.models import answers as schemas
from tests.api.harness import ok, problem


@pytest.fixture
def sub(api: httpx.Client) -> str:
    made = ok(api.post("/subscriptions", json={"url": "http://127.0.0.1:9/hook"}), schemas.Subscription, 201)
    return str(made["id"])


def test_a_patch_given_its_change_as_a_query_changes_nothing_and_says_so(api: httpx.Client, sub: str) -> None:
    body = problem(api.patch(f"/subscriptions/{sub}?enabled=false", json={}), 422, "enabled")
    assert "takes no query parameters" in body["detail"], body
    assert api.get(f"/subscriptions/{sub}").json()["enabled"] is True


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/subscriptions/{sub}?bogus=1", "bogus"),
        ("GET", "/scenarios/syncfy-two-factor?seed=5&speed=10", "seed"),
        ("GET", "/events/basistheory:token.created/schema?x=1", "x"),
        ("POST", "/subscriptions/{sub}/enable?force=1", "force"),
        ("GET", "/health?verbose", "verbose"),
        ("GET", "/openapi.json?v=2", "v"),
    ],
)
def test_every_route_that_takes_no_query_refuses_one(
    api: httpx.Client, sub: str, method: str, path: str, name: str
) -> None:
    problem(api.request(method, path.format(sub=sub)), 422, name)


def test_the_same_routes_answer_without_one(api: httpx.Client, sub: str) -> None:
    ok(api.get(f"/subscriptions/{sub}"), schemas.Subscription)
    assert api.get("/scenarios/syncfy-two-factor").status_code == 200
    assert api.get("/health").status_code == 200
