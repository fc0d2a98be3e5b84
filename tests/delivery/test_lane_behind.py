"""A lane's read of what other processes numbered behind its position (a shared store): what it holds, what
ended during the read and what waits among its offered jobs are left out, and a job is taken once whatever
reads it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from sqlalchemy import exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from simulator.delivery.job import Job
from simulator.delivery.lane import Lane
from simulator.models import Subscription
from tests.conftest import until
from tests.delivery.test_lane_timer import Attempts, job, no_load

SUB = Subscription(id="sub", url="http://127.0.0.1:9/", max_in_flight=4)


class Store:
    """The active jobs of the subscription, as the lane's reads see them; a job leaves once it succeeded."""

    def __init__(self, *jobs: Job) -> None:
        self.active = {j.id: j for j in jobs}
        self.asked: list[set[str]] = []  # what each read was told the lane holds

    async def behind(self, sub_id: str, upto_n: int, held: Callable[[], set[str]]) -> list[Job]:
        self.asked.append(held())
        left = held()
        return [j for j in self.active.values() if j.n <= upto_n and j.id not in left]


class Succeeding(Attempts):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    async def attempt(self, lane: Lane, sending: Job) -> None:
        await super().attempt(lane, sending)
        sending.status = "succeeded"
        self.store.active.pop(sending.id, None)


async def test_a_read_behind_takes_what_others_numbered_there_and_not_what_the_lane_holds() -> None:
    mine, theirs = job(7), job(3)
    store = Store(mine, theirs)
    attempts = Succeeding(store)
    lane = Lane(SUB, attempts.attempt, no_load, behind=store.behind)
    lane.offer(mine)  # committed here: the lane holds it
    lane.loaded_upto = 9  # another process's rows took the lane past 3
    lane.catch_up()
    lane.start()
    await until(lambda: sorted(attempts.started) == [3, 7], what="both attempts")
    attempts.end_all()
    await until(lambda: lane.held == 0, what="both to end")
    assert store.asked[0] >= {"msg_7"}
    assert attempts.started.count(3) == 1 and attempts.started.count(7) == 1
    await lane.close(grace=1)


async def test_a_read_behind_leaves_out_what_waits_among_the_offered() -> None:
    """A spilled lane keeps what it refused for when its reads catch up; taken by a read behind as well, it could
    end in between and be taken again."""
    waiting = job(5)
    store = Store(waiting)
    gate = asyncio.Event()

    async def page(sub_id: str, after_n: int, limit: int) -> list[Job]:
        await gate.wait()
        return []

    attempts = Succeeding(store)
    lane = Lane(SUB, attempts.attempt, page, spilled=True, behind=store.behind)
    lane.offer(waiting)  # refused while spilled: kept among the offered
    lane.loaded_upto = 9
    lane.catch_up()
    lane.start()
    await until(lambda: store.asked, what="the read behind")
    assert "msg_5" in store.asked[0]
    gate.set()
    await until(lambda: attempts.started == [5], what="its one attempt")
    attempts.end_all()
    await until(lambda: lane.held == 0, what="it to end")
    await lane.close(grace=1)


async def test_a_job_taken_twice_is_held_and_sent_once() -> None:
    attempts = Attempts()
    lane = Lane(SUB, attempts.attempt, no_load)
    lane.offer(job(1))
    lane.force(job(1))  # read back as well, say
    assert lane.held == 1
    lane.start()
    await until(lambda: attempts.started == [1], what="the attempt")
    attempts.end_all()
    await until(lambda: lane.held == 0, what="it to end")
    assert attempts.started == [1]
    await lane.close(grace=1)


async def test_a_read_the_store_refuses_is_told_in_its_own_words(caplog: pytest.LogCaptureFixture) -> None:
    """The warning carried SQLAlchemy's decoration (`[SQL: …]`, a link to its docs) around the driver's words."""
    adapted = AsyncAdapt_asyncpg_dbapi.Error("connection was closed in the middle of operation", OSError())
    refused = exc.DBAPIError.instance("SELECT deliveries.id FROM deliveries", None, adapted, Exception)
    reads = 0

    async def failing(sub_id: str, after_n: int, limit: int) -> list[Job]:
        nonlocal reads
        reads += 1
        raise refused

    caplog.set_level(logging.WARNING, logger="webhook_sim")
    lane = Lane(SUB, Attempts().attempt, failing, spilled=True)
    lane.start()
    try:
        await until(lambda: reads >= 1 and "cannot read the store" in caplog.text, what="the lane's warning")
    finally:
        await lane.close(grace=0)
    assert "connection was closed in the middle of operation" in caplog.text
    assert "[SQL:" not in caplog.text and "sqlalche.me" not in caplog.text


@pytest.mark.parametrize("strict", [True, False])
async def test_a_page_read_past_a_delivery_numbered_behind_sends_that_one_first(strict: bool) -> None:
    """Two processes publish to one subscription, each numbering its own: a run's event 3 got a position behind
    the lane's (the other's rows were read past it), then its publisher caught up with the store and numbered
    event 4 past them. The page brought event 4 at once and event 3 waited for the next catch-up: the receiver
    of a `max_in_flight: 1` or `strict_order` subscription got 4 before 3."""
    earlier, later = job(100), job(201)
    store = Store(earlier, later)

    async def page(sub_id: str, after_n: int, limit: int) -> list[Job]:
        return [j for j in store.active.values() if j.n > after_n][:limit]

    attempts = Succeeding(store)
    sub = Subscription(id="sub", url="http://127.0.0.1:9/", max_in_flight=1, strict_order=strict)
    lane = Lane(sub, attempts.attempt, page, spilled=True, behind=store.behind)
    lane.loaded_upto = 105  # past event 3's position: the other process's rows were read
    lane.several_publishers = True
    lane.start()
    await until(lambda: attempts.started, what="the first attempt")
    attempts.end_all()
    await until(lambda: len(attempts.started) == 2, what="both attempts")
    assert attempts.started == [100, 201]
    await lane.close(grace=1)


async def test_a_delivery_committed_here_behind_what_a_read_brought_is_sent_before_the_next() -> None:
    """A read brought another process's row (position 139); this process then committed a run's event 3 at 137
    and its event 4 at 141. Offered at 137, at or below what the reads had reached, event 3 was taken as read
    already and waited for the next catch-up (a second), while event 4 went at once."""
    other, earlier, later = job(139), job(137), job(141)
    store = Store(other)
    pages = [[other]]

    async def page(sub_id: str, after_n: int, limit: int) -> list[Job]:
        return pages.pop() if pages else []

    attempts = Succeeding(store)
    sub = Subscription(id="sub", url="http://127.0.0.1:9/", max_in_flight=1, strict_order=True)
    lane = Lane(sub, attempts.attempt, page, spilled=True, behind=store.behind)
    lane.several_publishers = True
    lane.start()
    await until(lambda: attempts.started == [139], what="the row read")
    for committed in (earlier, later):  # committed here, in their order
        store.active[committed.id] = committed
        lane.offer(committed)
    attempts.end_all()
    await until(lambda: len(attempts.started) == 3, what="all three attempts")
    assert attempts.started == [139, 137, 141]
    await lane.close(grace=1)
