"""A Syncfy batch replays byte for byte: the same scenario, seed, parameters and start time give the same batches
with the same `rid`, whichever subscription (with its server-made id) receives them.

Each run is a simulator of its own, serving its control API on 127.0.0.1, delivering to a real receiver, as two
CI jobs (or a test run twice) would: the subscriptions' ids differ, the bodies must not.
"""

from __future__ import annotations

import json
from pathlib import Path

from simulator import testing
from simulator.testing.receiver import Receiver

# Events back to back between waits, so a subscription with `batch` collects several into one POST.
BACK_TO_BACK = """name: back-to-back
provider: syncfy
description: three events at once, then a refresh every second
steps:
  - emit: credentials.created
  - emit: credentials.updated
  - emit: credentials.refreshed
  - wait: 1s
  - repeat: 4
    steps:
      - emit: credentials.refreshed
  - wait: 1s
  - emit: documents.success
"""


def _batched_bodies(scenario: Path) -> list[bytes]:
    with Receiver() as receiver, testing.webhook_sim() as sim:
        sub = sim.subscribe(receiver.url, events=["syncfy:*"], batch=10)
        run = sim.run(scenario, seed=42, start_time="2025-01-01T00:00:00Z", subscriptions=[sub.id]).wait(timeout=60)
        assert run.status == "completed", run
        return [r.body for r in receiver.requests]


def test_a_batched_run_repeats_its_bodies_and_rids_on_another_subscription(tmp_path: Path) -> None:
    scenario = tmp_path / "back-to-back.yaml"
    scenario.write_text(BACK_TO_BACK)
    first, second = _batched_bodies(scenario), _batched_bodies(scenario)
    sizes = [len(json.loads(body)["events"]) for body in first]
    assert sizes == [3, 4, 1]  # batches, not one event per POST
    rids = [json.loads(body)["rid"] for body in first]
    assert [json.loads(body)["rid"] for body in second] == rids
    assert second == first
