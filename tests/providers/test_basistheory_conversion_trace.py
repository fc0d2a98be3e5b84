"""A token intent converted in a run is told as the API's conversion tells it: `token.created` and
`token-intent.converted` come from one request, `POST /tokens`, and carry its one `trace_id` (the API twin gives
both its `BT-TRACE-ID`). Each event drew its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simulator.models import Event
from simulator.scenarios import find, play


async def _events(seed: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    async def emit(event: Event, step: Any) -> None:
        events.append(event.parsed())

    start = datetime(2026, 12, 5, 10, tzinfo=UTC)
    await play(find("basistheory-token-intent-conversion"), seed=seed, params={}, start_time=start, speed=0, emit=emit)
    return events


async def test_a_conversions_two_events_share_their_trace_id() -> None:
    for seed in range(1, 11):
        events = await _events(seed)
        created = {e["data"]["token"]["id"]: e["trace_id"] for e in events if e["type"] == "token.created"}
        converted = [e for e in events if e["type"] == "token-intent.converted"]
        assert converted, seed
        for event in converted:
            assert event["trace_id"] == created[event["data"]["token"]["id"]], (seed, event)
        traces = [e["trace_id"] for e in events if e["type"] != "token-intent.converted"]
        assert len(traces) == len(set(traces))  # one request each otherwise
