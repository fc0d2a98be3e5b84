"""On a shared store a lane starts no attempt while its leases may have lapsed: a worker frozen past its lease
(SIGSTOP, a paused VM) found its timers due on waking and sent what the new holders had sent already."""

from __future__ import annotations

import asyncio

from simulator.delivery.lane import Lane
from simulator.models import Subscription
from tests.conftest import until
from tests.delivery.test_lane_timer import Attempts, job, no_load


class Fence:
    """Leases that are stale until the test renews them."""

    def __init__(self) -> None:
        self.lapsed = True
        self.asked = 0
        self._renewed = asyncio.Event()

    def stale(self) -> bool:
        return self.lapsed

    async def fresh(self) -> None:
        self.asked += 1
        await self._renewed.wait()

    def renew(self) -> None:
        self.lapsed = False
        self._renewed.set()


def fenced(attempts: Attempts, fence: Fence) -> Lane:
    sub = Subscription(id="sub", url="http://127.0.0.1:9/", max_in_flight=4)
    return Lane(sub, attempts.attempt, no_load, fence=fence)


async def test_no_attempt_starts_until_the_leases_are_renewed() -> None:
    attempts, fence = Attempts(), Fence()
    lane = fenced(attempts, fence)
    lane.start()
    lane.offer(job(1))
    lane.offer(job(2))
    await until(lambda: fence.asked == 2, what="both due deliveries to wait for the leases")
    assert attempts.started == []
    fence.renew()
    await until(lambda: attempts.started == [1, 2], what="the attempts once renewed")
    attempts.end_all()
    await lane.close(grace=1)


async def test_a_lane_dropped_while_it_waits_sends_nothing() -> None:
    """The round that ends the wait found the lease taken: the lane is dropped, the new holder sends."""
    attempts, fence = Attempts(), Fence()
    lane = fenced(attempts, fence)
    lane.start()
    lane.offer(job(1))
    await until(lambda: fence.asked == 1, what="the due delivery to wait for the leases")
    closing = asyncio.create_task(lane.close(grace=1))
    await asyncio.sleep(0)
    fence.renew()
    await closing
    assert attempts.started == []


async def test_fresh_leases_cost_a_send_nothing() -> None:
    attempts, fence = Attempts(), Fence()
    fence.renew()
    lane = fenced(attempts, fence)
    lane.start()
    lane.offer(job(1))
    await until(lambda: attempts.started == [1], what="the attempt")
    assert fence.asked == 0
    attempts.end_all()
    await lane.close(grace=1)
