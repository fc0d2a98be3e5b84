"""A playing run's plan: how many events its timeline holds and when its next and last are due (the progress and
ETA a run shows), how far ahead of its time each event is built, and after how many events they come from a
process of their own."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulator.core.validation import PLAN_LIMIT
from simulator.scenarios import runner

# Events are built and persisted this long before they are due (a run's clock starts this long after it is
# ready), so the store's latency never makes a delivery late.
LOOKAHEAD = 0.2
# A run past this many events has the rest built by a process of its own, so this one only sends them.
OFFLOAD_AFTER = 2000


@dataclass
class Plan:
    """What a playing run announces: its next event's wall time, its last event's, how many events in all."""

    next_at: float | None = None
    ends_at: float | None = None
    planned: int | None = None


def handoff(speed: float, planned: int | None) -> int | None:
    """After how many events a run's events come from a process of their own (`runner.play`'s `handoff`). A
    timed run known to go past OFFLOAD_AFTER (or too long to count) takes all of them from it, and starts once
    its first are ready: built here while it starts, they were the ones late under readers."""
    if OFFLOAD_AFTER is None or speed == 0 or (planned is not None and planned <= OFFLOAD_AFTER):
        return OFFLOAD_AFTER
    return 0


async def sleep_ahead(seconds: float) -> None:
    """Wake LOOKAHEAD early: the event is then built and persisted ahead of time and sent exactly when due,
    so store latency never makes a delivery late."""
    await asyncio.sleep(max(0.0, seconds - LOOKAHEAD))


async def announce(
    plan: Plan, scenario: Any, seed: int, params: dict[str, Any], start: datetime, speed: float
) -> float | None:
    """Measure the run's timeline (in a thread: a long one takes a moment) into `plan`; returns the wall seconds
    from its first event to its last (None past PLAN_LIMIT)."""
    count, last = await asyncio.to_thread(_measure, scenario, seed, params, start)
    plan.planned = count
    return None if last is None else last / speed


def _measure(scenario: Any, seed: int, params: dict[str, Any], start: datetime) -> tuple[int | None, float | None]:
    """How many events the run emits and the simulated offset of the last one (None, None past PLAN_LIMIT)."""
    count, last = 0, start
    try:
        for item in runner.timeline(scenario, seed=seed, params=params, start_time=start):
            count += 1
            if count > PLAN_LIMIT:
                return None, None
            last = item.at
    except OverflowError:  # its end is past the year 9999: no ETA, and the run stops when it gets there
        return None, None
    return count, (last - start).total_seconds()
