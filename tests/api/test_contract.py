"""The control API's contract: what the OpenAPI document states is what the server enforces.

The syntax of text fields (`simulator.models.formats`) is checked here against the server's own checks with
strings drawn from each pattern; the catalog-decided parts (filters, event types) against the catalog; PATCH with
nothing to change, and the conflicts a well-formed request can meet (409). `test_schemathesis.py` runs the whole
document against a served simulator."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

from simulator import catalog, signing
from simulator.api import openapi_durations
from simulator.api.app import ENDPOINTS
from simulator.api.openapi import document
from simulator.api.openapi_catalog import count_maximum, filter_spellings
from simulator.core.schedules import crontab
from simulator.core.validation import check_object_id_time, check_syncfy_times
from simulator.models import answers as schemas
from simulator.models import formats
from simulator.models.inputs import Moment, ScheduleSpec, check_headers, check_url
from simulator.scenarios import loader
from simulator.timeutil import parse_duration
from tests.api.harness import eventually, ok, problem

DRAWS = settings(max_examples=300, suppress_health_check=list(HealthCheck), deadline=None, database=None)
URL = "http://127.0.0.1:9/"
SYNCFY_CHAOS = loader.find("syncfy-chaos")


def matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


# --- each pattern is what the server checks ---------------------------------------------------------------


@DRAWS
@given(st.from_regex(formats.URL, fullmatch=True))
def test_every_url_the_pattern_allows_is_one_the_sender_can_use(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["HTTP://a", "ftp://a", "http://", "http://a:0", "http://a:65536", "http://a:08080", "http://a b", "http://é",
     "http://[::1", "http://[1:2:3:4:5:6:7:8:9]", "http://a/%zz", "http://a/\x00"],
)  # fmt: skip
def test_urls_the_pattern_refuses(url: str) -> None:
    assert not matches(formats.URL, url)


@DRAWS
@given(st.from_regex(formats.DATE_TIME, fullmatch=True))
def test_every_time_the_pattern_allows_is_a_time_in_range(text: str) -> None:
    moment = TypeAdapter(Moment).validate_python(text)
    assert moment.tzinfo is not None and formats.FIRST_YEAR <= moment.year <= formats.LAST_YEAR


@DRAWS
@given(st.from_regex(formats.SYNCFY_DATE_TIME, fullmatch=True))
def test_every_start_the_syncfy_pattern_allows_is_one_its_ids_hold(text: str) -> None:
    moment = TypeAdapter(Moment).validate_python(text)
    check_object_id_time(moment)  # raises InvalidInput for an instant a MongoDB ObjectId cannot hold


def test_syncfy_scenarios_state_the_start_times_their_ids_hold(scenario_dir: Path) -> None:
    doc = document(ENDPOINTS, secured=False, scenarios=loader.discover([scenario_dir])[0])
    [_secret, _target, _targeted, scenarios] = doc["components"]["schemas"]["RunSpec"]["allOf"]
    starts = {
        name: b["properties"].get("start_time")
        for b in scenarios["oneOf"][:-1]
        for name in b["properties"]["scenario"]["enum"]
    }
    assert starts["syncfy-chaos"] == {"type": ["string", "null"], "pattern": formats.SYNCFY_DATE_TIME}
    assert starts["basistheory-chaos"] is None  # its ids hold any time the run's own bounds allow
    for written in ("1970-01-01T05:00:00+06:00", "2106-02-07T06:28:16Z", "2150-01-01T00:00:00Z"):  # refused
        assert not matches(formats.SYNCFY_DATE_TIME, written)


@DRAWS
@given(st.from_regex(formats.SYNCFY_UNSEEDED_DATE_TIME, fullmatch=True))
def test_every_start_a_syncfy_schedule_takes_without_a_seed_is_one_the_server_takes(text: str) -> None:
    spec = ScheduleSpec.model_validate({"scenario": "syncfy-chaos", "interval": 60, "start_time": text})
    asyncio.run(check_syncfy_times(spec, SYNCFY_CHAOS, {}))  # raises InvalidInput where it asks for a seed


def test_a_syncfy_schedule_in_the_last_years_its_ids_hold_needs_a_seed_as_the_document_says(
    scenario_dir: Path,
) -> None:
    doc = document(ENDPOINTS, secured=False, scenarios=loader.discover([scenario_dir])[0])
    schedule = Draft202012Validator({**doc, "$ref": "#/components/schemas/ScheduleSpec"})
    late = {"scenario": "syncfy-chaos", "interval": 60, "start_time": "2100-01-31T00:03:03Z"}
    assert not schedule.is_valid(late) and not schedule.is_valid({**late, "seed": None})
    assert schedule.is_valid({**late, "seed": 1})
    assert schedule.is_valid({**late, "start_time": "2095-12-31T23:59:59-23:59"})
    assert schedule.is_valid({**late, "scenario": "basistheory-chaos"})  # its ids hold any time
    run = Draft202012Validator({**doc, "$ref": "#/components/schemas/RunSpec"})
    assert run.is_valid({"scenario": "syncfy-chaos", "start_time": "2100-01-31T00:03:03Z"})  # its seed is drawn first


@DRAWS
@given(st.from_regex(formats.CRON, fullmatch=True))
def test_a_crontab_expression_fires_unless_the_never_pattern_says_it_cannot(expression: str) -> None:
    fires = crontab(expression).get_next_fire_time(None, datetime.now(UTC)) is not None
    assert fires != matches(formats.CRON_NEVER, expression), expression


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 30 2 1",
        "0 0 31 2 1-5",
        "0 0 30 2 mon",
        "0 0 31 6 sun",
        "0 0 31 2 0-7",
        "0 0 31 2,4 1",
        "0 0 30-31 feb fri",
        "0 0 31 apr sun",
        "0 0 30 2 */1",
        "0 0 31 4 *",
        "0 0 30,31 2 *",
    ],
)
def test_a_day_no_month_has_never_fires_only_where_the_weekday_is_unrestricted(expression: str) -> None:
    """Cron fires on either day when both are restricted: the document forbade `0 0 30 2 1`, which the server
    takes (every Monday of February)."""
    fires = crontab(expression).get_next_fire_time(None, datetime.now(UTC)) is not None
    assert fires == (not expression.split()[4].startswith("*")), expression
    assert fires != matches(formats.CRON_NEVER, expression), expression


@DRAWS
@given(st.from_regex(formats.SYNCFY_SECRET, fullmatch=True), st.from_regex(formats.STANDARD_SECRET, fullmatch=True))
def test_secrets_of_the_patterns_are_secrets_of_their_schemes(syncfy: str, standard: str) -> None:
    signing.validate_secret("syncfy", syncfy)
    signing.validate_secret("standard", standard)


@DRAWS
@given(
    st.dictionaries(
        st.from_regex(formats.HEADER_NAME, fullmatch=True).filter(lambda n: not matches(formats.FRAMING_HEADER, n)),
        st.from_regex(formats.HEADER_VALUE, fullmatch=True),
        max_size=formats.MAX_HEADERS,
    )
)
def test_headers_of_the_patterns_are_headers_the_sender_sends(headers: dict[str, str]) -> None:
    assert check_headers(headers) == headers


def test_every_filter_the_document_lists_selects_some_event_type() -> None:
    for spelling in filter_spellings():
        catalog.validate_filter(spelling)


# --- the document reaches every operation ------------------------------------------------------------------


def test_links_lead_to_every_operation_that_needs_an_id() -> None:
    doc = document(ENDPOINTS, secured=True, scenarios=loader.discover([])[0])
    linked = {
        link["operationId"]
        for item in doc["paths"].values()
        for op in item.values()
        for answer in op["responses"].values()
        for link in answer.get("links", {}).values()
    }
    needing = {ep.operation_id for ep in ENDPOINTS if "{" in ep.path}
    assert needing <= linked, needing - linked


def test_run_bodies_state_each_scenarios_parameters(scenario_dir: Path) -> None:
    found = loader.discover([scenario_dir])[0]
    doc = document(ENDPOINTS, secured=False, scenarios=found)
    [_secret, _target, _targeted, scenarios] = doc["components"]["schemas"]["RunSpec"]["allOf"]
    by_name = {
        name: b["properties"]["params"] for b in scenarios["oneOf"][:-1] for name in b["properties"]["scenario"]["enum"]
    }
    assert by_name["api-slow"] == {
        "type": "object",
        "additionalProperties": False,
        "properties": {"plan": {"type": "string"}},
    }
    assert by_name["syncfy-two-factor"]["properties"]["refreshes"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": count_maximum(found["syncfy-two-factor"], "refreshes"),
    }
    assert by_name["basistheory-http-requests"]["properties"]["duration"]["pattern"]  # a positive duration


def test_a_counts_stated_maximum_is_accepted_and_one_more_refused(refusing_api: httpx.Client) -> None:
    """A repeat count past the stated maximum makes a timeline that can pass the year 9999 (or too many silent
    steps), which the server refuses; the document says where that starts, so that a client generating requests
    from it does not send what it calls valid and get a 422."""
    doc = refusing_api.get("/openapi.json").json()
    [_secret, _target, _targeted, scenarios] = doc["components"]["schemas"]["RunSpec"]["allOf"]
    counts = {
        (name, param): schema["maximum"]
        for branch in scenarios["oneOf"][:-1]
        for name in branch["properties"]["scenario"]["enum"]
        for param, schema in branch["properties"]["params"]["properties"].items()
        if "maximum" in schema
    }
    assert ("syncfy-chaos", "refreshes") in counts and len(counts) >= 10
    far = "2090-01-01T00:00:00Z"  # a schedule is checked as a run is (a Syncfy one-off to 2095 without a seed)
    for (name, param), top in counts.items():
        body = {"scenario": name, "at": far, "target": URL}
        made = ok(refusing_api.post("/schedules", json={**body, "params": {param: top}}), schemas.Schedule, 201)
        refusing_api.delete(f"/schedules/{made['id']}")
        refused = refusing_api.post("/schedules", json={**body, "params": {param: top + 1}})
        assert refused.status_code == 422, (name, param, top)
        assert refused.json()["errors"][0]["field"].startswith("steps["), refused.text  # the repeat it makes too long


def _durations(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(scenario, parameter): the pattern of each duration parameter the document bounds."""
    scenarios = doc["components"]["schemas"]["ScheduleSpec"]["allOf"][-1]
    return {
        (name, param): schema["pattern"]
        for branch in scenarios["oneOf"][:-1]
        for name in branch["properties"]["scenario"]["enum"]
        for param, schema in branch["properties"]["params"]["properties"].items()
        if "At most" in schema.get("description", "")
    }


