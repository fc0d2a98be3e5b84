"""Numbers and times at the boundary: JSON that Python reads as infinity, numbers and dates out of range, paths
too deep. Each is a 422 naming the field, and a refused request leaves nothing behind: the store reads the same
after it as before."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from simulator.models import answers as schemas
from tests.api.harness import eventually, ok, problem

URL = "http://127.0.0.1:9/"


def state(api: httpx.Client) -> dict[str, Any]:
    """Everything a request could have left behind, as the API lists it."""
    lists = ("/subscriptions", "/runs", "/deliveries", "/schedules")
    return {path: api.get(path, params={"limit": 500}).json()["data"] for path in lists}


def refused(api: httpx.Client, method: str, path: str, body: bytes | dict, field: str) -> dict[str, Any]:
    """Send `body` (raw JSON text, or a value to encode) and expect a 422 naming `field`, with no change."""
    before = state(api)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = api.request(method, path, content=content, headers={"content-type": "application/json"})
    found = problem(response, 422, field)
    assert state(api) == before
    assert api.get("/subscriptions").status_code == 200  # and every list still reads
    return found


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/subscriptions", b'{"url": "%s", "retry": {"delays": [1e309]}}' % URL.encode(), "retry.delays.0"),
        ("/subscriptions", b'{"url": "%s", "timeout": -1e309}' % URL.encode(), "timeout"),
        (
            "/events",
            b'{"type": "token.created", "target": "%s", "overrides": {"data.x": 1e309}}' % URL.encode(),
            "overrides.data.x",
        ),
        ("/runs", b'{"scenario": "api-one-event", "speed": 1e400}', "speed"),
        ("/runs", b'{"scenario": "api-one-event", "speed": 1e-400}', "speed"),
        ("/runs", b'{"scenario": "api-one-event", "params": {"plan": [1, {"x": 1e999}]}}', "params.plan.1.x"),
    ],
    ids=["retry-delay", "timeout", "override", "speed", "tiny-speed", "nested-param"],
)
def test_numbers_json_reads_as_infinite_are_refused_and_stored_nowhere(
    refusing_api: httpx.Client, path: str, body: bytes, field: str
) -> None:
    found = refused(refusing_api, "POST", path, body, field)
    assert "out of range" in json.dumps(found)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": URL, "retry": {"delays": [1e300]}}, "retry.delays.0"),
        ({"url": URL, "retry": {"delays": [604800.5]}}, "retry.delays.0"),
        ({"url": URL, "retry": {"delays": [-1]}}, "retry.delays.0"),
        ({"url": URL, "retry": {"delays": [1] * 51}}, "retry.delays"),
        ({"url": URL, "timeout": 1e300}, "timeout"),
    ],
)
def test_retry_delays_are_capped_at_a_week(refusing_api: httpx.Client, body: dict, field: str) -> None:
    refused(refusing_api, "POST", "/subscriptions", body, field)


HUGE = b"9" * 310  # a whole number past a float: read as a duration, it raised OverflowError (a 500)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/runs", b'{"scenario": "api-one-event", "faults": {"delay": %s}}' % HUGE, "faults.delay"),
        (
            "/subscriptions",
            b'{"url": "%s", "faults": {"delay": {"fixed": %s}}}' % (URL.encode(), HUGE),
            "faults.delay.fixed",
        ),
        (
            "/subscriptions",
            b'{"url": "%s", "faults": {"duplicate": {"probability": 1, "spacing": %s}}}' % (URL.encode(), HUGE),
            "faults.duplicate.spacing",
        ),
    ],
    ids=["run-delay", "subscription-delay", "subscription-spacing"],
)
def test_a_fault_duration_past_a_float_is_a_422_naming_it(
    refusing_api: httpx.Client, path: str, body: bytes, field: str
) -> None:
    found = refused(refusing_api, "POST", path, body, field)
    assert "at most a week" in json.dumps(found)


def test_a_week_is_the_longest_retry_delay(api: httpx.Client) -> None:
    sub = ok(
        api.post("/subscriptions", json={"url": URL, "retry": {"delays": [0, 1.5, 604800]}}), schemas.Subscription, 201
    )
    assert api.get(f"/subscriptions/{sub['id']}").json()["retry"]["delays"] == [0, 1.5, 604800]
    assert api.get("/subscriptions").status_code == 200


@pytest.mark.parametrize(
    ("time", "accepted"),
    [
        ("9999-12-31T00:00:00Z", False),
        ("0001-01-01T00:00:00Z", False),
        ("1969-12-31T23:59:59Z", False),
        ("2201-01-01T00:00:00Z", False),
        ("2025-02-30T00:00:00Z", False),
        ("2025-01-01T00:00:00", False),  # no offset: which time would it be?
        ("2025-01-01 00:00:00Z", False),
        ("1970-01-01T00:00:00Z", True),
        ("2200-12-31T23:59:59.999999-23:59", True),
        ("2024-02-29T12:00:00+05:30", True),
    ],
)
def test_start_times_are_rfc3339_from_1970_to_2200(refusing_api: httpx.Client, time: str, accepted: bool) -> None:
    body = {"scenario": "api-slow", "speed": 0, "start_time": time, "target": URL}
    if accepted:
        run = ok(refusing_api.post("/runs", json=body), schemas.Run, 202)
        assert refusing_api.post(f"/runs/{run['id']}/cancel").status_code == 200
        refusing_api.post("/reset")  # this module's server is shared: leave it empty
    else:
        refused(refusing_api, "POST", "/runs", body, "start_time")


@pytest.mark.parametrize(
    ("time", "accepted"),
    [
        ("2106-02-07T06:28:15Z", True),
        ("2106-02-07T06:28:16Z", False),
        ("2150-06-01T00:00:00Z", False),
        ("1970-01-01T05:00:00+06:00", False),  # 1969 in UTC
        ("1970-01-30T23:59:59Z", False),  # its user signed up to 30 days before: in 1969
    ],
)
def test_a_syncfy_run_starts_within_what_its_ids_hold(refusing_api: httpx.Client, time: str, accepted: bool) -> None:
    """A MongoDB ObjectId holds 4 bytes of Unix seconds: a later start gave 25-digit ids, one before 1970 in UTC
    negative ones."""
    body = {"scenario": "api-one-event", "speed": 0, "start_time": time, "target": URL}
    if not accepted:
        assert "ObjectId" in refused(refusing_api, "POST", "/runs", body, "start_time")["detail"]
        return
    run = ok(refusing_api.post("/runs", json=body), schemas.Run, 202)
    eventually(lambda: refusing_api.get(f"/runs/{run['id']}").json()["status"] not in ("pending", "running"))
    done = refusing_api.get(f"/runs/{run['id']}").json()
    assert done["status"] == "completed", done
    (event,) = refusing_api.get(f"/runs/{run['id']}/events").json()["data"]
    refusing_api.post("/reset")
    credential = event["body"]["payload"]["id_credential"]
    assert len(credential) == 24 and 2**32 - 10 < int(credential[:8], 16) < 2**32


@pytest.mark.parametrize(
    ("time", "seed", "field_says"),
    [
        ("2106-02-07T05:00:00Z", 3, "its events run past 2106-02-07T06:28:15"),  # its later events would be
        ("1970-01-01T00:00:00Z", 3, "the times a Syncfy id holds"),  # its user's sign-up would be in 1969
        ("2106-02-07T05:00:00Z", None, "its events run past 2106-02-07T06:28:15"),  # whatever seed it draws
    ],
)
def test_a_syncfy_run_whose_ids_would_run_past_what_they_hold_is_refused_before_it_starts(
    refusing_api: httpx.Client, time: str, seed: int | None, field_says: str
) -> None:
    """Its start was taken, and the run failed at its first id past the end (TimeBeyondIds), its earlier events
    sent: refused now, naming `start_time`, and no run is made."""
    body = {"scenario": "syncfy-credential-lifecycle", "speed": 0, "start_time": time, "target": URL, "seed": seed}
    answer = refused(refusing_api, "POST", "/runs", body, "start_time")
    assert field_says in json.dumps(answer["errors"]), answer
    started = {**body, "start_time": "2106-02-06T00:00:00Z"}  # a day earlier, its events all fit
    run = ok(refusing_api.post("/runs", json=started), schemas.Run, 202)
    eventually(lambda: refusing_api.get(f"/runs/{run['id']}").json()["status"] not in ("pending", "running"))
    assert refusing_api.get(f"/runs/{run['id']}").json()["status"] == "completed"
    refusing_api.post("/reset")


def test_a_syncfy_schedule_near_the_end_of_its_ids_needs_a_seed(refusing_api: httpx.Client) -> None:
    """Each firing of a schedule without a seed draws its own, and one whose events ran past the last time an id
    holds failed, with a line in the log; the schedule was taken. With a seed that fits, or a start that is not
    near that time, it is taken. Near is judged by the year as written, as the OpenAPI document states it: a
    start in 2096 written with +14:00 is refused, a later instant written in 2095 is taken."""
    body = {"scenario": "syncfy-credential-lifecycle", "interval": 3600, "target": URL}
    for near in ("2106-02-06T00:00:00Z", "2096-01-01T00:00:00+14:00"):
        answer = refused(refusing_api, "POST", "/schedules", {**body, "start_time": near}, "start_time")
        assert "give a seed" in json.dumps(answer["errors"]), answer
    for taken in (
        {"start_time": "2106-02-06T00:00:00Z", "seed": 3},
        {"start_time": "2090-01-01T00:00:00Z"},
        {"start_time": "2095-12-31T23:59:59-23:59"},
    ):
        made = ok(refusing_api.post("/schedules", json={**body, **taken}), schemas.Schedule, 201)
        ok(refusing_api.delete(f"/schedules/{made['id']}"), None, 204)


@pytest.mark.parametrize("at", ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "2025-13-01T00:00:00Z"])
def test_schedule_times_are_bounded_too(refusing_api: httpx.Client, at: str) -> None:
    refused(refusing_api, "POST", "/schedules", {"scenario": "api-one-event", "at": at}, "at")


@pytest.mark.parametrize("speed", [1e-300, 0.0009, -1, 1e10])
def test_speeds_are_zero_or_from_a_thousandth_to_a_billion(refusing_api: httpx.Client, speed: float) -> None:
    refused(refusing_api, "POST", "/runs", {"scenario": "api-one-event", "speed": speed, "target": URL}, "speed")


@pytest.mark.parametrize(
    "path",
    [".".join(["a"] * 10_000), ".".join(["a"] * 17), "a" * 65, "", "a..b"],
    ids=["10000-parts", "17-parts", "long-part", "empty", "empty-part"],
)
def test_override_paths_are_bounded(refusing_api: httpx.Client, path: str) -> None:
    body = {"type": "token.created", "target": URL, "overrides": {path: 1}}
    found = refused(refusing_api, "POST", "/events", body, f"overrides.{path}")
    assert len(json.dumps(found)) < 2_000 or path.count(".") > 100  # the refusal does not explode either


def test_a_refused_event_is_not_delivered_later(refusing_api: httpx.Client) -> None:
    """The 500 of old stored the event first: a client retrying made a duplicate, and the stored Infinity made
    the body invalid JSON for its receiver."""
    body = b'{"type": "token.created", "target": "%s", "overrides": {"data.token.metadata.x": 1e309}}' % URL.encode()
    for _ in range(2):
        refused(refusing_api, "POST", "/events", body, "overrides.data.token.metadata.x")
    assert refusing_api.get("/deliveries").json()["data"] == []


LONG_WAIT = """name: long-wait
provider: basistheory
description: A token, then another eight thousand years later.
steps:
  - emit: token.created
  - wait: 3000000d
  - emit: token.created
