"""A run's ids are fixed by its seed, its start time *and* what it plays: the scenario and its parameters.

Consumers deduplicate on event ids. Two scenarios run with one seed and one start time tell different stories, so
an event id the first sent must never come back on the second with other content, and an entity id (a Syncfy
credential, a Basis Theory application) must not name two different things.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from simulator.models import Event
from simulator.scenarios import find, play

START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


async def _events(name: str, seed: int, params: dict[str, Any] | None = None) -> list[Event]:
    out: list[Event] = []

    async def emit(event: Event, step: Any) -> None:
        out.append(event)

    await play(find(name), seed=seed, params=params or {}, start_time=START, speed=0, emit=emit)
    return out


_ENTITY_KEYS = {"id_credential", "id_job", "id_job_uuid", "application_id", "token_id", "token_intent_id"}


def _entity_ids(events: list[Event]) -> set[str]:
    """The ids of what the events are about: credentials and jobs, tokens, intents, actors, applications."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if isinstance(inner, str) and (key in _ENTITY_KEYS or key == "id"):
                    found.add(inner)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for event in events:
        walk(json.loads(event.json))
    return found


@pytest.mark.parametrize(
    ("first", "second", "seed"),
    [
        ("syncfy-credential-lifecycle", "syncfy-two-factor", 42),
        ("basistheory-token-intent-conversion", "basistheory-token-lifecycle", 5),
    ],
)
async def test_two_scenarios_on_one_seed_and_start_share_no_event_or_entity_id(
    first: str, second: str, seed: int
) -> None:
    one, other = await _events(first, seed), await _events(second, seed)
    assert {e.id for e in one}.isdisjoint(e.id for e in other)
    entities = [_entity_ids(one), _entity_ids(other)]
    assert entities[0] and entities[1]
    assert entities[0].isdisjoint(entities[1])


async def test_other_parameters_give_other_ids_and_the_same_ones_give_the_same() -> None:
    few = await _events("syncfy-credential-lifecycle", 3, {"refreshes": 1})
    more = await _events("syncfy-credential-lifecycle", 3, {"refreshes": 2})
    assert {e.id for e in few}.isdisjoint(e.id for e in more)
    again = await _events("syncfy-credential-lifecycle", 3, {"refreshes": 1})
    assert [(e.id, e.json) for e in again] == [(e.id, e.json) for e in few]


async def test_a_choice_word_in_any_case_gives_the_same_run() -> None:
    """`environment` and `institution` take their words in either case, as one value: `PRODUCTION` made another
    run's ids than `production`, the same events otherwise."""
    lower = await _events("syncfy-credential-lifecycle", 3, {"environment": "production", "institution": "bank"})
    upper = await _events("syncfy-credential-lifecycle", 3, {"environment": "PRODUCTION", "institution": "Bank"})
    assert [e.json for e in upper] == [e.json for e in lower]
