"""Scenarios and runs over HTTP: list and describe scenarios; start, poll, cancel runs; page through events."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from simulator.models import answers as schemas
from simulator.scenarios import loader
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, ok, problem


def run_status(api: httpx.Client, run_id: str) -> dict:
    return ok(api.get(f"/runs/{run_id}"), schemas.Run)


def test_scenarios_list_built_ins_and_the_servers_directory(api: httpx.Client) -> None:
    names, cursor = [], None
    while True:
        page = ok(
            api.get("/scenarios", params={"limit": 4, **({"cursor": cursor} if cursor else {})}), schemas.ScenarioPage
        )
        names += [s["name"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    builtin, _ = loader.discover()
    assert names == sorted({*builtin, "api-one-event", "api-slow"})


def test_scenario_detail(api: httpx.Client) -> None:
    got = ok(api.get("/scenarios/api-slow"), schemas.Scenario)
    assert got["provider"] == "basistheory"
    assert got["params"] == {"plan": {"default": "basic", "description": "a plan name"}}
    assert got["event_types"] == ["token.created"]
    body = problem(api.get("/scenarios/api-slwo"), 404, "scenario")
    assert "api-slow" in body["detail"]  # the suggestion


def test_scenario_names_are_never_paths(api: httpx.Client) -> None:
    problem(api.get("/scenarios/api-one-event.yaml"), 422, "scenario")
    problem(api.post("/runs", json={"scenario": "../scenarios/api-one-event.yaml"}), 422, "scenario")
    problem(api.post("/runs", json={"scenario": "/etc/hostname"}), 422, "scenario")


def test_a_run_delivers_and_reports_its_events(api: httpx.Client, receiver: Receiver) -> None:
    started = ok(
        api.post("/runs", json={"scenario": "api-one-event", "seed": 7, "speed": 0, "target": receiver.url}),
        schemas.Run,
        202,
    )
    # The answer shows the run as it stands once recorded: a run of one event at speed 0 may be over by then.
    assert started["status"] in ("pending", "running", "completed")
    assert (started["seed"], started["speed"], started["target"]) == (7, 0.0, receiver.url)
    eventually(lambda: run_status(api, started["id"])["status"] == "completed", what="run completed")
    done = run_status(api, started["id"])
    assert (done["events"], done["counts"]) == (1, {"succeeded": 1})
    assert done["started_at"] is not None and done["finished_at"] is not None
    events = ok(api.get(f"/runs/{started['id']}/events"), schemas.RunEventPage)
    assert [e["type"] for e in events["data"]] == ["syncfy:credentials.created"]
    assert receiver.event_ids() == [events["data"][0]["id"]]
    assert [r["id"] for r in ok(api.get("/runs"), schemas.RunPage)["data"]] == [started["id"]]


def test_a_runs_start_time_stays_as_shown_while_it_ran(api: httpx.Client, receiver: Receiver) -> None:
    """`started_at` was rewritten at the end to the run's clock start, so the dashboard's "Started" moved when the
    run completed."""
    started = ok(
        api.post("/runs", json={"scenario": "api-slow", "speed": 3600, "target": receiver.url}), schemas.Run, 202
    )
    eventually(lambda: len(receiver.requests) == 1, what="the first event sent")
    running = run_status(api, started["id"])
    assert running["status"] == "running" and running["started_at"] is not None
    eventually(lambda: run_status(api, started["id"])["status"] == "completed", what="run completed")
    assert run_status(api, started["id"])["started_at"] == running["started_at"]


@pytest.mark.parametrize("change", ["delete", "disable"])
def test_a_run_sends_to_the_subscriptions_as_they_are_when_each_event_comes(
    api: httpx.Client, make_receiver: Callable[..., Receiver], change: str
) -> None:
    """A run chose its subscriptions at each type's first event and kept them: a subscription deleted or disabled
    during the run went on receiving its events, and one made during it got none."""
    before, after = make_receiver(), make_receiver()
    old = ok(api.post("/subscriptions", json={"url": before.url, "events": ["token.*"]}), schemas.Subscription, 201)
    run = ok(api.post("/runs", json={"scenario": "api-slow", "speed": 1800}), schemas.Run, 202)  # 2 s apart
    eventually(lambda: len(before.requests) == 1, what="the first event sent")
    if change == "delete":
        assert api.delete(f"/subscriptions/{old['id']}").status_code == 204
    else:
        ok(api.patch(f"/subscriptions/{old['id']}", json={"enabled": False}), schemas.Subscription)
    ok(api.post("/subscriptions", json={"url": after.url, "events": ["token.*"]}), schemas.Subscription, 201)
    eventually(lambda: run_status(api, run["id"])["status"] == "completed", what="run completed")
    assert (len(before.requests), len(after.requests)) == (1, 1)


def test_the_same_seed_gives_the_same_events(api: httpx.Client) -> None:
    bodies = []
    for _ in range(2):
        run = ok(
            api.post(
                "/runs",
                json={"scenario": "api-one-event", "seed": 11, "speed": 0, "start_time": "2025-01-02T03:04:05Z"},
            ),
            schemas.Run,
            202,
        )
        eventually(lambda run=run: run_status(api, run["id"])["status"] == "completed", what="run completed")
        bodies.append(api.get(f"/runs/{run['id']}/events").json()["data"][0]["body"])
    assert bodies[0] == bodies[1]


def test_run_events_are_paginated(api: httpx.Client) -> None:
    run = ok(api.post("/runs", json={"scenario": "api-slow", "speed": 1e6}), schemas.Run, 202)
    eventually(lambda: run_status(api, run["id"])["status"] == "completed", what="run completed")
    first = ok(api.get(f"/runs/{run['id']}/events", params={"limit": 1}), schemas.RunEventPage)
    second = ok(
        api.get(f"/runs/{run['id']}/events", params={"limit": 1, "cursor": first["next_cursor"]}), schemas.RunEventPage
    )
    everything = ok(api.get(f"/runs/{run['id']}/events"), schemas.RunEventPage)["data"]
    assert len(everything) == 2
    assert first["data"] + second["data"] == everything
    assert second["next_cursor"] is None


def test_cancel_stops_a_run(api: httpx.Client) -> None:
    run = ok(api.post("/runs", json={"scenario": "api-slow", "params": {"plan": "gold"}}), schemas.Run, 202)
    assert run["params"] == {"plan": "gold"}
    eventually(lambda: run_status(api, run["id"])["events"] == 1, what="the first event")
    cancelled = ok(api.post(f"/runs/{run['id']}/cancel"), schemas.Run)
    assert (cancelled["status"], cancelled["events"]) == ("cancelled", 1)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "scenario"),
        ({"scenario": "api-one-evnet"}, 404, "scenario"),
        ({"scenario": "api-one-event", "speed": -1}, 422, "speed"),
        ({"scenario": "api-one-event", "seed": "seven"}, 422, "seed"),
        ({"scenario": "api-one-event", "start_time": "yesterday"}, 422, "start_time"),
        ({"scenario": "api-one-event", "target": "localhost:80"}, 422, "target"),
        ({"scenario": "api-slow", "params": {"tier": "gold"}}, 422, "params.tier"),
        # Read by Syncfy's builders themselves: refused before the run, not failing it at its first event.
        ({"scenario": "syncfy-credential-lifecycle", "params": {"environment": "mars"}}, 422, "params.environment"),
        ({"scenario": "api-one-event", "subscriptions": ["sub_nope"]}, 404, "subscriptions.0"),
        ({"scenario": "api-one-event", "params": []}, 422, "params"),
    ],
)
def test_invalid_runs_are_refused(refusing_api: httpx.Client, body: dict, status: int, field: str) -> None:
    refused = problem(refusing_api.post("/runs", json=body), status, field)
    # A validator's words come as its own, without pydantic's "Value error, " before them.
    assert "Value error" not in refused["detail"] and all("Value error" not in e["message"] for e in refused["errors"])
    assert ok(refusing_api.get("/runs"), schemas.RunPage)["data"] == []


def test_unknown_runs_and_bad_pages(api: httpx.Client) -> None:
    for response in (api.get("/runs/run_nope"), api.post("/runs/run_nope/cancel"), api.get("/runs/run_nope/events")):
        problem(response, 404, "id")
    for limit in (0, 501, "ten"):
        problem(api.get("/runs", params={"limit": limit}), 422, "limit")
    run = ok(api.post("/runs", json={"scenario": "api-one-event", "speed": 0}), schemas.Run, 202)
    problem(api.get(f"/runs/{run['id']}/events", params={"cursor": "abc"}), 422, "cursor")


def test_runs_under_way_are_bounded(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One run past the bound is a 429 that says when to ask again; a run that ends makes room."""
    from simulator.core import runs
    from tests.api.harness import serving_api

    monkeypatch.setattr(runs, "MAX_LIVE_RUNS", 2)
    body = {"scenario": "syncfy-credential-lifecycle", "speed": 1, "target": "http://127.0.0.1:9/"}
    with serving_api(tmp_path) as server, server.client() as api:
        first, _ = (ok(api.post("/runs", json=body), schemas.Run, 202) for _ in range(2))
        refused = api.post("/runs", json=body)
        assert problem(refused, 429, "scenario")["detail"].startswith("2 runs are under way")
        assert refused.headers["retry-after"] == "1"
        assert len(api.get("/runs").json()["data"]) == 2  # the refused one left nothing behind
        ok(api.post(f"/runs/{first['id']}/cancel"), schemas.Run)
        ok(api.post("/runs", json=body), schemas.Run, 202)


def test_runs_started_at_once_are_bounded_too(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound was checked against the runs already launched: 110 started at once all passed a bound of 100."""
    from simulator.core import runs
    from tests.api.harness import serving_api

    monkeypatch.setattr(runs, "MAX_LIVE_RUNS", 5)
    body = {"scenario": "syncfy-credential-lifecycle", "speed": 1, "target": "http://127.0.0.1:9/"}
    with serving_api(tmp_path) as server, server.client() as api, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: api.post("/runs", json=body).status_code, range(16)))
        assert sorted(answers) == [202] * 5 + [429] * 11
        live = [r for r in api.get("/runs").json()["data"] if r["status"] in ("pending", "running")]
        assert len(live) == 5
