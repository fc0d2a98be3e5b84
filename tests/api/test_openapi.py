"""The OpenAPI document: what the server serves, valid OpenAPI 3.1, complete, built from the handlers' models."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from jsonschema import Draft202012Validator

from simulator.api.app import ENDPOINTS
from simulator.api.openapi import document
from simulator.models.inputs import EventSpec, RunSpec, ScheduleSpec, SubscriptionPatch, SubscriptionSpec


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_the_server_serves_the_generated_document(api: httpx.Client, scenario_dir) -> None:
    from simulator.scenarios import loader

    response = api.get("/openapi.json")
    assert response.status_code == 200
    scenarios = loader.discover([scenario_dir])[0]
    assert response.json() == json.loads(json.dumps(document(ENDPOINTS, secured=False, scenarios=scenarios)))


@pytest.mark.parametrize("secured", [False, True])
def test_the_document_is_valid_openapi_3_1(secured: bool) -> None:
    doc = document(ENDPOINTS, secured=secured)
    assert doc["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(doc).validate()  # the OpenAPI 3.1 meta-schema
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    names = set(doc["components"]["schemas"])
    assert {r.removeprefix("#/components/schemas/") for r in refs(doc)} <= names


def test_every_route_is_documented_once() -> None:
    doc = document(ENDPOINTS, secured=False)
    operations = [(path, method) for path, item in doc["paths"].items() for method in item]
    assert sorted(operations) == sorted((ep.path, ep.method.lower()) for ep in ENDPOINTS)
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("path", "method", "model"),
    [
        ("/subscriptions", "post", SubscriptionSpec),
        ("/subscriptions/{id}", "patch", SubscriptionPatch),
        ("/runs", "post", RunSpec),
        ("/events", "post", EventSpec),
        ("/schedules", "post", ScheduleSpec),
    ],
)
def test_request_bodies_are_the_handlers_models(path: str, method: str, model: type) -> None:
    doc = document(ENDPOINTS, secured=False)
    body = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{model.__name__}"}
    assert set(doc["components"]["schemas"][model.__name__]["properties"]) == set(model.model_fields)
    for status in ("400", "413", "415", "422"):
        problem = doc["paths"][path][method]["responses"][status]["content"]
        assert problem == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def test_query_and_path_parameters() -> None:
    doc = document(ENDPOINTS, secured=False)
    params = {p["name"]: p for p in doc["paths"]["/deliveries"]["get"]["parameters"]}
    assert set(params) == {"limit", "cursor", "run", "subscription", "status", "type", "q", "order", "since", "until"}
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 500)
    assert all(p["in"] == "query" and not p["required"] for p in params.values())
    [item_id] = doc["paths"]["/deliveries/{id}"]["get"]["parameters"]
    assert (item_id["name"], item_id["in"], item_id["required"]) == ("id", "path", True)
    assert "404" in doc["paths"]["/deliveries/{id}"]["get"]["responses"]
    assert "204" in doc["paths"]["/subscriptions/{id}"]["delete"]["responses"]
