"""One world: every object a Basis Theory event names is served by the API twin with the event's id and fields
(REST names where the docs differ), and an object an event ended is a 404. Over every event type (each checked
right after it is emitted) and over every built-in Basis Theory scenario (checked after the whole run)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulator import catalog
from simulator.scenarios import loader
from simulator.testing import WebhookSim
from tests.twins.expect import Named, agrees, at, named

BT_TYPES = [e.name for e in catalog.event_types("basistheory")]
BT_SCENARIOS = sorted(n for n, s in loader.discover()[0].items() if s.provider == "basistheory")


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    """Its fold reads events in insertion order, which each backend keeps its own way."""
    return sim_on_each_store


def check(bt: httpx.Client, obj: Named, fields: dict[tuple[str, ...], Any], ends: bool) -> None:
    response = bt.get(obj.path)
    if ends:
        assert response.status_code == 404, (obj, response.text)
        assert response.json()["status"] == 404
        return
    assert response.status_code == 200, (obj, response.text)
    body = response.json()
    assert body["id"] == obj.id
    for path, value in fields.items():
        assert agrees(path, at(body, path), value), (obj.kind, path, body)


Expected = dict[tuple[str, str], tuple[Named, dict[tuple[str, ...], Any], bool]]


def expected(events: list[dict[str, Any]]) -> Expected:
    """Per object: what the events said of it, later over earlier, and whether one of them ended it (an
    application may even act in the event that deletes it)."""
    state: Expected = {}
    for event in events:
        for obj in named(event):
            _, fields, ended = state.get((obj.kind, obj.id), (obj, {}, False))
            state[(obj.kind, obj.id)] = (obj, {**fields, **obj.fields}, ended or obj.ends)
    return state


@pytest.mark.parametrize("etype", BT_TYPES)
def test_each_event_type_is_readable_right_after_it(sim: WebhookSim, bt: httpx.Client, etype: str) -> None:
    event = sim.emit(f"basistheory:{etype}").body
    for obj, fields, ended in expected([event]).values():
        check(bt, obj, fields, ended)


@pytest.mark.parametrize("scenario", BT_SCENARIOS)
def test_a_scenarios_objects_are_readable_after_it(sim: WebhookSim, bt: httpx.Client, scenario: str) -> None:
    handle = sim.run(scenario, seed=20240822, speed=0)
    assert handle.wait(timeout=60).status == "completed"
    events = [e.body for e in handle.events()]
    state = expected(events)
    keys: dict[str, set[str]] = {}
    for event in events:
        key = event["data"].get("application_key")
        if key and event["type"] == "application.key.created":
            keys.setdefault(key["application_id"], set()).add(key["id"])
        elif key:
            keys.get(key["application_id"], set()).discard(key["id"])
    if not state:
        pytest.skip(f"{scenario} names no object the API serves")
    for obj, fields, ended in state.values():
        check(bt, obj, fields, ended)
    for app_id, key_ids in keys.items():
        if not state[("application", app_id)][2]:
            shown = {k["id"] for k in bt.get(f"/applications/{app_id}").json().get("keys", [])}
            assert key_ids <= shown


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_3ds_sessions_card_is_one_the_api_serves(sim: WebhookSim, bt: httpx.Client, seed: int) -> None:
    """What a consumer does with `3ds.session.created`: look up the card it names."""
    handle = sim.run("basistheory-3ds-challenge", seed=seed, speed=0)
    assert handle.wait(timeout=60).status == "completed"
    sessions = [e.body["data"]["session"] for e in handle.events() if e.body["type"] == "3ds.session.created"]
    assert sessions
    for session in sessions:
        token = bt.get(f"/tokens/{session['token_id']}")
        assert token.status_code == 200, (session, token.text)
        assert token.json()["type"] == "card"
        assert bt.get(f"/3ds/sessions/{session['id']}").json()["token_id"] == session["token_id"]
