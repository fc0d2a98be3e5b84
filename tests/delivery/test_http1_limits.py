"""Receivers that answer to hurt: what each costs the sender. Every exchange runs on an event loop of its own, watched
by a lag probe, so a client that blocks its loop fails the test rather than hanging it."""

from __future__ import annotations

import asyncio
import tracemalloc

from simulator.delivery.sender import Outcome, Sender
from tests.delivery.scripted import LagProbe, Script, Server, read_request, run_isolated, serving

MAX_LAG = 0.1  # seconds the loop may go without turning: generous for a loaded 2-core machine
FIFTY_MB = 50 * 1024 * 1024


def attempt(handle: Script, timeout: float = 5.0) -> tuple[Outcome, float]:
    """One POST through a fresh sender to a server running `handle`; the outcome and the loop's worst lag."""

    async def main() -> tuple[Outcome, float]:
        sender = Sender()
        await sender.start()
        try:
            async with serving(handle, Server()) as server, LagProbe() as probe:
                outcome = await sender.post(f"http://127.0.0.1:{server.port}/hook", b"{}", {}, timeout)
        finally:
            await sender.close()
        return outcome, probe.worst

    return run_isolated(main, limit=timeout + 10)


async def _hold(reader: asyncio.StreamReader) -> None:
    await reader.read()  # keep the connection open until the client closes it


async def negative_chunk_size(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader, Server())
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n")
    await _hold(reader)


async def endless_one_byte_chunks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader, Server())
    writer.write(b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:  # until the client hangs up (drain raises)
        writer.write(b"1\r\nx\r\n")
        await writer.drain()
        await asyncio.sleep(0)  # about one chunk per read on the client's side: the worst case for re-parsing


async def endless_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader, Server())
    writer.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
    while True:
        writer.write(b"a" * 1024)
        await writer.drain()
        await asyncio.sleep(0)


async def slow_drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader, Server())
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1)


def test_a_negative_chunk_size_is_refused_without_blocking_the_loop() -> None:
    outcome, lag = attempt(negative_chunk_size)
    assert outcome.status is None
    assert outcome.error == "ProtocolError: malformed response: Invalid character in chunk size"
    assert lag < MAX_LAG


def test_an_endless_body_of_one_byte_chunks_is_cut_in_linear_time() -> None:
    # Some 11,000 chunks, most in a read of their own, before the client stops reading: a parser that re-reads the
    # body on every read would spend minutes here, and block its loop for longer and longer.
    outcome, lag = attempt(endless_one_byte_chunks)
    assert (outcome.status, outcome.error, outcome.response) == (503, None, "x" * 1024)
    assert lag < MAX_LAG


def test_a_50_mb_body_costs_no_memory_beyond_its_excerpt() -> None:
    finished = False

    async def fifty_megabytes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal finished
        await read_request(reader, Server())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % FIFTY_MB)
        piece = b"x" * 65536
        for _ in range(FIFTY_MB // len(piece)):
            writer.write(piece)
            await writer.drain()
        finished = True

    tracemalloc.start()
    try:
        outcome, lag = attempt(fifty_megabytes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (outcome.status, outcome.response) == (200, "x" * 1024)
    assert not finished  # the client closed instead of draining 50 MB
    assert peak < 4 * 1024 * 1024  # both ends of the exchange included: a few reads' worth, not the body
    assert lag < MAX_LAG


def test_a_never_ending_head_is_refused() -> None:
    outcome, lag = attempt(endless_head)
    assert (outcome.status, outcome.error) == (None, "ProtocolError: response head too large")
    assert lag < MAX_LAG


def test_a_slow_drip_ends_at_the_attempts_timeout() -> None:
    outcome, lag = attempt(slow_drip, timeout=1.5)
    assert (outcome.status, outcome.error) == (None, "timeout after 1.5s")
    assert lag < MAX_LAG
