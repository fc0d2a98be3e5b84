"""A run's summary: what `webhook-sim run` prints, writes with `--report` and renders as JUnit XML with `--junit`.

A verdict explains itself: besides the counts, the report names each delivery that did not succeed — its type,
event ids, attempts, the last HTTP status or error in plain words ("connection refused", "timeout after 30 s") and
an excerpt of the last answer.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from simulator.escapes import escape_controls
from simulator.models import Delivery, Run
from simulator.models.records import shown_answer

if TYPE_CHECKING:  # the command lines that print a report reach no store
    from simulator.store import Store

# Statuses a delivery keeps for good; a dropped one was dropped on purpose by the `drop` fault.
PASSED = frozenset({"succeeded", "dropped"})
# A report lists at most this many failed deliveries in full; the rest are counted.
REPORT_FAILURES = 1000
EXCERPT = 200

# The sender's error strings, said plainly: the exception name is for the log, the words are for the verdict.
_PLAIN = (
    (re.compile(r"^ConnectionRefusedError\b"), "connection refused"),
    (re.compile(r"^ConnectionResetError\b"), "connection reset by the receiver"),
    (re.compile(r"^(socket\.)?gaierror\b"), "host not found"),
    (re.compile(r"^SSL\w*Error\b"), "TLS handshake failed"),
    (re.compile(r"^ProtocolError\b"), "malformed HTTP answer"),
)
_TIMEOUT = re.compile(r"^timeout after ([0-9.]+)s$")
# What the sender adds to an attempt cut short: true of a store a later process sends from, not of a run's own
# temporary one; the report says what happened, so it stops before that.
_SENT_AGAIN = re.compile(r" \(the delivery is sent again [^)]*\)$")
# Characters XML 1.0 forbids (C0 controls but tab, LF and CR; lone surrogates; U+FFFE, U+FFFF), and CR, which a
# parser reads back as LF, and C1 controls, which a CI page shows as nothing: in a JUnit file each is written as
# the escape `serve`'s log and `run`'s summary use (`\x1b`), so the file parses and says what the receiver sent.
_NOT_XML = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return round(sorted_values[index], 2)


def plain_error(error: str | None) -> str | None:
    """The sender's error in plain words, its details after a colon where they add something."""
    if error is None:
        return None
    timeout = _TIMEOUT.match(error)
    if timeout:
        return f"timeout after {timeout.group(1)} s"
    for pattern, words in _PLAIN:
        if pattern.match(error):
            detail = error.partition(": ")[2]
            return words if words == "connection refused" or not detail else f"{words}: {detail}"
    return error


def reason(status_code: int | None, error: str | None, status: str = "dead") -> str:
    """Why a delivery did not succeed, in one phrase."""
    if status in ("pending", "failed") and status_code is None and error is None:
        return "not attempted yet"
    said = plain_error(error)
    if said == f"HTTP {status_code}":  # the sender names a refusal by its status when it has nothing to add
        said = None
    if status_code is not None:
        return f"HTTP {status_code}" + (f" ({said})" if said else "")
    return said or "no answer"


def outcome(delivery: Delivery) -> dict[str, Any]:
    """One delivery as the report shows it; `response` is an excerpt of the last answer (from its attempt log)."""
    last = delivery.attempt_log[-1] if delivery.attempt_log else None
    response = shown_answer(last.response or "", last.response_encoding).strip() if last is not None else ""
    status, error = delivery.last_status, delivery.last_error
    if last is not None and last.status_code is None and (last.error or "").startswith("interrupted:"):
        # An attempt cut short leaves its delivery due and the delivery's last error as it was: the attempt says
        # what happened (the receiver may have the request).
        status, error = None, _SENT_AGAIN.sub("", last.error or "")
    return {
        "delivery": delivery.id,
        "type": delivery.type,
        "event_ids": list(delivery.event_ids),
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status": status,
        "error": None if error == f"HTTP {status}" else plain_error(error),
        "reason": reason(status, error, delivery.status),
        "response": response[:EXCERPT] + ("…" if len(response) > EXCERPT else ""),
        "seconds": round(max(0.0, (delivery.finished_at or delivery.created_at) - delivery.created_at), 3),
    }


def never_attempted(status: str, attempts: int) -> bool:
    """Whether a delivery was never sent: a run stopped (Ctrl-C, SIGTERM, its own error) before its first attempt.
    It did not fail, nor pass; an attempt cut short counts as made (the receiver may have the request)."""
    return status == "pending" and attempts == 0


async def failures(store: Store, run_id: str, limit: int = REPORT_FAILURES) -> tuple[list[dict[str, Any]], int, int]:
    """The run's deliveries that were sent and did not succeed, oldest first (at most `limit` in full), how many in
    all, and how many were never sent (`never_attempted`)."""
    ended = [d for _, d in await store.list_deliveries(run_id=run_id) if d.status not in PASSED]
    found = [d for d in ended if not never_attempted(d.status, d.attempts)]
    shown = []
    for delivery in found[:limit]:
        full = await store.get_delivery(delivery.id)
        shown.append(outcome(full or delivery))
    return shown, len(found), len(ended) - len(found)


