"""Subscribers that answer to hurt, next to a healthy one, through a served simulator: the healthy one keeps
receiving on time, the control API keeps answering, and every hostile attempt is recorded and retried on
schedule."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from simulator.delivery.sender import RESPONSE_EXCERPT
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, serving_api

ROOT = Path(__file__).resolve().parents[2]

# Seconds from emitting to the healthy receiver, and for /health to answer: room for a loaded machine (one answer
# took 1.17 s with the whole suite running on two cores, and this bounds the slowest of hundreds), and still short
# of a hostile attempt's timeout, which is how long a receiver that froze the loop for one attempt would stall
# everything.
ON_TIME = 3.0
HOSTILE_TIMEOUT = 4.0


@contextmanager
def hostile_receivers() -> Iterator[dict[str, str]]:
    """The receivers of `tests.delivery.hostile_receivers`, in a process of their own; the URL of each by name."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.delivery.hostile_receivers"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            ports = json.loads(proc.stdout.readline())  # printed once it serves (an empty line if it died)
            yield {name: f"http://127.0.0.1:{port}/hook" for name, port in ports.items()}
        finally:
            proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


class HealthWatch:
    """Asks `GET /health` every 50 ms from a thread of its own, recording how long each answer took."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-watch", daemon=True)
        self.latencies: list[float] = []
        self.failures: list[str] = []

    def _run(self) -> None:
        with httpx.Client(base_url=self._base, timeout=5.0) as client:
            while not self._stop.wait(0.05):
                started = time.monotonic()
                try:
                    status = client.get("/health").status_code
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                self.latencies.append(time.monotonic() - started)
                if status != 200:
                    self.failures.append(f"HTTP {status}")

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def emit_and_time(api: httpx.Client, healthy: Receiver) -> float:
    """Emit one event for the healthy receiver; seconds until it had it."""
    started = time.time()
    emitted = api.post("/events", json={"type": "token.updated"})
    assert emitted.status_code == 202, emitted.text
    event_id = emitted.json()["id"]

    def arrival() -> float | None:
        return next((r.at for r in list(healthy.requests) if event_id in r.event_ids), None)

    eventually(lambda: arrival() is not None, timeout=10, what=f"{event_id} at the healthy receiver")
    arrived = arrival()
    assert arrived is not None
    return arrived - started


def only_delivery(api: httpx.Client, sub_id: str) -> dict[str, Any]:
    [listed] = api.get("/deliveries", params={"subscription": sub_id}).json()["data"]
    detail = api.get(f"/deliveries/{listed['id']}")
    assert detail.status_code == 200, detail.text  # never a 500, whatever the receiver said
    return detail.json()


def test_hostile_subscribers_cost_a_healthy_one_nothing(tmp_path: Path) -> None:
    retry = {"delays": [0.3] * 40, "jitter": 0}
    with (
        serving_api(tmp_path) as server,
        server.client() as api,
        Receiver() as healthy,
        hostile_receivers() as urls,
        HealthWatch(server.url) as health,
    ):
        subs = {}
        for name, url in urls.items():
            spec = {"url": url, "events": ["token.created"], "timeout": HOSTILE_TIMEOUT, "retry": retry}
            made = api.post("/subscriptions", json=spec)
            assert made.status_code == 201, made.text
            subs[name] = made.json()["id"]
        made = api.post("/subscriptions", json={"url": healthy.url, "events": ["token.updated"]})
        assert made.status_code == 201, made.text
        # One delivery to each hostile receiver, tried again and again (the capped one waits a day) while events
        # keep coming for the healthy one.
        assert api.post("/events", json={"type": "token.created"}).status_code == 202

        def tried(name: str) -> int:
            [delivery] = api.get("/deliveries", params={"subscription": subs[name]}).json()["data"]
            return delivery["attempts"]

        latencies = [emit_and_time(api, healthy)]
        deadline = time.monotonic() + 60
        while not all(tried(name) >= 3 for name in subs if name != "retry-after-400-nines"):
            assert time.monotonic() < deadline, "the hostile deliveries were not retried on schedule"
            latencies.append(emit_and_time(api, healthy))
        deliveries = {name: only_delivery(api, sub_id) for name, sub_id in subs.items()}

    assert health.latencies and not health.failures, health.failures
    figures = (
        f"{len(latencies)} healthy deliveries, slowest {max(latencies) * 1000:.0f} ms; "
        f"{len(health.latencies)} /health answers, slowest {max(health.latencies) * 1000:.0f} ms"
    )
    assert max(latencies) < ON_TIME, figures
    assert max(health.latencies) < ON_TIME, figures

    def first_attempt(name: str) -> tuple[int | None, str | None]:
        attempt = deliveries[name]["attempt_log"][0]
        return attempt["status_code"], attempt["error"]

    malformed = "ProtocolError: malformed response: Invalid character in chunk size"
    assert first_attempt("negative-chunk") == (None, malformed)
    assert first_attempt("endless-head") == (None, "ProtocolError: response head too large")
    assert first_attempt("slow-drip") == (None, f"timeout after {HOSTILE_TIMEOUT:g}s")
    assert first_attempt("retry-after-superscript") == (
        503,
        "Retry-After '\u00b2' ignored: neither delta-seconds nor an HTTP-date",
    )
    for name in ("endless-body", "50-mb-body"):  # the start of the body, not all of it
        attempt = deliveries[name]["attempt_log"][0]
        assert attempt["status_code"] == 503 and set(attempt["response"]) == {"x"}
        assert len(attempt["response"]) <= RESPONSE_EXCERPT
    capped = deliveries["retry-after-400-nines"]
    assert [a["number"] for a in capped["attempt_log"]] == [1]
    assert capped["last_error"] == f"Retry-After {'9' * 40 + '…'!r} capped at 86400 s (1 day)"
    waits = datetime.fromisoformat(capped["next_attempt_at"]) - datetime.fromisoformat(
        capped["attempt_log"][0]["started_at"]
    )
    assert capped["status"] == "failed" and 86_400 <= waits.total_seconds() <= 86_400 + 60
