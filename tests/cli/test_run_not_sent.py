"""A run stopped (Ctrl-C, SIGTERM) before some of its deliveries were attempted counts them as `not sent`: in the
summary, `not_sent` in `--report` and skipped test cases in `--junit`. They were counted as `failed` and listed as
failed deliveries "not attempted yet", as if the receiver had failed them."""

from __future__ import annotations

import json
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulator.testing.receiver import Receiver
from tests.cli.conftest import TIMEOUT
from tests.cli.test_run import junit
from tests.cli.test_run_stop_and_report import Running, junit_parses, run_args


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_deliveries_a_stopped_run_never_attempted_are_not_sent_not_failed(
    tmp_path: Path, receiver: Receiver, sig: signal.Signals
) -> None:
    receiver.respond(204, delay=0.3)  # one attempt at a time: the rest wait their turn when the signal comes
    args = run_args(tmp_path, receiver.url, "--speed", "0")
    args[1] = "syncfy-credential-lifecycle"  # 7 events at once
    ran = Running(*args)
    receiver.wait_for(1, timeout=TIMEOUT)
    code, out, err = ran.finish(sig)
    assert code == (130 if sig == signal.SIGINT else 143), (out, err)

    report = json.loads((tmp_path / "report.json").read_text())
    sent = {event_id for request in receiver.requests for event_id in request.event_ids}
    # What failed was sent: an attempt the receiver had and did not answer in the grace, if any.
    assert all(f["attempts"] >= 1 and set(f["event_ids"]) <= sent for f in report["failures"]), report
    assert len(report["failures"]) == report["failed"], report
    assert report.get("not_sent", 0) >= 1, report
    assert report["succeeded"] + report["failed"] + report["not_sent"] == report["deliveries"] == 7, report

    lines = out.splitlines()
    assert f"failed: {report['failed']}" in lines and f"not sent: {report['not_sent']}" in lines, out
    assert "not attempted yet" not in out, out

    junit(tmp_path / "junit.xml")  # valid against the Apache Ant JUnit schema, <skipped> and all
    suite = junit_parses(tmp_path / "junit.xml")
    skipped = [case for case in suite.iter("testcase") if case.find("skipped") is not None]
    assert len(skipped) == int(suite.get("skipped")) == report["not_sent"], ET.tostring(suite, encoding="unicode")
    assert int(suite.get("failures")) == report["failed"] and suite.get("errors") == "1"  # the run's own case
    assert all(c.find("skipped").get("message").startswith("not sent: the run ended before") for c in skipped)


def test_a_run_that_ends_has_nothing_not_sent(tmp_path: Path, receiver: Receiver, main) -> None:
    args = run_args(tmp_path, receiver.url, "--speed", "0")
    args[1] = "syncfy-credential-lifecycle"
    ran = main(*args)
    assert ran.code == 0, ran
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["succeeded"], report["failed"], report["not_sent"]) == (7, 0, 0), report
    assert not any(line.startswith("not sent") for line in ran.out.splitlines()), ran.out
    assert junit_parses(tmp_path / "junit.xml").get("skipped") == "0"
