"""`webhook-sim run` as a CI step: a verdict that names each failed delivery and why, the same in --report and a
JUnit file CI systems display, bounded retries, and Ctrl-C that still says what happened."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from simulator.core.report import plain_error, reason
from simulator.runtime import serve_app
from simulator.testing.receiver import Receiver
from tests.cli.conftest import TIMEOUT, cli
from tests.ports import refused_port

JUNIT_XSD = Path(__file__).parents[1] / "fixtures" / "junit" / "JUnit.xsd"
START = "2025-01-01T00:00:00Z"
LIFECYCLE = ["syncfy-credential-lifecycle", "--seed", "5", "--speed", "0", "--start-time", START]
BOX = set("─━│┃┌┐└┘┏┓┗┛╭╮╰╯├┤┬┴┼═║╔╗╚╝")


def junit(path: Path) -> etree._ElementTree:
    """The JUnit file, checked against the Apache Ant JUnit schema."""
    schema = etree.XMLSchema(etree.parse(str(JUNIT_XSD)))
    document = etree.parse(str(path))
    assert schema.validate(document), schema.error_log
    return document


@pytest.fixture(scope="module")
def event_ids() -> list[str]:
    """The events the lifecycle emits for seed 5 at START, in order, as a receiver got them."""
    with Receiver() as receiver:
        out = cli("run", *LIFECYCLE, "--target", receiver.url)
        assert out.returncode == 0, out.stderr
        return receiver.event_ids()


def test_an_unreachable_target_names_every_failed_delivery(tmp_path, event_ids):
    url = f"http://127.0.0.1:{refused_port()}/hooks"
    report, junit_file = tmp_path / "report.json", tmp_path / "junit.xml"
    out = cli(
        "run", *LIFECYCLE, "--target", url, "--max-attempts", "2", "--report", str(report), "--junit", str(junit_file)
    )
    assert out.returncode == 1, out.stderr
    assert not BOX & set(out.stdout)  # not a terminal: plain lines
    lines = out.stdout.splitlines()
    assert lines[0] == "syncfy-credential-lifecycle (seed 5, speed 0)"
    assert "status: completed" in lines and "failed: 7" in lines and "  dead: 7" in lines
    failed = lines[lines.index("failed deliveries (7):") + 1 :]
    assert len(failed) == 7
    for line, eid in zip(failed, event_ids, strict=True):
        assert re.fullmatch(rf"  [a-z.]+ {eid} \(msg_\w+\): dead after 2 attempts, connection refused", line), line

    data = json.loads(report.read_text())
    assert [f["event_ids"] for f in data["failures"]] == [[eid] for eid in event_ids]
    assert {(f["status"], f["attempts"], f["reason"], f["last_status"]) for f in data["failures"]} == {
        ("dead", 2, "connection refused", None)
    }
    suite = junit(junit_file).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "7", "0")
    messages = [f.get("message") for f in suite.iter("failure")]
    assert [m.split()[1] for m in messages] == event_ids
    assert all(m.endswith("dead after 2 attempts, connection refused") for m in messages)


def test_the_summary_counts_what_it_does_not_list(event_ids):
    out = cli(
        "run", *LIFECYCLE, "--target", f"http://127.0.0.1:{refused_port()}/", "--max-attempts", "1", "--failures", "3"
    )
    assert out.returncode == 1
    failed = out.stdout.splitlines()[-4:]
    assert [line.split()[1] for line in failed[:3]] == event_ids[:3]
    assert failed[3] == "  … and 4 more (all of them in --report and --junit)"


def test_junit_of_a_run_with_one_failing_delivery(tmp_path, event_ids):
    """The first delivery meets a receiver answering 503 with a reason; the others succeed."""
    answered: list[int] = []

    async def hook(request: Request) -> PlainTextResponse:
        await request.body()
        answered.append(503 if not answered else 204)
        return PlainTextResponse("down for maintenance", status_code=answered[-1])

    app = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    junit_file, report = tmp_path / "junit.xml", tmp_path / "report.json"
    with serve_app(app) as served:
        out = cli(
            "run", *LIFECYCLE, "--target", served.url + "/hooks", "--max-attempts", "1",
            "--junit", str(junit_file), "--report", str(report),
        )  # fmt: skip
    assert out.returncode == 1, out.stderr
    expected = f"credentials.created {event_ids[0]} "
    [line] = [line for line in out.stdout.splitlines() if line.startswith("  credentials.created")]
    assert line.startswith("  " + expected)
    assert line.endswith(": dead after 1 attempt, HTTP 503; answer: down for maintenance")

    suite = junit(junit_file).getroot()
    cases = suite.findall("testcase")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "1", "0")
    [failing] = [c for c in cases if c.find("failure") is not None]
    assert failing.get("name") == f"credentials.created {event_ids[0]}"
    failure = failing.find("failure")
    assert failure.get("type") == "dead"
    assert failure.get("message").endswith("dead after 1 attempt, HTTP 503; answer: down for maintenance")
    assert "answer: down for maintenance" in failure.text
    assert [c.get("name").split()[1] for c in cases] == event_ids
    assert {c.get("classname") for c in cases} == {"webhook-sim.syncfy-credential-lifecycle"}


@pytest.mark.parametrize(
    ("options", "attempts"),
    [
        (["--max-attempts", "3"], 3),
        (["--retry-delays", "0,10ms"], 3),
        (["--max-attempts", "2", "--retry-delays", "0,0,0"], 2),
        # The last wait repeats for the retries the list leaves: 2 attempts were made, and nothing said why.
        (["--max-attempts", "4", "--retry-delays", "0"], 4),
    ],
)
def test_retries_are_bounded_for_ci(options, attempts, receiver: Receiver):
    receiver.respond(500)
    out = cli("run", *LIFECYCLE, "--target", receiver.url, *options)
    assert out.returncode == 1
    assert len(receiver.requests) == 7 * attempts
    assert f"dead after {attempts} attempts, HTTP 500" in out.stdout


def test_a_scenario_file_with_bounded_retries(tmp_path, receiver: Receiver):
    scenario = tmp_path / "one.yaml"
    scenario.write_text("name: one\nprovider: basistheory\ndescription: One.\nsteps:\n  - emit: token.created\n")
    receiver.respond(500)
    out = cli("run", str(scenario), "--target", receiver.url, "--speed", "0", "--max-attempts", "2")
    assert out.returncode == 1, out.stderr
    assert len(receiver.requests) == 2  # the first attempt and one retry, then no more
    assert "dead after 2 attempts, HTTP 500" in out.stdout


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        (["--max-attempts", "0"], "--max-attempts: expected a whole number >= 1, got 0"),
        (["--max-attempts", "52", "--retry-delays", "0"], "--max-attempts: at most 51 with --retry-delays, got 52"),
        (["--retry-delays", "0,soon"], "--retry-delays: 'soon' is not a duration"),
        (["--failures", "-1"], "--failures"),
    ],
)
def test_bad_retry_options_exit_2(options, phrase):
    out = cli("run", *LIFECYCLE, "--target", "http://127.0.0.1:9/", *options)
    assert out.returncode == 2, out
    assert phrase in out.stderr


@pytest.mark.parametrize(
    ("variable", "value", "phrase"),
    [
        (
            "WEBHOOK_SIM_MAX_ATTEMPTS",
            "0",
            "--max-attempts: expected a whole number >= 1, got 0 (from the environment: WEBHOOK_SIM_MAX_ATTEMPTS)",
        ),
        (
            "WEBHOOK_SIM_RETRY_DELAYS",
            "0,soon",
            "--retry-delays: 'soon' (from the environment: WEBHOOK_SIM_RETRY_DELAYS) is not a duration",
        ),
    ],
)
def test_a_bad_retry_value_from_the_environment_names_its_variable(variable, value, phrase):
    """README: a bad value from the environment is refused naming the option and the variable; these two, checked
    once the command line is read, named the option alone."""
    out = cli("run", *LIFECYCLE, "--target", "http://127.0.0.1:9/", env={variable: value})
    assert out.returncode == 2, out
    assert phrase in out.stderr


def test_reasons_in_plain_words():
    assert plain_error("timeout after 30s") == "timeout after 30 s"
    assert plain_error("ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 9)") == (
        "connection refused"
    )
    assert plain_error("ConnectionResetError: [Errno 104] Connection reset by peer") == (
        "connection reset by the receiver: [Errno 104] Connection reset by peer"
    )
    assert reason(500, "HTTP 500") == "HTTP 500"
    assert reason(429, "Retry-After ignored: 'soon'") == "HTTP 429 (Retry-After ignored: 'soon')"
    assert reason(None, None, "pending") == "not attempted yet"


SLOW = """\
name: two-an-hour-apart
provider: basistheory
description: A token, and another an hour later.
steps:
  - emit: token.created
  - wait: 1h
  - emit: token.created
