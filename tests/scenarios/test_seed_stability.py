"""A seed's output is pinned across releases, not only within one: every built-in scenario's events and every
event type's sample, at a fixed seed and start time, against digests recorded from an earlier release.

A change that moves any value a seed gives (another draw, another order of draws, a different format) fails here,
naming the first event that differs. Where a change of output is meant, record the digests again with
`WEBHOOK_SIM_RECORD_SEEDED=1 pytest tests/scenarios/test_seed_stability.py` and say so in the CHANGELOG.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulator import catalog
from simulator.models import Event
from simulator.scenarios import discover, find, play

PINNED = Path(__file__).resolve().parent.parent / "fixtures" / "seeded" / "digests.json"
START = datetime(2025, 3, 14, 15, 9, 26, 123456, tzinfo=UTC)
SEED = 7
RECORD = os.environ.get("WEBHOOK_SIM_RECORD_SEEDED") == "1"


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def _event_digest(event: Event) -> str:
    delivered = event.occurred_at + timedelta(seconds=1.5)
    body = catalog.render([event], delivered_at=delivered)
    return _digest(event.id, event.envelope_id or "", event.occurred_at.isoformat(), event.json, body)


async def _scenario_digests(name: str) -> list[list[str]]:
    scenario = find(name)
    out: list[list[str]] = []

    async def emit(event: Event, step: Any) -> None:
        out.append([event.key, _event_digest(event)])

    await play(scenario, seed=SEED, params={}, start_time=START, speed=0, emit=emit)
    return out


def _pinned() -> dict[str, Any]:
    return json.loads(PINNED.read_text()) if PINNED.exists() else {"scenarios": {}, "samples": {}}


def _first_difference(name: str, got: list[list[str]], want: list[list[str]]) -> str:
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            return f"{name}: event {i} ({w[0]}) is not the bytes this seed gave before (now {g[0]})"
    return f"{name}: {len(got)} events where this seed gave {len(want)}"


def _record(section: str, key: str, value: Any) -> None:
    pinned = _pinned()
    pinned[section][key] = value
    PINNED.parent.mkdir(parents=True, exist_ok=True)
    PINNED.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")


SCENARIOS = sorted(discover()[0])  # no folders given: the built-in ones alone


def test_every_built_in_scenario_is_pinned() -> None:
    if RECORD:
        pytest.skip("recording")
    assert sorted(_pinned()["scenarios"]) == SCENARIOS


@pytest.mark.parametrize("name", SCENARIOS)
async def test_a_built_in_scenario_gives_the_bytes_it_gave_before(name: str) -> None:
    got = await _scenario_digests(name)
    assert got, f"{name} emitted nothing"
    if RECORD:
        _record("scenarios", name, got)
        return
    want = _pinned()["scenarios"].get(name)
    assert want is not None, f"{name} has no pinned digests: record them (see this module's text)"
    assert got == want, _first_difference(name, got, want)


def test_every_event_types_sample_gives_the_bytes_it_gave_before() -> None:
    got = {
        etype.key: _digest(*(catalog.sample(etype.key, seed) for seed in (0, SEED))) for etype in catalog.event_types()
    }
    if RECORD:
        for key, value in got.items():
            _record("samples", key, value)
        return
    want = _pinned()["samples"]
    changed = sorted(k for k in want.keys() & got.keys() if want[k] != got[k])
    assert not changed, f"samples changed for the same seed: {changed[:10]}"
    assert sorted(got) == sorted(want), "event types added or removed: record the digests again"