async def run_report(store: Store, run: Run) -> dict[str, Any]:
    attempts, latencies = await store.run_attempt_stats(run.id)
    counts = run.counts
    # Counted as failed, the deliveries a stopped run never sent made a verdict of what the receiver did not do.
    listed, failed, not_sent = await failures(store, run.id)
    return {
        "run": run.id,
        "scenario": run.scenario,
        "status": run.status,
        "error": run.error,
        "seed": run.spec.get("seed"),
        "speed": run.spec.get("speed"),
        "start_time": run.spec.get("start_time"),
        "events": run.events,
        "deliveries": sum(counts.values()),
        "succeeded": counts.get("succeeded", 0),
        "failed": failed,
        "not_sent": not_sent,
        "by_status": dict(sorted(counts.items())),
        "attempts": attempts,
        "latency_ms": {f"p{q}": percentile(latencies, q) for q in (50, 95, 99)},
        "duration_s": round((run.finished_at or 0) - (run.started_at or 0), 3) if run.finished_at else None,
        "failures": listed,
        "failures_omitted": failed - len(listed),
    }


def succeeded(report: dict[str, Any]) -> bool:
    """A run passes when it completed and every delivery succeeded."""
    return report["status"] == "completed" and report["failed"] == 0 and report["not_sent"] == 0


def failure_line(item: dict[str, Any]) -> str:
    """One failed delivery in one line: type, event ids, attempts, reason, excerpt of the answer."""
    ids = ", ".join(item["event_ids"]) or "-"
    plural = "s" if item["attempts"] != 1 else ""
    line = f"{item['type']} {ids} ({item['delivery']}): {item['status']} after {item['attempts']} attempt{plural}"
    line += f", {item['reason']}"
    if item["response"]:
        line += f"; answer: {' '.join(item['response'].split())}"
    return line


# -- JUnit XML ---------------------------------------------------------------------------------------------------


async def deliveries_of(store: Store, run_id: str) -> list[dict[str, Any]]:
    """Every delivery of the run as `outcome` describes it (attempt logs read for the failed ones only)."""
    out = []
    for _, delivery in await store.list_deliveries(run_id=run_id):
        full = await store.get_delivery(delivery.id) if delivery.status not in PASSED else None
        out.append(outcome(full or delivery))
    return out


def junit_xml(report: dict[str, Any], deliveries: list[dict[str, Any]], started_at: float | None) -> bytes:
    """The run as one JUnit `<testsuite>` (the Apache Ant form CI systems read): a test case per delivery,
    failures with their reason and the attempts' story, the run's own error as an `<error>` case."""
    cases = [_case(report["scenario"], item) for item in deliveries]
    if report["status"] != "completed":
        cases.append(_run_case(report))
    when = datetime.fromtimestamp(started_at or 0, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    suite = ET.Element(
        "testsuite",
        name=f"webhook-sim.{report['scenario']}",
        timestamp=when,
        hostname=socket.gethostname() or "localhost",
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.find("failure") is not None)),
        errors=str(sum(1 for c in cases if c.find("error") is not None)),
        skipped=str(sum(1 for c in cases if c.find("skipped") is not None)),
        time=f"{report['duration_s'] or 0:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name in ("run", "scenario", "seed", "speed", "start_time", "status"):
        ET.SubElement(properties, "property", name=name, value="" if report[name] is None else str(report[name]))
    suite.extend(cases)
    ET.SubElement(suite, "system-out").text = f"{report['deliveries']} deliveries, {report['attempts']} attempts"
    ET.SubElement(suite, "system-err").text = report["error"] or ""
    _xml_safe(suite)
    ET.indent(suite)
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"


def _case(scenario: str, item: dict[str, Any]) -> ET.Element:
    name = f"{item['type']} {', '.join(item['event_ids']) or item['delivery']}"
    case = ET.Element("testcase", name=name, classname=f"webhook-sim.{scenario}", time=f"{item['seconds']:.3f}")
    if never_attempted(item["status"], item["attempts"]):  # the run's own <error> case says why it stopped
        ET.SubElement(case, "skipped", message=f"not sent: the run ended before its first attempt ({item['delivery']})")
    elif item["status"] not in PASSED:
        failure = ET.SubElement(case, "failure", message=failure_line(item), type=item["status"])
        failure.text = "\n".join(
            [
                f"delivery {item['delivery']} ({item['type']}): {item['status']} after {item['attempts']} attempt(s)",
                f"last: {item['reason']}",
                *([f"answer: {item['response']}"] if item["response"] else []),
            ]
        )
    return case


def _xml_safe(root: ET.Element) -> None:
    """Escape, in every text and attribute under `root`, what XML 1.0 cannot hold (see `_NOT_XML`): a receiver's
    answer is any text, and one ESC or NUL in it made a file no CI system could parse."""
    for element in root.iter():
        element.text = _xml_text(element.text)
        element.tail = _xml_text(element.tail)
        for name, value in element.attrib.items():
            element.attrib[name] = escape_controls(value, _NOT_XML)


def _xml_text(text: str | None) -> str | None:
    return None if text is None else escape_controls(text, _NOT_XML)


def _run_case(report: dict[str, Any]) -> ET.Element:
    case = ET.Element("testcase", name="run", classname=f"webhook-sim.{report['scenario']}", time="0.000")
    message = f"the run {report['status']}" + (f": {report['error']}" if report["error"] else "")
    ET.SubElement(case, "error", message=message, type=report["status"]).text = message
    return case