@settings(max_examples=60, suppress_health_check=list(HealthCheck), deadline=None, database=None)
@given(data=st.data())
def test_every_duration_a_bounded_pattern_allows_is_taken_and_one_past_the_bound_refused(
    refusing_api: httpx.Client, data: st.DataObject
) -> None:
    """A duration parameter too long makes a timeline that can pass the year 9999, which the server refuses: the
    document states the bound, so a client generating requests from it never sends what it calls valid and gets a
    422. Drawn from the served document's pattern, each is taken; a millisecond past the bound is refused."""
    durations = _durations(refusing_api.get("/openapi.json").json())
    assert ("basistheory-http-requests", "duration") in durations
    (name, param), written = data.draw(
        st.sampled_from(sorted(durations.items())).flatmap(
            lambda item: st.tuples(st.just(item[0]), st.from_regex(item[1], fullmatch=True))
        )
    )
    body = {"scenario": name, "at": "2090-01-01T00:00:00Z", "target": URL}
    made = ok(refusing_api.post("/schedules", json={**body, "params": {param: written}}), schemas.Schedule, 201)
    refusing_api.delete(f"/schedules/{made['id']}")
    most = openapi_durations.maximum_ms(loader.find(name), param)
    assert most is not None and parse_duration(written) * 1000 <= most
    refused = refusing_api.post("/schedules", json={**body, "params": {param: f"{most + 1}ms"}})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"].startswith("steps["), refused.text


# --- PATCH with nothing to change (item 3) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "headers"),
    [(b"", {}), (b"", {"content-type": "application/json"}), (b"{}", {"content-type": "application/json"})],
    ids=["no-body", "empty-json", "empty-object"],
)
def test_a_patch_with_nothing_to_change_changes_nothing(api: httpx.Client, content: bytes, headers: dict) -> None:
    sub = ok(api.post("/subscriptions", json={"url": URL, "retry": {"delays": [1]}}), schemas.Subscription, 201)
    before = ok(api.get(f"/subscriptions/{sub['id']}"), schemas.Subscription)
    after = ok(api.patch(f"/subscriptions/{sub['id']}", content=content, headers=headers), schemas.Subscription)
    assert after == before == ok(api.get(f"/subscriptions/{sub['id']}"), schemas.Subscription)


