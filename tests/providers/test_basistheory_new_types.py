"""Basis Theory's 3DS method / challenge completions and Google Pay™ resources: the documented fields exactly, one
story per run (the session or resource an earlier event announced), and the twin and the control API take them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from simulator import catalog, cli, testing
from simulator.models import Event
from simulator.scenarios import play
from simulator.scenarios.loader import load_text
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.providers.test_basistheory import UUID, Run, data

SEEDS = range(12)
ISO_MS = "%Y-%m-%dT%H:%M:%S.%fZ"
# What the "Webhook Event Data" page documents for each type: the data object's key and its fields, in order.
DOCUMENTED = {
    "3ds.session.method-completed": ("session", ("id", "type", "tenant_id")),
    "3ds.session.challenge-completed": ("session", ("id", "type", "tenant_id", "authentication_status")),
    "google-pay.created": ("google_pay", ("id", "status", "created_by", "created_at", "expires_at")),
    "google-pay.deleted": (
        "google_pay",
        ("id", "status", "created_by", "created_at", "expires_at", "modified_by", "modified_at"),
    ),
    "google-pay.retrieved": ("google_pay", ("id",)),
}


def when(text: str) -> datetime:
    return datetime.strptime(text, ISO_MS).replace(tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_each_sample_fits_its_schema_with_exactly_the_documented_fields(name: str) -> None:
    validator = Draft202012Validator(catalog.schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)
    key, fields = DOCUMENTED[name]
    for seed in SEEDS:
        body = json.loads(catalog.sample(f"basistheory:{name}", seed))
        assert not [e.message for e in validator.iter_errors(body)], (name, seed)
        assert body["event"]["type"] == name
        assert set(body["event"]["data"]) == {key, "actor"}
        assert tuple(body["event"]["data"][key]) == fields, (name, seed)
        assert UUID.match(body["event"]["data"][key]["id"])


@pytest.mark.parametrize("seed", range(8))
def test_method_and_challenge_completions_name_the_session_created_before(seed: int) -> None:
    run = Run(seed)
    created = run.emit("3ds.session.created")
    session = data(created)["session"]
    for name in ("3ds.session.method-completed", "3ds.session.challenge-completed"):
        event = run.emit(name, after=5)
        got = data(event)["session"]
        assert (got["id"], got["type"], got["tenant_id"]) == (session["id"], session["type"], session["tenant_id"])
        assert event["tenant_id"] == created["tenant_id"]
        assert data(event)["actor"]["type"] == "system"  # the issuer's ACS finished it, no caller acted
    assert got["authentication_status"] in ("successful", "failed")


def test_a_challenge_completes_successful_or_failed_and_both_happen() -> None:
    seen = {
        data(Run(seed).emit("3ds.session.challenge-completed"))["session"]["authentication_status"]
        for seed in range(40)
    }
    assert seen == {"successful", "failed"}


SCENARIO = """
name: two-3ds-sessions
provider: basistheory
description: two cards, each through the 3DS method and a challenge.
steps:
  - emit: 3ds.session.created
    as: first
  - emit: 3ds.session.created
    as: second
  - emit: 3ds.session.method-completed
    as: second
  - emit: 3ds.session.method-completed
    as: first
  - emit: 3ds.session.challenge-completed
    as: first
  - emit: 3ds.session.challenge-completed
    as: second
"""


async def test_a_scenarios_named_sessions_are_the_ones_its_3ds_session_created_announced() -> None:
    events: list[dict[str, Any]] = []

    async def emit(event: Event, step: Any) -> None:
        events.append(json.loads(event.json))

    start = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
    await play(load_text(SCENARIO), seed=3, params={}, start_time=start, speed=0, emit=emit)
    ids = [e["data"]["session"]["id"] for e in events]
    first, second = ids[0], ids[1]
    assert first != second
    assert ids[2:] == [second, first, first, second]


@pytest.mark.parametrize("seed", range(8))
def test_google_pay_events_name_the_resource_created_before(seed: int) -> None:
    run = Run(seed)
    created = run.emit("google-pay.created")
    resource = data(created)["google_pay"]
    actor = data(created)["actor"]
    assert actor["type"] == "application" and resource["created_by"] == actor["id"]
    assert resource["status"] == "active"
    assert when(resource["created_at"]) == when(created["timestamp"])
    assert when(resource["expires_at"]) - when(resource["created_at"]) == timedelta(days=1)
    assert data(run.emit("google-pay.retrieved", after=30))["google_pay"] == {"id": resource["id"]}
    deleted = run.emit("google-pay.deleted", after=30)
    gone = data(deleted)["google_pay"]
    assert {k: gone[k] for k in resource} == resource
    assert gone["modified_by"] == data(deleted)["actor"]["id"]
    assert gone["modified_at"] == deleted["timestamp"]
    # Deleted: a later read is of another resource, made earlier than it.
    later = data(run.emit("google-pay.retrieved", after=30))["google_pay"]
    assert later["id"] != resource["id"]


def test_a_google_pay_resource_read_without_one_announced_was_made_before() -> None:
    for seed in SEEDS:
        event = Run(seed).emit("google-pay.deleted")
        resource = data(event)["google_pay"]
        assert when(resource["created_at"]) < when(event["timestamp"]) < when(resource["expires_at"])


# --- the API twin and the control API ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[WebhookSim]:
    with testing.webhook_sim() as served:
        yield served


@pytest.fixture
def hook(sim: WebhookSim, webhook_receiver: Receiver) -> Iterator[dict[str, Any]]:
    """A Basis Theory webhook, made through the twin, for the new types."""
    events = ["3ds.session.challenge-completed", "google-pay.created"]
    with httpx.Client(base_url=f"{sim.url}/basistheory", headers={"BT-API-KEY": "key_new_types"}) as bt:
        made = bt.post("/webhooks", json={"name": "new types", "url": webhook_receiver.url, "events": events})
        assert made.status_code == 201, made.text
        assert made.json()["events"] == events
        yield made.json()
        bt.delete(f"/webhooks/{made.json()['id']}")


def test_the_twin_takes_webhooks_for_the_new_types_and_post_events_delivers_them(
    sim: WebhookSim, hook: dict[str, Any], webhook_receiver: Receiver
) -> None:
    sent = httpx.post(f"{sim.url}/events", json={"type": "basistheory:google-pay.created"}, timeout=30)
    assert sent.status_code in (200, 201, 202), sent.text
    sim.emit("basistheory:3ds.session.challenge-completed")
    sim.emit("basistheory:google-pay.retrieved")  # not subscribed: never delivered
    bodies = [r.json()["event"] for r in webhook_receiver.wait_for(2)]
    assert sorted(b["type"] for b in bodies) == ["3ds.session.challenge-completed", "google-pay.created"]
    assert (
        "google-pay.retrieved"
        in httpx.get(f"{sim.url}/basistheory/webhooks/event-types", headers={"BT-API-KEY": "k"}).json()
    )


def test_trigger_through_the_server_delivers_google_pay_created(
    sim: WebhookSim, hook: dict[str, Any], webhook_receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["trigger", "google-pay.created", "--server", sim.url, "--seed", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    [request] = webhook_receiver.wait_for(1)
    event = request.json()["event"]
    assert event["type"] == "google-pay.created" and event["id"] in out
    assert tuple(event["data"]["google_pay"]) == DOCUMENTED["google-pay.created"][1]