"""


@pytest.mark.parametrize("speed", [0, 1])
def test_a_timeline_past_the_year_9999_ends_the_run_plainly(api: httpx.Client, scenario_dir, speed: float) -> None:
    """The latest start (2200) and a wait of millennia: the run fails saying why, keeps what it emitted, and
    every list still reads (a start time of 9999 once made every retry raise, and the run never ended)."""
    (scenario_dir / "long-wait.yaml").write_text(LONG_WAIT)
    body = {"scenario": "long-wait", "speed": speed, "target": URL, "start_time": "2200-12-31T00:00:00Z"}
    run = ok(api.post("/runs", json=body), schemas.Run, 202)

    def ended() -> dict[str, Any] | None:
        got = api.get(f"/runs/{run['id']}").json()
        return got if got["status"] not in ("pending", "running") else None

    eventually(ended, what="the run to end")
    final = ended()
    assert final is not None and final["status"] == "failed" and "past the year 9999" in final["error"]
    assert final["events"] == 1 == len(api.get(f"/runs/{run['id']}/events").json()["data"])
    assert ok(api.post(f"/runs/{run['id']}/cancel"), schemas.Run)["status"] == "failed"
    for path in ("/runs", "/deliveries", f"/runs/{run['id']}/events"):
        assert api.get(path).status_code == 200


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"url": "%s", "timeout": %s}' % (URL.encode(), b"9" * 5000), "more than 4,300 digits"),
        (b'{"url": "%s", "headers": {"x": "\\ud800"}}' % URL.encode(), "lone surrogate"),
        (b'{"url": "%s", "timeout": NaN}' % URL.encode(), "NaN is not a JSON number"),
    ],
    ids=["long-integer", "lone-surrogate", "nan"],
)
def test_json_the_parser_balks_at_is_a_400_in_plain_words(refusing_api: httpx.Client, body: bytes, says: str) -> None:
    before = state(refusing_api)
    response = refusing_api.post("/subscriptions", content=body, headers={"content-type": "application/json"})
    found = problem(response, 400, "body")
    assert says in found["detail"] and "sys." not in found["detail"] and "codec" not in found["detail"]
    assert state(refusing_api) == before