def test_the_document_says_a_patch_body_is_optional() -> None:
    doc = document(ENDPOINTS, secured=False)
    assert doc["paths"]["/subscriptions/{id}"]["patch"]["requestBody"]["required"] is False
    assert doc["paths"]["/subscriptions"]["post"]["requestBody"]["required"] is True


# --- a well-formed request against a record's state: 409 ---------------------------------------------------

STANDARD = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


def test_a_secret_that_does_not_fit_the_stored_scheme_is_a_conflict(api: httpx.Client) -> None:
    sub = ok(api.post("/subscriptions", json={"url": URL, "signing": "standard"}), schemas.Subscription, 201)
    item = f"/subscriptions/{sub['id']}"
    before = api.get(item).json()
    problem(api.patch(item, json={"secret": "QUJD"}), 409, "secret")  # base64, but the scheme wants whsec_
    problem(api.patch(item, json={"signing": "syncfy"}), 409, "secret")  # the stored whsec_ secret is not base64
    assert api.get(item).json() == before
    problem(api.patch(item, json={"signing": "syncfy", "secret": STANDARD}), 422, "secret")  # the body alone
    changed = ok(
        api.patch(item, json={"signing": "syncfy", "secret": "QUJDREVGR0hJSktMTU5PUFFS"}), schemas.Subscription
    )
    assert changed["signing"] == "syncfy" and changed["secret"] == "****UFFS"
    renewed = ok(api.patch(item, json={"signing": "standard", "secret": None}), schemas.Subscription)
    assert renewed["secret"].startswith("whsec_") and "*" not in renewed["secret"]  # made here: shown this once
    assert api.get(item).json()["secret"].startswith("whsec_****")


