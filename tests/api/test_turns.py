"""Readers take turns: at most READERS reads of the control API are under way at once, and a long conversion goes
a few items per step, so what else the event loop has to do (a delivery falling due) runs in between."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from simulator.store import Store
from simulator.turns import READERS, REST, REST_MAX, TURN_ITEMS, in_turns, reading
from tests.api.harness import ApiServer


async def test_long_conversions_go_a_step_at_a_time_taking_turns() -> None:
    loop = asyncio.get_running_loop()
    order: list[tuple[str, int]] = []
    meanwhile: list[int] = []

    def convert(name: str, item: int) -> int:
        if (name, item) == ("a", 0):  # something else falls due while the first reader converts
            loop.call_soon(lambda: meanwhile.append(len(order)))
        order.append((name, item))
        return item * 2

    a, b = await asyncio.gather(
        in_turns(range(25), lambda i: convert("a", i), size=10),
        in_turns(range(25), lambda i: convert("b", i), size=10),
    )
    assert a == b == [i * 2 for i in range(25)]
    runs = [len(list(group)) for _, group in itertools.groupby(order, key=lambda pair: pair[0])]
    assert max(runs) <= 10 and len(runs) >= 5  # the readers alternate, a step each
    assert meanwhile and meanwhile[0] <= 20  # it ran after a step or two, not after all 50 conversions


async def test_while_reads_wait_a_place_rests_as_long_as_its_read_took() -> None:
    """The reads that held every place end (their answers go) without their rest; the one that waited for a place
    starts only after it."""
    took = 0.05
    entered: list[float] = []

    async def read() -> float:
        async with reading():
            entered.append(time.monotonic())
            await asyncio.sleep(took)
        return time.monotonic()

    ended = await asyncio.gather(*(read() for _ in range(READERS + 1)))
    assert entered[-1] - min(ended) >= took * REST * 0.9


async def test_the_rest_after_a_slow_read_is_bounded() -> None:
    """A read of seconds (a text search over a large store) does not keep its place from the readers waiting for
    as long again: its rest is REST_MAX at most."""
    slow = REST_MAX * 4
    entered: list[float] = []

    async def read(took: float) -> float:
        async with reading():
            entered.append(time.monotonic())
            await asyncio.sleep(took)
        return time.monotonic()

    ended = await asyncio.gather(*(read(slow) for _ in range(READERS)), read(0))
    assert entered[-1] - min(ended[:READERS]) >= REST_MAX * 0.9  # it rested
    assert entered[-1] - min(ended[:READERS]) < slow * REST  # but not as long as the read took


async def test_with_nobody_waiting_a_place_is_free_at_once() -> None:
    """Reads one after another (a client, a dashboard) are not slowed: each finds a place free."""
    entered = 0

    async def read(took: float) -> None:
        nonlocal entered
        async with reading():
            entered += 1
            await asyncio.sleep(took)

    await read(0.2)  # a long read, whose rest would outlast the short ones after it
    for _ in range(READERS - 1):
        await read(0.01)
    next_read = asyncio.create_task(read(0.01))
    for _ in range(3):
        await asyncio.sleep(0)
    assert entered == READERS + 1  # it did not wait out an earlier read's rest
    await next_read


def test_at_most_a_few_reads_are_under_way_at_once(
    server: ApiServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    under_way = 0
    most = 0
    real = Store.list_deliveries

    async def spy(self: Store, **kwargs: Any) -> Any:
        nonlocal under_way, most
        under_way += 1
        most = max(most, under_way)
        try:
            await asyncio.sleep(0.02)  # a read that takes a moment, so that many would overlap
            return await real(self, **kwargs)
        finally:
            under_way -= 1

    monkeypatch.setattr(Store, "list_deliveries", spy)

    def read(_: int) -> int:
        with server.client() as client:
            return client.get("/deliveries", params={"limit": 5}).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(read, range(24)))
    assert statuses == [200] * 24
    assert 0 < most <= READERS  # twelve clients at once, each read held a moment: without turns, about twelve
    assert api.get("/health").status_code == 200


def test_a_page_written_a_step_at_a_time_is_the_json_of_one_answer(api: httpx.Client) -> None:
    """A page of more items than one step converts (the event catalogue) is spliced together from its items' JSON:
    the same bytes as the whole page written at once, with the answer's own media type."""
    answer = api.get("/events", params={"limit": 100})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    page = json.loads(answer.content)
    assert len(page["data"]) > TURN_ITEMS and list(page) == ["data", "next_cursor"]
    assert answer.content == json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
