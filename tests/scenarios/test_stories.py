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
