"""Readers take turns, so that deliveries due meanwhile go out on time.

The control API and the delivery engine share one event loop, and its queue is first come, first served. Every
step of a delivery (the timer, the attempt, its record's commit) joins the back of that queue; with 50 clients
reading at once, each of those steps waited behind 50 readers' steps, and a dashboard left open on a busy run
made deliveries late by a second. So:
- `reading()`: at most READERS reads are under way at once; the others wait without a place in the queue;
- `in_turns()`: a read converts a long list a few items per step, taking turns with the other reader;
- while other reads wait for a place, a read's place is given back only once it has rested as long as the read
  took (its answer is not held): under a crowd of readers, reads have the loop about half the time, and the
  process leaves the machine's cores free for as long. Without the rest, 50 clients kept the process busy without
  a pause, the OS then took its core away from it now and then, and a delivery falling due meanwhile waited for
  it (p99 lateness 4.7-5.9 ms at 1,000 events/s under 50 readers on 2 cores, against 2.5-4.2 ms with it).
A timer that fires then waits behind a handful of short steps, whatever the number of readers. Reads take longer
under load instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar
from weakref import WeakKeyDictionary

T = TypeVar("T")
R = TypeVar("R")

READERS = 2
# How long a read's place rests after it, as a share of the read's own time, and at most: a slow read (a text
# search over a large store, seconds long) must not then keep its place from everyone for as long again.
REST, REST_MAX = 1.0, 0.25
# Items per step: about half a millisecond of a delivery's conversion to JSON on the 2-core machine measured.
TURN_ITEMS = 10


@dataclass
class _Turns:
    readers: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(READERS))
    waiting: int = 0  # reads waiting for a place
    step: asyncio.Lock = field(default_factory=asyncio.Lock)


_BY_LOOP: WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = WeakKeyDictionary()


def _turns() -> _Turns:
    """This loop's (a process may run several: a test's servers each have a thread and a loop)."""
    loop = asyncio.get_running_loop()
    turns = _BY_LOOP.get(loop)
    if turns is None:
        turns = _BY_LOOP[loop] = _Turns()
    return turns


@asynccontextmanager
async def reading() -> AsyncIterator[None]:
    """Hold one of the READERS places for a read (its queries and its conversion to JSON). Only for work that
    ends by itself: a wait for something else would hold the place and stall every reader behind it. The place
    rests REST times as long as the read took (at most REST_MAX) before a read waiting for it has it; with nobody
    waiting it is free at once (a client or two reading one after another are not slowed)."""
    turns = _turns()
    turns.waiting += 1
    try:
        await turns.readers.acquire()
    finally:
        turns.waiting -= 1
    began = time.monotonic()
    try:
        yield
    finally:
        if turns.waiting:
            rest = min(REST_MAX, (time.monotonic() - began) * REST)
            asyncio.get_running_loop().call_later(rest, turns.readers.release)
        else:
            turns.readers.release()


async def in_turns(items: Iterable[T], convert: Callable[[T], R], size: int = TURN_ITEMS) -> list[R]:
    """`[convert(item) for item in items]`, `size` items per step, taking turns with every other reader."""
    pending = list(items)
    if len(pending) <= size:
        return [convert(item) for item in pending]  # one step anyway: no need to wait for a turn
    step = _turns().step
    out: list[R] = []
    for start in range(0, len(pending), size):
        async with step:
            out.extend(convert(item) for item in pending[start : start + size])
        await asyncio.sleep(0)  # with nobody waiting the lock is taken again at once: let the loop run between
    return out
