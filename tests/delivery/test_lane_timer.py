"""A lane's timer starts the attempt of the head that falls due itself, a turn of the event loop sooner than
waking the lane's task would, and only when the lane's own turn would have started it too."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from simulator.delivery.job import Job
from simulator.delivery.lane import Lane
from simulator.models import Subscription
from tests.conftest import until


def job(n: int, due: float = 0.0) -> Job:
    return Job(id=f"msg_{n}", n=n, subscription_id="sub", run_id=None, events=[], envelope_id="", speed=1.0, due=due)


class Attempts:
    """Attempts as they start; each stays in flight until the test lets one end (`end`) or all (`end_all`)."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.ended = 0
        self._ends = asyncio.Semaphore(0)
        self._all = False

    async def attempt(self, lane: Lane, sending: Job) -> None:
        self.started.append(sending.n)
        if not self._all:
            await self._ends.acquire()
        self.ended += 1
        lane.release(sending)

    def end(self) -> None:
        self._ends.release()

    def end_all(self) -> None:
        self._all = True
        for _ in range(len(self.started)):
            self._ends.release()


async def no_load(sub_id: str, after_n: int, limit: int) -> list[Job]:
    return []


def lane_for(attempts: Attempts, *, max_in_flight: int = 4, **sub: object) -> Lane:
    subscription = Subscription(id="sub", url="http://127.0.0.1:9/", max_in_flight=max_in_flight, **sub)  # type: ignore[arg-type]
    return Lane(subscription, attempts.attempt, no_load)


async def test_the_timer_starts_a_due_head_without_the_lanes_task() -> None:
    attempts = Attempts()
    lane = lane_for(attempts)  # never started: only the timer's callback can send
    lane.offer(job(1))
    lane.offer(job(2, due=time.time() + 3600))
    lane._fall_due()
    await until(lambda: attempts.started == [1], what="the due head's attempt")
    lane._fall_due()  # the next head is not due: it waits for its own timer
    await asyncio.sleep(0)
    assert attempts.started == [1]
    attempts.end_all()
    await lane.close(grace=1)


async def test_the_timer_starts_nothing_the_lanes_turn_would_hold_back() -> None:
    attempts = Attempts()
    full = lane_for(attempts, max_in_flight=1)
    full.offer(job(1))
    full.offer(job(2))
    full._fall_due()
    full._fall_due()  # one slot, taken by the first
    disabled = lane_for(attempts, status="disabled")
    disabled.offer(job(3))
    disabled._fall_due()
    spilled = lane_for(attempts)
    spilled.offer(job(4))
    spilled.spilled = True  # a read of the store comes first: it may hold an earlier delivery (strict order)
    spilled._fall_due()
    await asyncio.sleep(0)
    assert attempts.started == [1]
    attempts.end_all()
    for lane in (full, disabled, spilled):
        await lane.close(grace=1)


async def test_a_smaller_max_in_flight_counts_the_attempts_already_in_flight() -> None:
    attempts = Attempts()
    lane = lane_for(attempts, max_in_flight=3)
    for n in (1, 2, 3, 4):
        lane.offer(job(n))
    lane.start()
    try:
        await until(lambda: attempts.started == [1, 2, 3], what="three in flight")
        lane.update(dataclasses.replace(lane.sub, max_in_flight=1))
        for ended in (1, 2):  # still two, then one, in flight: no room under the new limit
            attempts.end()
            await until(lambda: attempts.ended == ended, what="an attempt's end")  # noqa: B023
            for _ in range(10):  # turns of the loop: a slot given back wakes the lane, which starts the next
                await asyncio.sleep(0)
            assert attempts.started == [1, 2, 3]
        attempts.end()
        await until(lambda: attempts.started == [1, 2, 3, 4], what="the next, once none is in flight")
    finally:
        attempts.end_all()
        await lane.close(grace=1)


class SlowStore:
    """A store whose reads answer nothing until the test lets them."""

    def __init__(self) -> None:
        self.reads = 0
        self.answer = asyncio.Event()

    async def load(self, sub_id: str, after_n: int, limit: int) -> list[Job]:
        self.reads += 1
        await self.answer.wait()
        return []


@pytest.mark.parametrize("strict_order", [False, True])
async def test_what_a_lane_holds_goes_out_as_due_while_it_reads_the_store(strict_order: bool) -> None:
    """A read of a busy store takes tens of ms; a lane sending by due time does not hold its due deliveries for it.
    In strict order it does: the read may bring an earlier position, which must go first."""
    attempts, store = Attempts(), SlowStore()
    sub = Subscription(id="sub", url="http://127.0.0.1:9/", max_in_flight=4, strict_order=strict_order)
    lane = Lane(sub, attempts.attempt, store.load, spilled=True)
    lane.start()
    try:
        await until(lambda: store.reads == 1, what="the read under way")
        lane.force(job(1))  # a redelivery, say: taken as it is, while the read waits
        lane.force(job(2, due=time.time() + 0.05))
        if strict_order:
            for _ in range(10):  # turns of the loop: nothing may go before the read answers
                await asyncio.sleep(0)
            assert attempts.started == []
            store.answer.set()
        await until(lambda: attempts.started == [1, 2], what="both, the second once due")
        assert store.answer.is_set() is strict_order  # sent during the read unless in strict order
    finally:
        store.answer.set()
        attempts.end_all()
        await lane.close(grace=1)


@pytest.mark.parametrize("strict_order", [True, False])
async def test_two_deliveries_at_one_position_are_both_sent(strict_order: bool) -> None:
    """Two processes publishing at once can number two deliveries of one subscription alike. Ordered by
    position (and, not in strict order, by due time) the tie fell to the jobs themselves, which do not compare:
    the lane's task died with a TypeError and its deliveries stayed pending for good."""
    attempts = Attempts()
    attempts.end_all()
    lane = lane_for(attempts, strict_order=strict_order)
    lane.start()
    try:
        twins = [dataclasses.replace(job(7), id=f"msg_7{suffix}") for suffix in "ab"]
        for one in [job(8), *twins]:
            lane.offer(one)
        await until(lambda: len(attempts.started) == 3, timeout=5, what="all three sent")
        if strict_order:
            assert attempts.started == [7, 7, 8]
    finally:
        await lane.close(1)