"""
PROGRESS = re.compile(
    r"two-an-hour-apart: (pending|running), \d(/2)? events, deliveries: (none yet|succeeded=1|pending=1)"
    r"(, next event at \d\d:\d\d:\d\d)?"
)


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_ctrl_c_prints_what_happened_so_far_and_exits_130(tmp_path, receiver: Receiver):
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW)
    junit_file, report = tmp_path / "junit.xml", tmp_path / "report.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.cli",
            "run",
            str(scenario),
            "--target",
            receiver.url,
            "--speed",
            "1",
            "--junit",
            str(junit_file),
            "--report",
            str(report),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    err: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stderr, err), daemon=True).start()
    seen: list[str] = []
    try:
        # It says how long the run takes before the first event has even gone.
        while not any("next event at" in line for line in seen):
            seen.append(err.get(timeout=TIMEOUT))
        receiver.wait_for(1, timeout=TIMEOUT)
        # Its answer recorded too (the receiver has a request before the run has its outcome): the summary is of
        # what the run had recorded at Ctrl-C.
        while not any("succeeded=1" in line for line in seen):
            seen.append(err.get(timeout=TIMEOUT))
        proc.send_signal(signal.SIGINT)
        stdout = proc.stdout.read()
        assert proc.wait(timeout=TIMEOUT) == 130
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)
        proc.stdout.close()
    while (line := err.get(timeout=TIMEOUT)) is not None:
        seen.append(line)
    proc.stderr.close()
    plan = re.compile(
        r"two-an-hour-apart: 2 events, the last one due at \d\d:\d\d:\d\d, in (59 min \d+ s|1 h 0 min) "
        r"\(speed 1; --speed 0 plays it without waiting\)"
    )
    assert sum(1 for line in seen if plan.fullmatch(line.rstrip("\n"))) == 1, seen
    for line in seen[:-1]:  # nothing garbled: each line is whole and one the command writes
        assert "\r" not in line and (PROGRESS.fullmatch(line.rstrip("\n")) or plan.fullmatch(line.rstrip())), seen
    assert seen[-1] == "interrupted: this is what happened before Ctrl-C\n"
    title, *rest = stdout.splitlines()
    assert re.fullmatch(r"two-an-hour-apart \(seed \d+, speed 1\)", title)
    assert rest == [
        "status: cancelled",
        "events: 1",
        "deliveries: 1",
        "succeeded: 1",
        "failed: 0",
        "attempts: 1",
        *[line for line in stdout.splitlines() if line.startswith("latency")],
        "  succeeded: 1",
    ]
    assert json.loads(report.read_text())["status"] == "cancelled"
    suite = junit(junit_file).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "1")
    assert suite.find("testcase/error").get("message") == "the run cancelled"


def test_ctrl_c_during_an_attempt_counts_its_answer(tmp_path, receiver: Receiver):
    """The receiver was handed the delivery when Ctrl-C came: the run waits (up to a second) for its answer, and
    the summary counts it, as what the receiver had. It counted the delivery as not attempted yet."""
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW)
    receiver.respond(status=204, delay=0.5)
    command = [sys.executable, "-m", "simulator.cli", "run", str(scenario), "--target", receiver.url, "--speed", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while receiver.in_flight == 0:  # the attempt under way, its answer 0.5 s off
            assert time.monotonic() < deadline and proc.poll() is None, "no attempt came"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 130
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)
    lines = stdout.splitlines()
    assert "succeeded: 1" in lines and "attempts: 1" in lines, stdout
    assert len(receiver.requests) == 1
