"""Scenarios that `validate` accepts but that played forever, or crashed what read them: a repeat whose emit never
(or almost never) plays, a `repeat {for}` whose waits no longer move the time, a tagged value YAML cannot read,
a lognormal draw too large for a number. Each now ends with a clear error naming the file, line and field (or,
for the draw, plays as documented). What could hang is bounded: a deadline here, a timeout on a process."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from simulator import cli
from simulator.core import validation
from simulator.errors import InvalidInput
from simulator.models import Event
from simulator.scenarios import ScenarioInvalid, distributions, guard, load_text, offload, play, runner
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually
from tests.api.serving import Served
from tests.ports import refused_port

START = datetime(2025, 6, 1, tzinfo=UTC)
# What planning up to the guard takes is well under a second; the deadlines leave room for a busy machine.
DEADLINE = 20.0

RARE = """name: rare
provider: syncfy
steps:
  - emit: credentials.created
  - repeat: 1000000000
    steps:
      - choose:
          - weight: 1.0e-300
            steps: [{emit: credentials.refreshed}]
          - weight: 1
            steps: [{wait: 1ms}]
  - emit: credentials.updated
"""
STILL = """name: still
provider: syncfy
steps:
  - wait: 3000000d
  - repeat: {for: 100ms}
    steps:
      - wait: 0.00001
  - emit: credentials.created
"""
COUNTED = """name: counted
provider: syncfy
params:
  n: {default: 1}
steps:
  - emit: credentials.created
  - repeat: 1000000000
    steps:
      - wait: 1ms
      - repeat: "${n}"
        steps: [{emit: credentials.refreshed}]
  - emit: credentials.updated
"""


@contextmanager
def deadline(seconds: float = DEADLINE) -> Iterator[None]:
    """Interrupt the test's own code (a loop that would never end) with TimeoutError after `seconds`."""
    assert threading.current_thread() is threading.main_thread()

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still planning after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def planned(text: str, source: str, params: dict[str, object] | None = None) -> tuple[list[str], ScenarioInvalid]:
    """The event types planned before the scenario's timeline stopped, and the error it stopped with."""
    types: list[str] = []
    with deadline(), pytest.raises(ScenarioInvalid) as caught:
        for item in runner.timeline(load_text(text, source), seed=7, params=params or {}, start_time=START):
            types.append(item.step.type)
    return types, caught.value


def test_a_repeat_whose_emit_is_almost_never_picked_stops_naming_the_repeat() -> None:
    types, error = planned(RARE, "rare.yaml")
    assert types == ["credentials.created"]  # what came before is planned (and sent) first
    [problem] = error.errors
    assert (problem.file, problem.line, problem.field) == ("rare.yaml", 5, "steps[1].repeat")
    assert problem.message.startswith("this repeat played more than 100000 steps without emitting an event")


def test_a_repeat_for_whose_waits_no_longer_move_the_time_ends_saying_so() -> None:
    """3,000,000 days in, 10 µs added to the offset leaves it as it was: the `for` never ran out."""
    types, error = planned(STILL, "still.yaml")
    assert types == []
    [problem] = error.errors
    assert (problem.line, problem.field) == (5, "steps[1].repeat")
    assert f"played {guard.MAX_STILL_PASSES} passes in a row without moving the time" in problem.message
    assert "repeat {for: ...} would never end" in problem.message


STILL_EMITTING = """name: still-emitting
provider: syncfy
steps:
  - emit: credentials.created
  - wait: 100000000000
  - repeat: {for: 10ms}
    steps:
      - wait: 0.000001
      - emit: credentials.updated
"""


def test_a_repeat_for_that_emits_in_each_pass_but_no_longer_moves_the_time_ends_saying_so() -> None:
    """1e11 s in, a wait of 1 µs leaves the time as it was: each pass emitted, so no pass was silent, and the
    run went on planning events for ever."""
    types, error = planned(STILL_EMITTING, "still-emitting.yaml")
    assert types == ["credentials.created"] + ["credentials.updated"] * guard.MAX_STILL_PASSES
    [problem] = error.errors
    assert (problem.line, problem.field) == (6, "steps[2].repeat")
    assert f"played {guard.MAX_STILL_PASSES} passes in a row without moving the time" in problem.message


def test_the_repeat_named_is_the_one_that_began_after_the_last_event() -> None:
    text = """name: inner
provider: syncfy
steps:
  - repeat: 3
    steps:
      - emit: credentials.created
      - repeat: 1000000000
        steps:
          - choose:
              - weight: 1.0e-300
                steps: [{emit: credentials.refreshed}]
              - weight: 1
                steps: [{wait: 1ms}]
"""
    types, error = planned(text, "inner.yaml")
    assert types == ["credentials.created"]
    [problem] = error.errors
    assert (problem.line, problem.field) == (7, "steps[0].steps[1].repeat")


