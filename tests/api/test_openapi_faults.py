"""`faults` over HTTP: the served document describes every fault's forms, wherever a `faults` field is, and the
server answers faults exactly as they were written and refuses bad ones naming the fault."""

from __future__ import annotations

import json
from typing import Any

import httpx

from simulator.models import answers as schemas
from simulator.models.faults import FAULTS
from tests.api.harness import ok, problem

BODIES = [("/subscriptions", "post"), ("/subscriptions/{id}", "patch"), ("/runs", "post"), ("/schedules", "post")]
ANSWERS = ["Subscription", "Run", "ScheduledRun"]
URL = "http://127.0.0.1:9/hook"
WRITTEN = {
    "bad_signature": 1,
    "delay": {"uniform": ["1s", 2]},
    "duplicate": {"probability": 0.5, "spacing": "500ms"},
    "reorder": 3,
}


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].removeprefix("#/components/schemas/")]
    return node


def faults_of(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of the `faults` property of `schema`, references followed."""
    faults = resolve(doc, resolve(doc, schema)["properties"]["faults"])
    assert "properties" in faults, f"faults is not described: {faults}"
    return faults


def forms(doc: dict[str, Any], fault: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """A fault's short forms, and its long forms by their keys (`"probability,copies,spacing"`)."""
    options = [resolve(doc, option) for option in fault["oneOf"]]
    long = {",".join(o["properties"]): o for o in options if o.get("type") == "object"}
    return [o for o in options if o.get("type") != "object"], long


def served(api: httpx.Client) -> dict[str, Any]:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_faults_field_lists_the_nine_faults(api: httpx.Client) -> None:
    doc = served(api)
    found = [
        faults_of(doc, doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"])
        for path, method in BODIES
    ] + [faults_of(doc, doc["components"]["schemas"][name]) for name in ANSWERS]
    for faults in found:
        assert list(faults["properties"]) == list(FAULTS)
        assert faults["additionalProperties"] is False
        assert all("oneOf" in prop and prop.get("description") for prop in faults["properties"].values())


def test_each_fault_shows_its_short_and_long_forms(api: httpx.Client) -> None:
    doc = served(api)
    faults = faults_of(doc, doc["components"]["schemas"]["SubscriptionSpec"])["properties"]
    short, long = forms(doc, faults["duplicate"])
    assert short == [{"type": "number", "minimum": 0, "maximum": 1}]
    [duplicate] = long.values()
    assert list(duplicate["properties"]) == ["probability", "copies", "spacing"]
    assert duplicate["required"] == ["probability"] and duplicate["additionalProperties"] is False
    assert (duplicate["properties"]["copies"]["minimum"], duplicate["properties"]["copies"]["maximum"]) == (1, 10)
    for name, keys in {
        "drop": "probability",
        "bad_signature": "probability",
        "reorder": "window",
        "burst": "size",
        "stale_timestamp": "probability,age",
        "malformed": "probability,kind",
        "schema_drift": "probability,kind",
    }.items():
        assert list(forms(doc, faults[name])[1]) == [keys], name
    kinds = forms(doc, faults["malformed"])[1]["probability,kind"]["properties"]["kind"]["enum"]
    assert kinds == ["truncated", "content_type", "empty", "any"]
    assert forms(doc, faults["reorder"])[0] == [{"type": "integer", "minimum": 2, "maximum": 1000}]


def test_delay_shows_a_duration_and_each_distribution(api: httpx.Client) -> None:
    doc = served(api)
    delay = faults_of(doc, doc["components"]["schemas"]["RunSpec"])["properties"]["delay"]
    [duration], distributions = forms(doc, delay)
    assert [o["type"] for o in duration["anyOf"]] == ["number", "string"]
    assert list(distributions) == ["fixed", "uniform", "exponential", "lognormal"]
    uniform = distributions["uniform"]["properties"]["uniform"]
    assert (uniform["type"], uniform["minItems"], uniform["maxItems"]) == ("array", 2, 2)
    exponential = resolve(doc, distributions["exponential"]["properties"]["exponential"])
    lognormal = resolve(doc, distributions["lognormal"]["properties"]["lognormal"])
    assert (list(exponential["properties"]), exponential["required"]) == (["mean", "max"], ["mean"])
    assert (list(lognormal["properties"]), lognormal["required"]) == (["median", "sigma", "max"], ["median", "sigma"])


def as_written(faults: Any) -> str:
    # Text, not values: `1 == 1.0` in Python, but an answer that turned `1` into `1.0` is not as written.
    return json.dumps(faults)


def test_faults_are_stored_and_answered_as_written(api: httpx.Client) -> None:
    sub = ok(api.post("/subscriptions", json={"url": URL, "faults": WRITTEN}), schemas.Subscription, 201)
    assert as_written(sub["faults"]) == as_written(WRITTEN)
    got = ok(api.get(f"/subscriptions/{sub['id']}"), schemas.Subscription)
    assert as_written(got["faults"]) == as_written(WRITTEN)
    patched = ok(api.patch(f"/subscriptions/{sub['id']}", json={"faults": {"drop": 0}}), schemas.Subscription)
    assert as_written(patched["faults"]) == as_written({"drop": 0})
    run = ok(api.post("/runs", json={"scenario": "api-one-event", "speed": 0, "faults": WRITTEN}), schemas.Run, 202)
    assert as_written(run["faults"]) == as_written(WRITTEN)
    schedule = ok(
        api.post("/schedules", json={"scenario": "api-one-event", "cron": "0 0 * * *", "faults": WRITTEN}),
        schemas.Schedule,
        201,
    )
    assert as_written(schedule["run"]["faults"]) == as_written(WRITTEN)


def test_bad_faults_are_refused_naming_the_fault(refusing_api: httpx.Client) -> None:
    bad = {"duplicate": {"probability": 0.5, "copys": 2}, "drop": None}
    expected = [
        {
            "field": "faults.duplicate.copys",
            "message": "unknown key 'copys' (did you mean copies?): expected probability, copies, spacing",
        },
        {"field": "faults.drop", "message": "expected a probability between 0 and 1, got null"},
    ]
    for method, path, body in [
        ("POST", "/subscriptions", {"url": URL, "faults": bad}),
        ("PATCH", "/subscriptions/sub_nope", {"faults": bad}),
        ("POST", "/runs", {"scenario": "api-one-event", "faults": bad}),
        ("POST", "/schedules", {"scenario": "api-one-event", "cron": "0 0 * * *", "faults": bad}),
    ]:
        refused = problem(refusing_api.request(method, path, json=body), 422, "faults.duplicate.copys")
        assert refused["errors"] == expected, (method, path)
