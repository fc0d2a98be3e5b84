"""A run's wait that times out names the deliveries the run waits for, at most ten, each with why (its attempts and
last error, when it is next due), as `wait_for_deliveries` does: the counts alone named no delivery, nor the
attempts' `timeout after 1s` that the log had."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable

import pytest

from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver


@pytest.mark.parametrize("how", ["wait", "await"])
def test_a_runs_timed_out_wait_names_the_deliveries_it_waits_for(
    webhook_sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver], how: str
) -> None:
    receiver = make_webhook_receiver(delay=math.inf)  # answers nothing
    webhook_sim.subscribe(receiver.url, events=["syncfy:*"], timeout=1, retry={"delays": [60]})
    run = webhook_sim.run("syncfy-credential-lifecycle", seed=1)
    with pytest.raises(TimeoutError) as raised:
        if how == "wait":
            run.wait(timeout=3)
        else:
            asyncio.run(run.wait_async(timeout=3))
    said = str(raised.value)
    assert said.startswith(f"run {run.id} (syncfy-credential-lifecycle) is still running after 3s"), said
    named = re.findall(r"(msg_\w+): (pending|failed)", said)
    assert 1 <= len(named) <= 10, said
    pending = {d.id for d in webhook_sim.deliveries(run=run.id, attempts=False) if d.status in ("pending", "failed")}
    assert {delivery for delivery, _ in named} <= pending, said
    assert "(last: timeout after 1s)" in said, said
