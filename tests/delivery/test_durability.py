"""Crash safety and isolation: a SIGKILLed simulator resends exactly what it had not finished; a hanging
receiver does not slow another subscription."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from simulator.models.inputs import EventSpec, SubscriptionSpec
from simulator.testing.receiver import Receiver
from tests.conftest import until

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 2000


def start_worker(db: Path, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.delivery.crash_worker", str(db), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc


def stop(proc: subprocess.Popen[str], sig: int) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


async def ready(proc: subprocess.Popen[str]) -> None:
    """Wait for the worker's `ready` line (everything published)."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
    assert line.strip() == "ready", line


async def test_sigkill_mid_flight_then_restart_resends_exactly_the_unfinished(tmp_path):
    db = tmp_path / "crash.db"
    with Receiver() as receiver:
        # At most 8 at once, 20 ms each: 400 a second, so half the deliveries are still to go when the kill comes,
        # however slowly a loaded machine publishes them.
        receiver.respond(status=204, delay=0.02)
        first = start_worker(db, "fresh", receiver.url, str(EVENTS))
        try:
            await ready(first)
            await receiver.wait_for_async(EVENTS // 2, timeout=60)
        finally:
            stop(first, signal.SIGKILL)
        await until(lambda: receiver.in_flight == 0, what="the receiver to finish what it was handed")
        with sqlite3.connect(db) as conn:
            statuses = dict(conn.execute("select id, status from deliveries"))
            conn.execute("""update subscriptions set headers = '{"X-Process": "second"}'""")
        assert len(statuses) == EVENTS, "every delivery was persisted before the crash"
        unfinished = {i for i, s in statuses.items() if s != "succeeded"}
        assert unfinished, "the crash came mid-flight"

        second = start_worker(db, "resume")
        try:
            await ready(second)
            await until(
                lambda: (
                    {r.headers["webhook-id"] for r in receiver.requests if r.headers["x-process"] == "second"}
                    >= unfinished
                ),
                timeout=60,
                what="every unfinished delivery after the restart",
            )
            await until(
                lambda: {r.headers["webhook-id"] for r in receiver.requests} >= set(statuses),
                timeout=60,
                what="every delivery",
            )
        finally:
            stop(second, signal.SIGTERM)

    by_process: dict[str, list[str]] = {"first": [], "second": []}
    for r in receiver.requests:
        by_process[r.headers["x-process"]].append(r.headers["webhook-id"])
    assert set(by_process["second"]) == unfinished
    assert len(by_process["second"]) == len(unfinished)  # each resent once
    duplicates = set(by_process["first"]) & set(by_process["second"])
    in_flight = set(by_process["first"]) & unfinished
    assert duplicates == in_flight
    # The same ids on the resend: receivers can dedupe on webhook-id and event.id.
    event_ids = [r.json()["event"]["id"] for r in receiver.requests]
    assert len(set(event_ids)) == EVENTS


async def test_an_open_syncfy_batch_is_sent_after_a_sigkill(tmp_path, receiver):
    db = tmp_path / "batch.db"
    first = start_worker(db, "batch", receiver.url, "3")
    try:
        await ready(first)  # three events emitted (each committed before `emit` returned), the batch still open
    finally:
        stop(first, signal.SIGKILL)
    assert receiver.requests == []
    with sqlite3.connect(db) as conn:
        emitted = [eid for (eid,) in conn.execute("select id from events order by seq, rowid")]
    assert len(emitted) == 3
    second = start_worker(db, "resume")
    try:
        await ready(second)
        [request] = await receiver.wait_for_async(1, timeout=30)
    finally:
        stop(second, signal.SIGTERM)
    assert len(request.json()["events"]) == 3
    assert receiver.event_ids() == emitted  # all three, in order, in the one batch they were collected into


async def test_a_hanging_receiver_does_not_slow_another_subscription(sim, make_receiver):
    hanging, fast = make_receiver(), make_receiver()
    hanging.respond(status=204, delay=30)
    await sim.create_subscription(SubscriptionSpec(url=hanging.url, timeout=60))
    await sim.create_subscription(SubscriptionSpec(url=fast.url))
    for _ in range(30):
        await sim.emit(EventSpec(type="token.created"))
    await fast.wait_for_async(30, timeout=10)
    assert len(hanging.requests) == 0 and hanging.in_flight == 1
