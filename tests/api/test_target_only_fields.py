"""`signing`, `secret` and `max_in_flight` say how a run's or an event's `target` is signed and sent to: without a
target they were taken and dropped (`signing: none` delivered signed bodies). And a run told `subscriptions: []`
is recorded as that, not as null, which means every matching subscription."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from simulator.core.schedules import Schedules
from simulator.models import answers as schemas
from tests.api.harness import ApiServer, ok, problem

TARGET = "http://127.0.0.1:9/hook"
GIVEN = {"signing": "standard", "secret": "whsec_" + "A" * 32, "max_in_flight": 7}
BODIES: dict[str, dict[str, Any]] = {
    "/runs": {"scenario": "api-one-event", "speed": 0},
    "/schedules": {"scenario": "api-one-event", "speed": 0, "interval": 3600},
    "/events": {"type": "basistheory:token.created"},
}


def _subscription(api: httpx.Client) -> str:
    made = ok(api.post("/subscriptions", json={"url": TARGET}), schemas.Subscription, 201)
    return str(made["id"])


CASES = [
    (path, field) for path in sorted(BODIES) for field in sorted(GIVEN) if (path, field) != ("/events", "max_in_flight")
]


@pytest.mark.parametrize(("path", "field"), CASES)
@pytest.mark.parametrize("named", [True, False], ids=["with-subscriptions", "with-neither"])
def test_a_field_that_goes_with_a_target_is_refused_without_one(
    api: httpx.Client, path: str, field: str, named: bool
) -> None:
    body = {**BODIES[path], field: GIVEN[field]}
    if named:
        body["subscriptions"] = [_subscription(api)]
    answer = problem(api.post(path, json=body), 422, field)
    assert "applies only with target" in answer["detail"], answer


def test_with_a_target_they_are_taken(api: httpx.Client) -> None:
    ok(api.post("/events", json={**BODIES["/events"], "target": TARGET, "signing": "none"}), schemas.EmittedEvent, 202)
    made = ok(api.post("/schedules", json={**BODIES["/schedules"], "target": TARGET, **GIVEN}), schemas.Schedule, 201)
    ok(api.delete(f"/schedules/{made['id']}"), None, 204)


def test_a_run_to_no_subscription_is_recorded_as_one(api: httpx.Client) -> None:
    run = ok(api.post("/runs", json={**BODIES["/runs"], "subscriptions": []}), schemas.Run, 202)
    assert run["subscriptions"] == []
    assert api.get(f"/runs/{run['id']}").json()["subscriptions"] == []
    everywhere = ok(api.post("/runs", json=BODIES["/runs"]), schemas.Run, 202)
    assert everywhere["subscriptions"] is None


def test_a_schedule_stored_with_them_and_no_target_still_fires(server: ApiServer, api: httpx.Client) -> None:
    """Stored before they were refused, such a schedule's run still starts: they never did anything there."""
    sub = _subscription(api)
    made = ok(api.post("/schedules", json={**BODIES["/schedules"], "subscriptions": [sub]}), schemas.Schedule, 201)
    schedules: Schedules = server.app.state.api.schedules

    async def store_them() -> None:
        stored = await schedules.runs.get(made["id"])
        assert stored is not None
        await schedules.runs.put(made["id"], stored.trigger, {**stored.run, "signing": "none", "max_in_flight": 5})

    asyncio.run_coroutine_threadsafe(store_them(), schedules.loop).result(timeout=10)
    before = {r["id"] for r in api.get("/runs").json()["data"]}
    schedules.fire(made["id"])  # as its trigger would, waiting until the run has started
    started = [r for r in api.get("/runs").json()["data"] if r["id"] not in before]
    assert len(started) == 1 and started[0]["subscriptions"] == [sub], started
    ok(api.delete(f"/schedules/{made['id']}"), None, 204)


SYNCFY_SECRET = "c3luY2Z5LXNlY3JldC1mb3ItdGVzdHM="  # base64: the form a Syncfy secret takes
NATIVE = {  # a body for each provider: (Basis Theory, Syncfy)
    "/runs": ({"scenario": "api-slow", "speed": 0}, {"scenario": "api-one-event", "speed": 0}),
    "/schedules": (
        {"scenario": "api-slow", "speed": 0, "interval": 3600},
        {"scenario": "api-one-event", "speed": 0, "interval": 3600},
    ),
    "/events": ({"type": "basistheory:token.created"}, {"type": "syncfy:credentials.created"}),
}


@pytest.mark.parametrize("path", sorted(NATIVE))
def test_a_secret_that_basis_theorys_own_signing_would_never_use_is_refused(api: httpx.Client, path: str) -> None:
    """Without `signing`, a target's deliveries are signed with their provider's own scheme: Syncfy's takes the
    secret, Basis Theory's (its RSA key) none. A Basis Theory run given one was taken, and the secret shown back,
    while nothing it could verify was signed with it."""
    basistheory, syncfy = NATIVE[path]
    given = {"target": TARGET, "secret": SYNCFY_SECRET}
    refused = problem(api.post(path, json={**basistheory, **given}), 422, "secret")
    assert "takes no secret" in refused["detail"] and "signing" in refused["detail"], refused
    assert api.post(path, json={**syncfy, **given}).status_code in (201, 202)
    standard = {"target": TARGET, "signing": "standard", "secret": "whsec_" + "A" * 32}
    assert api.post(path, json={**basistheory, **standard}).status_code in (201, 202)  # a scheme that takes one
    # The served document says so too: a client generating requests from it never has the first one refused.
    allows = _document(api, path)
    assert not allows({**basistheory, **given})
    assert allows({**syncfy, **given}) and allows({**basistheory, **standard}) and allows(basistheory)


def _document(api: httpx.Client, path: str) -> Callable[[dict[str, Any]], bool]:
    """Whether the served OpenAPI document allows a body for `POST path`."""
    doc = api.get("/openapi.json").json()
    schema = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": doc["components"]}).is_valid
