"""The built-in scenarios: they load, document themselves, cover every event type, and run short."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import yaml

from simulator import catalog
from simulator.scenarios import ScenarioInvalid, builtin_dir, discover, load_file, load_text, play

BUILTIN = sorted(builtin_dir().glob("*.yaml"))
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_there_are_builtins_and_none_is_broken():
    found, errors = discover()
    assert errors == []
    assert len(found) == len(BUILTIN) >= 13


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_a_builtin_is_named_after_its_file_and_documented(path):
    s = load_file(path)
    assert s.name == path.stem
    assert s.name.startswith(f"{s.provider}-")
    assert len(s.description) > 20 and len(s.observe) > 40
    assert all(p.description for p in s.params.values())


def test_every_registered_event_type_appears_in_a_builtin():
    covered = {f"{s.provider}:{t}" for s in discover()[0].values() for t in s.event_types()}
    missing = sorted(e.key for e in catalog.event_types() if e.key not in covered)
    assert missing == []


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_a_builtin_runs_quickly_and_its_bodies_match_their_schemas(path):
    s = load_file(path)
    events = []

    async def emit(event, step):
        events.append(event)

    async def never(seconds):  # at speed 0 a run never waits, however long its simulated timeline
        raise AssertionError(f"slept {seconds} s")

    count = asyncio.run(play(s, seed=1, params={}, start_time=START, speed=0, emit=emit, sleep=never))
    assert 3 <= count <= 100
    assert {e.type for e in events} <= set(s.event_types())
    for event in events:
        jsonschema.validate(json.loads(catalog.render([event])), catalog.schema(event.key))


# --- the format reference stays true ---------------------------------------------------------------------------

DOC = Path(__file__).parents[2] / "docs" / "scenarios.md"
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```$", re.M | re.S)


def test_the_documented_example_is_the_builtin_lifecycle():
    complete = [b for b in YAML_BLOCK.findall(DOC.read_text()) if b.startswith("name:")]
    assert len(complete) == 1
    documented = load_text(complete[0], "docs/scenarios.md")
    # Shown under a name of its own, which `validate` accepts as the reader's file (the built-in's it refuses).
    assert documented.name == "my-credential-lifecycle"
    builtin = load_file(builtin_dir() / "syncfy-credential-lifecycle.yaml")
    assert documented.event_types() == builtin.event_types()
    # Same steps and parameter defaults (line numbers and the prose may differ).
    assert yaml.safe_load(complete[0])["steps"] == yaml.safe_load(Path(builtin.source).read_text())["steps"]
    assert {n: p.default for n, p in documented.params.items()} == {n: p.default for n, p in builtin.params.items()}


def test_every_documented_step_snippet_is_valid():
    blocks = YAML_BLOCK.findall(DOC.read_text())
    snippets = [b for b in blocks if b.startswith("- ")]
    params = next(b for b in blocks if b.startswith("params:"))  # the documented parameters, used by snippets
    assert len(snippets) >= 4
    for snippet in snippets:
        steps = "".join(f"  {line}\n" for line in snippet.splitlines())
        problems = []
        for provider in ("syncfy", "basistheory"):
            try:
                load_text(f"name: snippet\nprovider: {provider}\n{params}steps:\n{steps}")
                break
            except ScenarioInvalid as exc:
                problems.append(exc)
        else:
            pytest.fail(f"documented snippet is invalid: {problems}\n{snippet}")


def test_every_builtin_is_in_the_reference():
    text = DOC.read_text()
    assert [path.stem for path in BUILTIN if f"| `{path.stem}` |" not in text] == []