def test_steps_that_pass_the_checks_still_play_with_no_false_stop() -> None:
    """Two repeats of 60,000 waits, each under the bound, one after the other between two events; and a repeat
    of 90,000 waits after an emit, three times."""
    text = (
        "name: long-quiet\nprovider: syncfy\nsteps:\n  - emit: credentials.created\n"
        "  - repeat: 60000\n    steps: [{wait: 1ms}]\n  - repeat: 60000\n    steps: [{wait: 1ms}]\n"
        "  - repeat: 3\n    steps:\n      - emit: credentials.updated\n      - repeat: 90000\n"
        "        steps: [{wait: 1ms}]\n"
    )
    with deadline():
        types = [p.step.type for p in runner.timeline(load_text(text), seed=1, params={}, start_time=START)]
    assert types == ["credentials.created"] + ["credentials.updated"] * 3


def test_a_count_a_parameter_makes_0_around_the_only_emit_is_refused_before_the_run() -> None:
    scenario = load_text(COUNTED, "counted.yaml")
    with pytest.raises(InvalidInput) as caught:
        validation.resolve_params(scenario, {"n": 0})  # as `POST /runs` and `run` check a run's values
    problem, blamed = caught.value.errors
    assert (problem.line, problem.field, blamed.field) == (7, "steps[1].repeat", "params.n")
    assert "these steps emit nothing" in problem.message


def test_a_literal_repeat_0_around_the_only_emit_is_refused_by_the_checks() -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_text(COUNTED.replace('"${n}"', "0"), "zero.yaml")
    assert [(e.line, e.field) for e in caught.value.errors] == [(7, "steps[1].repeat")]


def capped(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True, timeout=DEADLINE * 3
    )


@pytest.mark.parametrize("command", ["scenarios", "run"])
def test_the_command_line_ends_with_exit_2_naming_file_line_and_field(tmp_path: Path, command: str) -> None:
    path = tmp_path / "rare.yaml"
    path.write_text(RARE)
    extra = ["--target", f"http://127.0.0.1:{refused_port()}/x", "--speed", "0", "--db", str(tmp_path / "r.db")]
    ran = capped(command, str(path), *(extra if command == "run" else []))
    assert ran.returncode == 2, ran.stderr
    assert f"error: {path} is not a valid scenario: {path}:5: steps[1].repeat: this repeat played" in ran.stderr


def test_run_delivers_the_events_made_before_the_invalid_part(tmp_path: Path) -> None:
    """They were made, so they are sent, and the summary says how: it called them "not attempted yet"."""
    path = tmp_path / "rare.yaml"
    path.write_text(RARE)
    with Receiver() as receiver:
        receiver.respond(204, delay=1.0)  # still answering when the run fails
        ran = capped("run", str(path), "--target", receiver.url, "--speed", "0", "--signing", "none")
        assert ran.returncode == 2, ran.stderr
        assert [json.loads(r.body)["events"][0]["header"]["event"]["name"] for r in receiver.requests] == [
            "credentials.created"
        ]
    assert "not attempted yet" not in ran.stdout, ran.stdout


