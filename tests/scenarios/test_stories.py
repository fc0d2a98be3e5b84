"""What a correct consumer relies on across one built-in story: every entity an event names was announced."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from simulator.models import Event
from simulator.scenarios import builtin_dir, load_file, play

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SYNCFY = sorted(p for p in builtin_dir().glob("syncfy-*.yaml"))
SITE_KEYS = ("id_site", "id_site_organization", "id_site_organization_type")


def story(name: str, seed: int) -> list[Event]:
    events: list[Event] = []

    async def emit(event: Event, step: Any) -> None:
        events.append(event)

    asyncio.run(
        play(load_file(builtin_dir() / f"{name}.yaml"), seed=seed, params={}, start_time=START, speed=0, emit=emit)
    )
    return events


@pytest.mark.parametrize("path", SYNCFY, ids=lambda p: p.stem)
@pytest.mark.parametrize("seed", range(8))
def test_syncfy_documents_belong_to_a_credential_the_story_announced(path: Any, seed: int) -> None:
    announced: set[tuple[str, ...]] = set()
    documents = 0
    for event in story(path.stem, seed):
        user, payload = event.data["header"]["user"]["id_user"], event.data["payload"]
        where = (user, *(payload[k] for k in SITE_KEYS))
        if event.type.startswith("credentials."):
            announced.add(where)
        else:
            documents += 1
            assert where in announced, f"{event.type} names a site no credentials.* event announced"
    if "documents" in path.read_text():
        assert documents


def _ms(event: Event) -> int:
    return int(event.occurred_at.timestamp() * 1000)


@pytest.mark.parametrize("seed", range(8))
def test_a_reactor_outcome_ran_no_longer_than_since_its_invocation(seed: int) -> None:
    invoked: dict[str, Event] = {}
    outcomes = 0
    for event in story("basistheory-reactor-invocations", seed):
        data, reactor = event.data["data"], event.data["data"]["reactor"]["id"]
        if event.type == "reactor.invoked":
            invoked[reactor] = event
        elif event.type in ("reactor.completed", "reactor.failed"):
            start = invoked.pop(reactor)
            outcomes += 1
            assert event.data["trace_id"] == start.data["trace_id"]
            assert 0 < data["elapsed_ms"] <= _ms(event) - _ms(start), (event.type, data, start.occurred_at)
            if "timed out after 5 minutes" in data.get("error", ""):
                assert data["elapsed_ms"] >= 300_000 and data["request"]["invocation_type"] == "async"
            if "timeout of 10000ms" in data.get("error", ""):
                assert data["elapsed_ms"] >= 10_000
    assert outcomes == 8


@pytest.mark.parametrize("seed", range(12))
def test_a_token_expires_at_the_expires_at_its_creation_gave_and_only_a_card_loses_a_cvc(seed: int) -> None:
    created: dict[str, dict[str, Any]] = {}
    for event in story("basistheory-token-lifecycle", seed):
        token = event.data["data"]["token"]
        if event.type == "token.created":
            created[token["id"]] = token
        elif event.type == "token.property.expired":
            assert created[token["id"]]["type"] == "card" and token["property_name"] == "cvc"
        elif event.type == "token.expired":
            assert created[token["id"]]["expires_at"] == event.data["timestamp"]
    assert created


@pytest.mark.parametrize("name", ["basistheory-token-intent-conversion", "basistheory-chaos"])
@pytest.mark.parametrize("seed", range(4))
def test_a_converted_intent_names_the_token_its_token_created_announced(name: str, seed: int) -> None:
    intents: dict[str, dict[str, Any]] = {}
    tokens: dict[str, dict[str, Any]] = {}
    converted = 0
    for event in story(name, seed):
        data = event.data["data"]
        if event.type == "token-intent.created":
            intents[data["token_intent"]["id"]] = data["token_intent"]
        elif event.type == "token.created":
            tokens[data["token"]["id"]] = data["token"]
        elif event.type == "token-intent.converted":
            converted += 1
            intent, token = intents[data["token_intent"]["id"]], tokens[data["token"]["id"]]
            assert (token["type"], token["fingerprint"]) == (intent["type"], intent["fingerprint"])
        elif event.type == "token.read":
            assert event.data["data"]["token"]["id"] in tokens
    assert converted
