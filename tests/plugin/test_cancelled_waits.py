"""An async wait that is cancelled (Ctrl-C cancels the test's task) ends at once, and leaves nothing running that
the loop's end waits for. Polled in a thread, the wait went on until its timeout, a minute by default: Ctrl-C did
nothing until then, and pytest then crashed with a CancelledError and a KeyboardInterrupt."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver


def _cancel_on_a_loop_of_its_own(waiting: Coroutine[Any, Any, Any], outcome: list[str], ended: threading.Event) -> None:
    """Start `waiting`, cancel it once it is under way, and close the loop: the runner's close waits for the
    threads the loop started, as pytest-asyncio's does after a Ctrl-C."""

    async def cancelled() -> None:
        task = asyncio.ensure_future(waiting)
        done, _ = await asyncio.wait({task}, timeout=0.5)
        outcome.append("ended on its own" if done else "waiting")  # the run never ends: it must still wait
        task.cancel()
        await asyncio.wait({task})
        outcome.append("cancelled" if task.cancelled() else f"not cancelled: {task.exception()!r}")

    with asyncio.Runner() as runner:
        runner.run(cancelled())
    ended.set()


@pytest.mark.parametrize("wait", ["await run", "receiver.wait_for_async"])
def test_a_cancelled_async_wait_ends_at_once_leaving_nothing_running(
    webhook_sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver], wait: str
) -> None:
    receiver = make_webhook_receiver(delay=math.inf)  # answers nothing: the run never finishes
    handle = webhook_sim.run("syncfy-credential-lifecycle", target=receiver.url)
    waiting = handle.wait_async(60) if wait == "await run" else receiver.wait_for_async(100, timeout=60)
    outcome: list[str] = []
    ended = threading.Event()
    thread = threading.Thread(target=_cancel_on_a_loop_of_its_own, args=(waiting, outcome, ended), daemon=True)
    thread.start()
    # Its timeout is 60 s: a wait that goes on after it is cancelled misses this by far.
    assert ended.wait(10), f"the loop did not end after the wait was cancelled ({outcome})"
    thread.join(5)
    assert outcome == ["waiting", "cancelled"]
