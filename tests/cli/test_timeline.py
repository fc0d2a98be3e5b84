"""Runs that would take long say so: `scenarios NAME` plans the timeline before a run, `GET /runs/{id}` shows
the next event and the ETA while it plays."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from simulator.scenarios import loader, runner
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually
from tests.cli.conftest import cli

START = "2025-01-01T00:00:00Z"


def planned(name: str, seed: int, params: dict | None = None) -> list[tuple[float, str]]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    items = runner.timeline(loader.find(name), seed=seed, params=params or {}, start_time=start)
    return [((i.at - start).total_seconds(), i.step.type) for i in items]


def test_scenarios_name_describes_it_and_plans_its_timeline(main):
    ran = main("scenarios", "syncfy-credential-lifecycle", "--seed", "42", "--speed", "10", "--start-time", START)
    assert ran.code == 0, ran
    scenario = loader.find("syncfy-credential-lifecycle")
    lines = ran.out.splitlines()
    assert lines[0] == f"syncfy-credential-lifecycle (syncfy): {' '.join(scenario.description.split())}"
    for param in scenario.params.values():
        assert any(line.startswith(f"  {param.name} = {json.dumps(param.default)}") for line in lines), param
    plan = planned("syncfy-credential-lifecycle", 42)
    listed = [line.split() for line in lines if re.match(r"  \+\d", line)]
    assert [words[1] for words in listed] == [etype for _, etype in plan]
    span = plan[-1][0]
    summary = next(line for line in lines if line.startswith("timeline for seed 42: "))
    assert summary.startswith(f"timeline for seed 42: {len(plan)} events over ")
    assert lines[-1].startswith("at speed 10 a run takes about ")
    assert ran.out.count("\n") == len(lines)

    ran = main("scenarios", "syncfy-credential-lifecycle", "--seed", "42", "--start-time", START, "--json")
    data = json.loads(ran.out)
    assert [(round(t, 3), e) for t, e in plan] == [(item["offset_s"], item["type"]) for item in data["timeline"]]
    assert data["duration_s"] == round(span, 3)


def test_a_file_without_a_description_and_one_event_reads_as_english(main, tmp_path):
    """It read `one (syncfy): ` with a colon before nothing, and `1 events`."""
    path = tmp_path / "one.yaml"
    path.write_text("name: one\nprovider: syncfy\nsteps:\n  - emit: credentials.created\n")
    ran = main("scenarios", str(path))
    lines = ran.out.splitlines()
    assert ran.code == 0 and lines[0] == "one (syncfy)", ran
    assert any(line.startswith("timeline for seed 0: 1 event over ") for line in lines), lines


def test_the_planned_timeline_is_what_a_run_delivers(receiver: Receiver):
    """The same seed, parameters and start time: the events a run delivers are the ones listed, in order."""
    described = cli("scenarios", "syncfy-two-factor", "--seed", "7", "--start-time", START, "--json")
    assert described.returncode == 0, described.stderr
    listed = [item["type"] for item in json.loads(described.stdout)["timeline"]]
    ran = cli(
        "run", "syncfy-two-factor", "--seed", "7", "--start-time", START, "--speed", "0", "--target", receiver.url
    )
    assert ran.returncode == 0, ran.stderr
    delivered = [e["header"]["event"]["name"] for r in receiver.requests for e in r.json()["events"]]
    assert delivered == listed


def test_scenarios_name_refuses_what_it_cannot_plan(main):
    ran = main("scenarios", "syncfy-credential-lifecycel")
    assert ran.code == 2 and "did you mean syncfy-credential-lifecycle" in ran.err
    ran = main("scenarios", "syncfy-credential-lifecycle", "--param", "nope=1")
    assert ran.code == 2 and "params.nope" in ran.err
    ran = main("scenarios", "syncfy-credential-lifecycle", "--speed", "-1")
    assert ran.code == 2 and "--speed" in ran.err


def test_a_playing_run_shows_its_next_event_and_eta(server, api, receiver: Receiver):
    run = api.post("/runs", json={"scenario": "api-slow", "speed": 1, "target": receiver.url}).json()

    def waiting() -> dict | None:
        now = api.get(f"/runs/{run['id']}").json()
        return now if now["events"] == 1 and now["next_event_at"] is not None else None

    eventually(waiting, timeout=60, what="the run to wait for its second event")
    now = waiting()
    assert now["planned_events"] == 2
    started, following, ends = (
        datetime.fromisoformat(now[key].replace("Z", "+00:00")) for key in ("started_at", "next_event_at", "ends_at")
    )
    assert abs((ends - following).total_seconds()) < 1  # the next event is the last
    assert 3540 < (ends - started).total_seconds() < 3660  # the scenario waits an hour, played at speed 1
    cancelled = api.post(f"/runs/{run['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert (cancelled["next_event_at"], cancelled["ends_at"], cancelled["planned_events"]) == (None, None, None)


def test_at_speed_0_there_is_nothing_to_announce(server, api, receiver: Receiver):
    run = api.post("/runs", json={"scenario": "api-slow", "speed": 0, "target": receiver.url}).json()
    eventually(lambda: api.get(f"/runs/{run['id']}").json()["status"] == "completed", 30, "the run")
    done = api.get(f"/runs/{run['id']}").json()
    assert (done["next_event_at"], done["ends_at"], done["planned_events"]) == (None, None, None)