def test_redelivering_a_delivery_waiting_for_its_retry_sends_it_now(api: httpx.Client) -> None:
    ok(api.post("/subscriptions", json={"url": URL, "retry": {"delays": [3600]}}), schemas.Subscription, 201)
    emitted = ok(api.post("/events", json={"type": "token.created"}), schemas.EmittedEvent, 202)
    [delivery] = emitted["deliveries"]
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["attempts"] >= 1, what="a first attempt")
    assert api.get(f"/deliveries/{delivery}").json()["status"] == "failed"  # and retried in an hour
    ok(api.post(f"/deliveries/{delivery}/redeliver"), schemas.DeliveryDetail, 202)
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["attempts"] >= 2, what="the attempt made now")


def test_a_one_off_schedule_already_past_fires_at_once(api: httpx.Client) -> None:
    at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    made = ok(api.post("/schedules", json={"scenario": "api-one-event", "at": at, "speed": 0}), schemas.Schedule, 201)
    assert made["trigger"]["at"].startswith(at[:10])
    eventually(lambda: api.get("/runs").json()["data"], what="the run it starts")


def test_typed_parameters_over_the_api(api: httpx.Client) -> None:
    """JSON has types: a count is a number, not text (the command line's `--param n=3` is converted)."""
    body: dict[str, Any] = {"scenario": "syncfy-two-factor", "target": URL, "speed": 0}
    problem(api.post("/runs", json={**body, "params": {"refreshes": "3"}}), 422, "params.refreshes")
    problem(api.post("/runs", json={**body, "params": {"refreshes": True}}), 422, "params.refreshes")
    problem(api.post("/runs", json={**body, "params": {"refreshes": -1}}), 422, "steps[7].repeat")
    ok(api.post("/runs", json={**body, "params": {"refreshes": 2.0}}), schemas.Run, 202)  # 2.0 is JSON's 2


