"""Waiting for an `asyncio.Event` within a time limit, without losing a cancellation.

On Python 3.11 `asyncio.wait_for` swallows a cancellation that arrives as the awaited thing completes: the task
goes on as if nothing had cancelled it. A loop that waits again then outlives what cancelled it: event-stream
producers whose clients had hung up went on reading the store on every commit, each until its five minutes ran
out, and held the server's stop past its grace. `asyncio.timeout` passes the cancellation on.
"""

from __future__ import annotations

import asyncio


async def set_within(event: asyncio.Event, seconds: float) -> bool:
    """Whether `event` is set within `seconds` (a wait that ends as soon as it is)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