def test_a_served_run_fails_naming_the_repeat_and_the_server_answers_and_stops(tmp_path: Path) -> None:
    """The run held the server's event loop: /health timed out and SIGTERM was not heard (only kill -9 was)."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "rare.yaml").write_text(RARE)
    (folder / "counted.yaml").write_text(COUNTED)
    served = Served(tmp_path / "serve", ["--scenarios", str(folder)])
    try:
        with httpx.Client(base_url=served.url, timeout=DEADLINE) as api:
            target = f"http://127.0.0.1:{refused_port()}/x"
            refused = api.post("/runs", json={"scenario": "counted", "target": target, "params": {"n": 0}})
            assert refused.status_code == 422, refused.text
            assert [e["field"] for e in refused.json()["errors"]] == ["steps[1].repeat", "params.n"]
            started = api.post("/runs", json={"scenario": "rare", "target": target, "speed": 0})
            assert started.status_code == 202, started.text
            url = f"/runs/{started.json()['id']}"
            eventually(lambda: api.get(url).json()["status"] not in ("pending", "running"), DEADLINE, "the run's end")
            run = api.get(url).json()
            assert run["status"] == "failed"
            assert f"{folder / 'rare.yaml'}:5: steps[1].repeat: this repeat played" in run["error"]
            assert api.get("/health").status_code == 200
        assert served.stop() == 0
    finally:
        served.proc.kill()
        served.proc.wait(DEADLINE)


# --- values YAML cannot read -----------------------------------------------------------------------------------

ONE = "name: tagged\nprovider: syncfy\nsteps:\n"


@pytest.mark.parametrize(
    ("step", "field", "words"),
    [
        ("  - emit: credentials.created\n    unchecked: !!bool maybe\n", "steps[0].unchecked", "'maybe' cannot be"),
        ("  - repeat: !!int abc\n    steps: [{emit: credentials.created}]\n", "steps[0].repeat", "!!int"),
        ("  - wait: !!float abc\n  - emit: credentials.created\n", "steps[0].wait", "!!float: expected a number"),
        (
            f"  - repeat: {'9' * 4301}\n    steps: [{{emit: credentials.created}}]\n",
            "steps[0].repeat",
            "a whole number of 4301 digits is too long to read: expected at most 4300 digits",
        ),
    ],
    ids=["bool", "int", "float", "long-int"],
)
def test_a_value_yaml_cannot_read_is_one_error_with_its_line_and_field(step: str, field: str, words: str) -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_text(ONE + step, "tagged.yaml")
    [problem] = caught.value.errors
    assert (problem.line, problem.field) == (4 + step.startswith("  - emit"), field)
    assert words in problem.message


def test_run_and_the_plugin_refuse_such_a_file_as_any_invalid_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], webhook_sim: WebhookSim
) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(ONE + "  - emit: credentials.created\n    unchecked: !!bool maybe\n")
    code = cli.main(["run", str(path), "--target", "http://127.0.0.1:9/x", "--db", str(tmp_path / "t.db")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{path}:5: steps[0].unchecked: 'maybe' cannot be read as !!bool" in err
    assert "Traceback" not in err
    with pytest.raises(ScenarioInvalid) as caught:
        webhook_sim.run(path, target="http://127.0.0.1:9/x")
    assert [(e.line, e.field) for e in caught.value.errors] == [(5, "steps[0].unchecked")]


# --- a lognormal draw past what a number holds -------------------------------------------------------------------


def test_a_lognormal_draw_too_large_for_a_number_becomes_its_max() -> None:
    """`sigma: 300` draws past e^709 about one time in 2.4: the run failed with a false "past the year 9999"."""
    text = (
        "name: wide\nprovider: syncfy\nsteps:\n  - emit: credentials.created\n  - repeat: 200\n    steps:\n"
        "      - wait: {lognormal: {median: 1s, sigma: 300, max: 1m}}\n      - emit: credentials.refreshed\n"
    )
    at = [p.at for p in runner.timeline(load_text(text), seed=3, params={}, start_time=START)]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(at)]
    assert len(at) == 201 and max(gaps) == 60.0


def test_a_capped_overflow_draws_as_much_from_the_random_stream() -> None:
    """Each draw is the normal draw's exp capped at `max`, overflowing or not, and the stream moves on the same:
    the draws after one that overflowed are those a stream that never overflowed gives."""
    dist = distributions.Lognormal(1.0, 300.0, 60.0)
    drawn, expected = random.Random(11), random.Random(11)
    overflowed = 0
    for _ in range(200):
        normal = expected.normalvariate(0.0, 300.0)
        overflowed += normal > 709.8
        assert distributions.draw(dist, drawn) == (60.0 if normal > math.log(60.0) else math.exp(normal))
    assert overflowed > 0


async def test_a_run_built_by_a_process_of_its_own_fails_with_its_error_and_builds_nothing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process stopped at the repeat, and this one built the whole run again from its start, in the server's
    event loop, only to meet the same repeat."""
    monkeypatch.setattr(offload, "BUILD_WHILE_STARTING", False)
    rebuilt: list[int] = []
    real = offload.Job.build

    def build(job: offload.Job, skip: int = 0) -> Iterator[runner.Built]:
        rebuilt.append(skip)
        return real(job, skip)

    monkeypatch.setattr(offload.Job, "build", build)
    sent: list[str] = []

    async def emit(event: Event, step: object) -> None:
        sent.append(event.type)

    scenario = load_text(RARE, "rare.yaml")
    with pytest.raises(ScenarioInvalid) as caught:
        await asyncio.wait_for(
            play(scenario, seed=7, params={}, start_time=START, speed=0, emit=emit, handoff=0), DEADLINE
        )
    assert [(e.line, e.field) for e in caught.value.errors] == [(5, "steps[1].repeat")]
    assert sent == ["credentials.created"] and rebuilt == []
