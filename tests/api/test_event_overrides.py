"""POST /events checks each override against the event's JSON Schema: 422 naming the path, nothing sent."""

from __future__ import annotations

import httpx

from tests.api.harness import problem


def test_emit_refuses_a_misspelt_path_naming_it(refusing_api: httpx.Client) -> None:
    response = refusing_api.post("/events", json={"type": "credentials.updated", "overrides": {"payload.is_exec": 0}})
    body = problem(response, 422, "overrides.payload.is_exec")
    assert "did you mean payload.is_executing?" in body["errors"][0]["message"]


def test_emit_refuses_a_value_of_the_wrong_type_naming_its_path(refusing_api: httpx.Client) -> None:
    response = refusing_api.post(
        "/events", json={"type": "token.created", "overrides": {"data.token.metadata.plan": 3, "data.token.id": "x"}}
    )
    problem(response, 422, "overrides.data.token.metadata.plan")
    problem(response, 422, "overrides.data.token.id")