def test_a_parameter_of_a_few_words_is_stated_as_them_and_held_to_them(api: httpx.Client) -> None:
    """Syncfy's `environment` takes `sandbox` or `production`, in either case: the document said any text, so a
    client generating valid requests from it (schemathesis' stateful phase) sent `""` and got a 422. Checked on
    schedules, which are checked as runs are, at a time none of them fires."""
    doc = api.get("/openapi.json").json()
    [_secret, _target, _targeted, scenarios] = doc["components"]["schemas"]["RunSpec"]["allOf"]
    branch = next(b for b in scenarios["oneOf"] if "syncfy-chaos" in b["properties"]["scenario"].get("enum", []))
    stated = branch["properties"]["params"]["properties"]
    body: dict[str, Any] = {"scenario": "syncfy-chaos", "target": URL, "at": "2090-01-01T00:00:00Z"}
    valid = {"environment": ("sandbox", "Production", "SANDBOX"), "institution": ("any", "Bank", "FISCAL")}
    # The Kelvin sign and the long s lower to ASCII letters (`str.lower`), which the patterns cannot say.
    invalid = {"environment": ("", "prod", "sandbox ", "\u017fandbox"), "institution": ("", "banks", "ban\u212a")}
    for name in valid:
        pattern = re.compile(stated[name]["pattern"])
        for value in valid[name]:
            assert pattern.search(value)
            ok(api.post("/schedules", json={**body, "params": {name: value}}), schemas.Schedule, 201)
        for value in invalid[name]:
            assert not pattern.search(value)
            problem(api.post("/schedules", json={**body, "params": {name: value}}), 422, f"params.{name}")


def test_every_query_text_is_stated_free_of_nul_as_the_server_holds_it(api: httpx.Client) -> None:
    """No id or text the server keeps can hold NUL, and any query value that does is refused (422 naming it): the
    document says so of every query parameter that takes text, so a client generated from it never sends one."""
    doc = document(ENDPOINTS, secured=False)
    checked = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                value = param["schema"]
                if param["in"] != "query" or not Draft202012Validator({**doc, **value}).is_valid("a"):
                    continue  # not text, or no such short text: a NUL is refused before it would matter
                assert not Draft202012Validator({**doc, **value}).is_valid("a\x00"), (path, param["name"])
                if method == "get" and "{" not in path:
                    problem(api.get(path, params={param["name"]: "a\x00"}), 422, param["name"])
                    checked.append((path, param["name"]))
    # (The event types' cursor is one of their keys, no free text.)
    assert {("/deliveries", "q"), ("/scenarios", "cursor")} <= set(checked), checked


def test_every_operation_states_the_422_an_unknown_query_parameter_gets(api: httpx.Client) -> None:
    """Every route refuses a query parameter it does not take, those that take none included (`GET /health?x=1`):
    the document listed the 422 only where a route takes a query or a body."""
    doc = document(ENDPOINTS, secured=False, scenarios=loader.discover([])[0])
    missing = [
        f"{method.upper()} {path}"
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        if "422" not in operation["responses"]
    ]
    assert missing == []
    for path in ("/health", "/openapi.json", "/keys/webhooks.pem", "/runs/run_x"):
        answer = api.get(path, params={"x": "1"})
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "x", answer.text
