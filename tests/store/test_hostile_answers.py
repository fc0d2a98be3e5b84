"""What a receiver answers is stored whatever its bytes, on SQLite and on PostgreSQL. NUL is valid UTF-8 but
PostgreSQL's text refuses it: an answer holding one made its attempt's record (and the delivery's status) a change
the store refused for good, and the run waited for ever."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec

ANSWER = b"ok\x00then \xc3\xa9"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


@pytest.fixture
async def nul_receiver() -> AsyncIterator[str]:
    server = await asyncio.start_server(_answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks"
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)


async def test_an_answer_holding_nul_is_recorded_exactly(store_url: str, nul_receiver: str):
    sim = await Simulator.open(store_url)
    try:
        run = await sim.runs.start(
            RunSpec(scenario="basistheory-token-lifecycle", seed=4, speed=0, target=nul_receiver)
        )
        done = await sim.runs.wait(run.id, timeout=60)
        assert done.status == "completed", done.error
        deliveries = [d for _, d in await sim.store.list_deliveries(run_id=run.id)]
        assert deliveries and {d.status for d in deliveries} == {"succeeded"}
        for delivery in deliveries:
            (attempt,) = await sim.store.attempts(delivery.id)
            assert attempt.response_encoding == "base64"
            assert base64.b64decode(attempt.response or "") == ANSWER
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)
