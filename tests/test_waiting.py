"""A wait for an event within a time limit passes a cancellation on, even one that comes as the event is set: on
Python 3.11 `asyncio.wait_for` swallowed it, and an event stream's producer whose client had hung up went on
reading the store on every commit for its five minutes. The watch behind `GET /stream` waits so."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from simulator.core.watch import DeliveryWatch, Filters
from simulator.waiting import set_within


async def cancelled_as_it_is_set(wait: Callable[[], Awaitable[bool]], event: asyncio.Event) -> None:
    """A loop that waits again and again, as a stream's producer does, cancelled in the turn after `event` is
    set, when the wait's own step is done but the loop has not resumed: it must end, cancelled."""

    async def loop() -> None:
        while True:
            await wait()
            event.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # it waits now
    event.set()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):  # a swallowed cancellation leaves the loop waiting for good
            await task
    assert task.cancelled()


async def test_set_within_passes_a_cancellation_on() -> None:
    event = asyncio.Event()
    await cancelled_as_it_is_set(lambda: set_within(event, 10.0), event)


async def test_set_within_says_whether_the_event_came_in_time() -> None:
    event = asyncio.Event()
    assert await set_within(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await set_within(event, 10.0) is True


async def test_a_stream_watch_waiting_for_changes_is_cancelled_with_its_stream() -> None:
    watch = DeliveryWatch(store=None, filters=Filters())  # type: ignore[arg-type]  # waiting needs no store
    await cancelled_as_it_is_set(lambda: watch.wait(10.0), watch._changed)
