"""Receivers that answer to hurt: what each costs the sender. Every exchange runs on an event loop of its own, watched
by a lag probe, so a client that blocks its loop fails the test rather than hanging it."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from simulator.delivery.http1_reader import MAX_HEAD, MAX_READS
from simulator.delivery.sender import RESPONSE_EXCERPT, Outcome, Sender
from tests.delivery.scripted import (
    FiftyMegabytes,
    LagProbe,
    Script,
    Server,
    endless_head,
    endless_one_byte_chunks,
    head_in_tiny_pieces,
    negative_chunk_size,
    read_request,
    run_isolated,
    serving,
    slow_drip,
)

MAX_LAG = 0.1  # seconds the loop may go without turning: generous for a loaded 2-core machine


def attempt(handle: Script, timeout: float = 5.0) -> tuple[Outcome, float]:
    """One POST through a fresh sender to a server running `handle`; the outcome and the loop's worst lag (its
    own: time spent waiting for a CPU left out)."""

    async def main() -> tuple[Outcome, float]:
        sender = Sender()
        await sender.start()
        try:
            async with serving(handle, Server()) as server, LagProbe() as probe:
                outcome = await sender.post(f"http://127.0.0.1:{server.port}/hook", b"{}", {}, timeout)
        finally:
            await sender.close()
        return outcome, probe.worst_own

    return run_isolated(main, limit=timeout + 10)


def test_a_negative_chunk_size_is_refused_without_blocking_the_loop() -> None:
    outcome, lag = attempt(negative_chunk_size)
    assert outcome.status is None
    assert outcome.error == "ProtocolError: malformed response: Invalid character in chunk size"
    assert lag < MAX_LAG


def test_an_endless_body_of_one_byte_chunks_is_cut_in_linear_time() -> None:
    # Chunks of one byte, most in a read of their own, until the client stops reading (64 KiB past the excerpt):
    # a parser that re-read the body on every read spent minutes here, blocking its loop longer and longer.
    outcome, lag = attempt(endless_one_byte_chunks(per_write=1), timeout=20)  # ~1 s, but the machine is shared
    assert outcome.status == 503
    assert outcome.error == "the answer's body is kept to its first 64 KiB of a longer body: the log keeps no more"
    assert outcome.response and set(outcome.response) == {"x"} and len(outcome.response) <= RESPONSE_EXCERPT
    assert lag < MAX_LAG


def test_a_50_mb_body_costs_no_memory_beyond_its_excerpt() -> None:
    body = FiftyMegabytes()
    tracemalloc.start()
    try:
        outcome, lag = attempt(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (outcome.status, outcome.response) == (503, "x" * RESPONSE_EXCERPT)
    assert not body.finished  # the client closed instead of draining 50 MB
    assert peak < 4 * 1024 * 1024  # both ends of the exchange included: a few reads' worth, not the body
    assert lag < MAX_LAG


def test_a_never_ending_head_is_refused() -> None:
    outcome, lag = attempt(endless_head)
    assert (outcome.status, outcome.error) == (None, "ProtocolError: response head too large")
    assert lag < MAX_LAG


def test_a_head_in_tiny_pieces_is_refused_after_max_reads() -> None:
    outcome, lag = attempt(head_in_tiny_pieces, timeout=20)
    assert (outcome.status, outcome.error) == (None, f"ProtocolError: response head in more than {MAX_READS} pieces")
    assert lag < MAX_LAG


def test_a_slow_drip_ends_at_the_attempts_timeout() -> None:
    outcome, lag = attempt(slow_drip, timeout=1.5)
    assert (outcome.status, outcome.error) == (None, "timeout after 1.5s")
    assert lag < MAX_LAG


def head_then(first: bytes, rest: bytes) -> Script:
    """A receiver that answers with `first`, waits until the client has read it, then sends `rest`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        writer.write(first)
        await writer.drain()
        await asyncio.sleep(0.3)  # the client reads `first` on its own: `rest` comes in reads of its own
        writer.write(rest)
        await writer.drain()
        await reader.read()

    return handle


FIELDS = b"".join(b"X-Field-%05d: %s\r\n" % (i, b"v" * 80) for i in range(600))  # ~58 KiB


@pytest.mark.parametrize(
    ("first", "rest"),
    [
        # Two reads of fields, each under the bound, the second ending the head: ~116 KiB were taken.
        (b"HTTP/1.1 200 OK\r\n" + FIELDS, FIELDS + b"Content-Length: 2\r\n\r\nok"),
        # 125 KB of informational heads and the final one, arriving together.
        (b"", b"HTTP/1.1 100 Continue\r\n\r\n" * 5000 + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ],
    ids=["ended-by-a-second-read", "informational-heads"],
)
def test_a_head_over_the_bound_is_refused_when_a_read_ends_it(first: bytes, rest: bytes) -> None:
    outcome, lag = attempt(head_then(first, rest))
    assert (outcome.status, outcome.error) == (None, "ProtocolError: response head too large")
    assert lag < MAX_LAG


def test_a_head_just_under_the_bound_is_taken() -> None:
    """The bound is the head's own size: one of 64 KiB less a few bytes, in two reads, is an answer."""
    field = b"X-Field-%05d: " + b"v" * 80 + b"\r\n"
    count = (MAX_HEAD - 100) // len(field % 0)
    fields = b"".join(field % i for i in range(count))
    half = len(fields) // 2
    outcome, _ = attempt(
        head_then(b"HTTP/1.1 200 OK\r\n" + fields[:half], fields[half:] + b"Content-Length: 2\r\n\r\nok")
    )
    assert (outcome.status, outcome.response) == (200, "ok")
    assert len(outcome.headers or {}) == count + 1
