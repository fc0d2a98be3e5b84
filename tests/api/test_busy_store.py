"""The control API answers while runs at a high speed keep the store's queue long."""

from __future__ import annotations

import time

import httpx

from simulator.models import answers as schemas
from tests.api.harness import ok
from tests.ports import refused_port

FAST = {
    "scenario": "basistheory-http-requests",
    "params": {"duration": "30d", "mean_gap": "1s"},
    "speed": 1_000_000,
}


def test_new_runs_and_subscriptions_are_answered_while_fast_timed_runs_play(api: httpx.Client) -> None:
    """A run at a high speed writes its events as fast as the store takes them, keeping the writer's queue past
    the length at which others wait while a timed run plays: the new run's row waited behind it for good, and
    POST /runs never answered. And a statement in a batch sends the whole batch through this process's thread:
    one per dead delivery (the subscription's count of them) made commits of 2,000 rows take 5 s, so even a
    statement let in went unanswered for longer than a client waits."""
    dead = f"http://127.0.0.1:{refused_port()}/hook"
    for _ in range(3):
        ok(
            api.post("/subscriptions", json={"url": dead, "retry": {"delays": []}, "disable_after": 0}),
            schemas.Subscription,
            201,
        )
    runs = [ok(api.post("/runs", json=FAST, timeout=30), schemas.Run, 202)["id"] for _ in range(3)]
    # By 300 events of each run (3,600 rows with their deliveries) the runs make rows faster than the store commits
    # them, and the queue stays past TIMED_ROWS from then on. A busy machine took more than 10 s to get there.
    deadline = time.monotonic() + 60
    while (got := ok(api.get(f"/runs/{runs[0]}"), schemas.Run))["events"] < 300:
        assert time.monotonic() < deadline, f"the fast runs wrote too little: {got}"
        time.sleep(0.05)
    for _ in range(2):  # each took 1-3 s here; the server's stop ends the runs
        ok(api.post("/runs", json=FAST, timeout=30), schemas.Run, 202)
        ok(api.post("/subscriptions", json={"url": dead}, timeout=30), schemas.Subscription, 201)
