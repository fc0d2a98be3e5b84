"""A run that fails half-way (its timeline goes past the year 9999 after its first event) made that event: `run`
waits for its delivery before the summary, and the summary, `--report` and the JUnit file agree on how it ended.
They read the records while the attempt was under way: "failed: 1" beside "succeeded after 1 attempt", a
delivery "not attempted yet", or a passing test case in the JUnit file of a report that counted it failed."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree

from simulator.testing.receiver import Receiver
from tests.cli.conftest import cli

FAR = """name: far
provider: syncfy
description: one event, then a wait no calendar holds
steps:
  - emit: credentials.created
  - wait: 3000000d
  - emit: credentials.updated
"""


def test_a_run_whose_timeline_outgrows_the_calendar_delivers_what_it_made_and_exits_2(tmp_path: Path) -> None:
    scenario, report, junit = tmp_path / "far.yaml", tmp_path / "report.json", tmp_path / "junit.xml"
    scenario.write_text(FAR)
    with Receiver() as receiver:
        receiver.respond(204, delay=0.3)  # the run fails while its one delivery is under way
        args = ["--speed", "0", "--seed", "1", "--report", str(report), "--junit", str(junit)]
        out = cli("run", str(scenario), "--target", receiver.url, *args)
        assert len(receiver.requests) == 1
    assert out.returncode == 2, out  # a scenario problem met while playing, as a repeat that emits nothing is
    assert "past the year 9999" in out.stdout + out.stderr
    written = json.loads(report.read_text())
    assert (written["deliveries"], written["succeeded"], written["by_status"]) == (1, 1, {"succeeded": 1}), written
    assert (written["attempts"], written["failures"]) == (1, []), written
    delivered, run = etree.parse(str(junit)).iter("testcase")
    assert list(delivered) == [], etree.tostring(delivered)  # passed, as the report says
    assert [e.tag for e in run] == ["error"] and "past the year 9999" in run[0].get("message")


DECADES = """name: decades
provider: syncfy
steps:
  - emit: credentials.created
  - wait: 50000d
  - emit: credentials.refreshed
"""


def test_a_syncfy_run_whose_waits_outlast_its_ids_fails_as_a_refused_scenario_and_exits_2(tmp_path: Path) -> None:
    """From a start decades before 2106-02-07 the run is taken (only a start near that time is looked ahead
    from); its event past that time failed the run with the exception's name and a traceback, exit 1."""
    scenario = tmp_path / "decades.yaml"
    scenario.write_text(DECADES)
    with Receiver() as receiver:
        args = ["--speed", "0", "--seed", "1", "--start-time", "2060-01-01T00:00:00Z"]
        out = cli("run", str(scenario), "--target", receiver.url, *args)
        assert len(receiver.requests) == 1  # the event before it went, as in any run failing half-way
    assert out.returncode == 2, out
    said = out.stdout + out.stderr
    assert "past 2106-02-07T06:28:15+00:00, the last time a Syncfy id" in said, said
    assert "Traceback" not in said and "TimeBeyondIds" not in said, said
