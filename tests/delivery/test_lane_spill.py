"""A lane that reads the store back (it starts spilled: after a restart, or a worker taking over a subscription)
while deliveries keep being committed for it: what is offered during a read is taken when that read ends, so
the lane stops reading instead of chasing the stream read after read."""

from __future__ import annotations

import asyncio

from simulator.delivery.job import Job
from simulator.delivery.lane import Lane
from simulator.models import Subscription
from tests.conftest import until


def job(n: int) -> Job:
    return Job(id=f"msg_{n}", n=n, subscription_id="sub", run_id=None, events=[], envelope_id="", speed=1.0, due=0.0)


class Store:
    """The rows committed for the lane, and reads that each wait for the test to let them answer."""

    def __init__(self) -> None:
        self.committed: list[Job] = []
        self.reads: list[int] = []  # `after_n` of each read
        self.answer = asyncio.Event()

    async def load(self, sub_id: str, after_n: int, limit: int) -> list[Job]:
        snapshot = [j for j in self.committed if j.n > after_n][:limit]  # what was committed when the read began
        self.reads.append(after_n)
        await self.answer.wait()
        self.answer.clear()
        return snapshot


async def test_what_is_offered_during_a_read_is_taken_when_the_read_ends() -> None:
    store, sent = Store(), []

    async def attempt(lane: Lane, sending: Job) -> None:
        sent.append(sending.n)
        lane.release(sending)

    lane = Lane(Subscription(id="sub", url="http://127.0.0.1:9/", max_in_flight=4), attempt, store.load, spilled=True)
    store.committed = [job(1), job(2)]
    lane.start()
    try:
        await until(lambda: len(store.reads) == 1, what="the first read")
        for n in (3, 4, 5):  # committed and offered while the read is under way: not in its answer
            store.committed.append(job(n))
            assert lane.offer(job(n)) is False
        store.answer.set()
        await until(lambda: sent == [1, 2, 3, 4, 5], what="every delivery, in order")
        assert not lane.spilled
        store.committed.append(job(6))
        assert lane.offer(job(6)) is True  # taken in memory: the spill is over
        await until(lambda: sent[-1:] == [6], what="the next delivery")
        assert store.reads == [0], "the lane read the store again for what it had been offered"
    finally:
        store.answer.set()
        await lane.close(grace=1)
