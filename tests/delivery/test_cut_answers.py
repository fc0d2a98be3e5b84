"""Answers whose head came whole and whose body did not: the receiver's status and headers are recorded with what
of the body came and an error saying how it ended, and the attempt is a failed one, retried. A body that arrives
in many small pieces is kept whole up to the log's 64 KiB; a body kept short of the answer's end says why."""

from __future__ import annotations

import asyncio
import re
import socket
import struct

import pytest

from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.delivery.sender import RESPONSE_EXCERPT, Outcome, Sender
from simulator.models.inputs import RetrySpec, SubscriptionSpec
from simulator.models.records import error_kind
from tests.conftest import until
from tests.delivery.scripted import Script, Server, read_request, serving

HEAD_10 = b"HTTP/1.1 200 OK\r\nX-Receiver: kept\r\nContent-Length: 10\r\n\r\n"


async def post(handle: Script, timeout: float = 5.0) -> Outcome:
    """One POST through a fresh sender to a server running `handle`."""
    sender = Sender()
    await sender.start()
    try:
        async with serving(handle, Server()) as server:
            return await sender.post(f"http://127.0.0.1:{server.port}/hook", b"{}", {}, timeout)
    finally:
        await sender.close()


def answering(first: bytes, then: str) -> Script:
    """A receiver that writes `first` after the request, then closes (`close`), or holds the connection open
    without another byte (`hold`)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        writer.write(first)
        await writer.drain()
        if then == "hold":
            await reader.read()  # until the client hangs up

    return handle


@pytest.mark.parametrize(
    ("answer", "then", "headers", "body", "how"),
    [
        (
            HEAD_10 + b"abc",
            "close",
            {"x-receiver": "kept", "content-length": "10"},
            "abc",
            "connection closed after 3 of 10 bytes",
        ),
        (HEAD_10, "close", {"x-receiver": "kept", "content-length": "10"}, "", "connection closed after 0 of 10 bytes"),
        (
            b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n5\r\ncd",
            "close",
            {"transfer-encoding": "chunked"},
            "abcd",
            "connection closed after 4 bytes",
        ),
        (
            HEAD_10 + b"abc",
            "hold",
            {"x-receiver": "kept", "content-length": "10"},
            "abc",
            "timeout after 0.5s, 3 of 10 bytes received",
        ),
        # No framing on a kept-alive connection: the body ends with the connection, which stays open.
        (b"HTTP/1.1 200 OK\r\n\r\nabc", "hold", {}, "abc", "timeout after 0.5s, 3 bytes received"),
    ],
    ids=["closed-mid-body", "closed-after-head", "closed-mid-chunk", "stalled", "unframed-held-open"],
)
async def test_a_body_cut_short_keeps_the_status_and_headers(
    answer: bytes, then: str, headers: dict[str, str], body: str, how: str
) -> None:
    outcome = await post(answering(answer, then), timeout=0.5 if then == "hold" else 5.0)
    status = int(answer.split(b" ")[1])
    assert (outcome.status, outcome.headers, outcome.response) == (status, headers, body)
    assert outcome.error == f"the answer's body was cut short: {how}"
    assert not outcome.ok  # not a whole answer: a failed attempt, on the retry schedule


# A length of 5,000 zeros and then its digits: HTTP parsers take it, and int() refuses more than 4,300 digits. Read
# with int(), the attempt cut short raised inside the connection's callbacks and never ended (its delivery pending
# for good, its subscription blocked), and a whole answer over 64 KiB was recorded as an internal error.
PADDED = "0" * 5000


@pytest.mark.parametrize("then", ["close", "hold"])
async def test_a_zero_padded_length_cut_short_ends_the_attempt_with_its_progress(then: str) -> None:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {PADDED}10\r\n\r\n".encode()
    outcome = await asyncio.wait_for(post(answering(head + b"abc", then), timeout=0.5), 10)
    assert (outcome.status, outcome.response, outcome.ok) == (200, "abc", False)
    ended = "connection closed after" if then == "close" else "timeout after 0.5s,"
    assert outcome.error == f"the answer's body was cut short: {ended} 3 of 10 bytes" + (
        " received" if then == "hold" else ""
    )


async def test_a_whole_answer_over_64_kib_with_a_zero_padded_length_is_a_success() -> None:
    size = RESPONSE_EXCERPT + 5000

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {PADDED}{size}\r\n\r\n".encode() + b"y" * size)
        await writer.drain()
        await reader.read()

    outcome = await post(handle, timeout=10)
    assert (outcome.status, outcome.ok, outcome.response) == (200, True, "y" * RESPONSE_EXCERPT)
    assert outcome.error == "the answer's body is kept to its first 64 KiB of 70,536 bytes: the log keeps no more"


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: a reset rather than a FIN."""
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_a_reset_before_the_answer_is_a_connection_failure() -> None:
    """The client reports the reset as the server's disconnect, whose name put the attempt among `protocol`
    failures, where malformed answers are; the dashboard lists resets as `connection`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        reset(writer)

    outcome = await post(handle)
    assert outcome.status is None and outcome.error is not None
    assert "reset" in outcome.error, outcome.error
    assert error_kind(outcome.status, outcome.error) == "connection"


async def test_a_reset_inside_the_body_keeps_the_status_and_headers() -> None:
    sent = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        await sent.wait()
        reset(writer)

    sender = Sender()
    await sender.start()
    try:
        async with serving(handle, Server()) as server:
            pending = asyncio.create_task(sender.post(f"http://127.0.0.1:{server.port}/", b"{}", {}, 5))
            # The reset only once the partial body is in: a reset may otherwise discard what is still unsent.
            await until(lambda: any(c._received for c in sender._client._open), what="the partial body read")  # type: ignore[union-attr]
            sent.set()
            outcome = await pending
    finally:
        await sender.close()
    assert (outcome.status, outcome.headers, outcome.response, outcome.ok) == (
        200,
        {"content-length": "100"},
        "partial",
        False,
    )
    assert outcome.error is not None
    assert outcome.error.startswith("the answer's body was cut short: connection lost (")
    assert outcome.error.endswith(") after 7 of 100 bytes")
    assert "reset" in outcome.error.lower()


def dripping(size: int, per_write: int, pause: float) -> Script:
    """A 503 whose `size`-byte body (by Content-Length) comes `per_write` bytes at a time, `pause` seconds apart:
    a read, or several, per write on the client's side."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        writer.write(b"HTTP/1.1 503 Busy\r\nContent-Length: %d\r\n\r\n" % size)
        await writer.drain()
        for start in range(0, size, per_write):
            writer.write(b"y" * min(per_write, size - start))
            await writer.drain()
            await asyncio.sleep(pause)  # the drip's pace (0: a turn of the loop), not a wait for a result
        await reader.read()

    return handle


async def test_a_body_in_many_small_pieces_is_kept_whole() -> None:
    """3,000 bytes a byte every 3 ms were kept as ~1,030: the response ended at the 1,024th read."""
    outcome = await post(dripping(3000, 1, 0), timeout=30)
    assert (outcome.status, outcome.error, outcome.response) == (503, None, "y" * 3000)


async def test_a_body_over_64_kib_says_it_is_kept_to_64_kib() -> None:
    size = RESPONSE_EXCERPT + 5000
    outcome = await post(dripping(size, 1000, 0), timeout=30)
    assert (outcome.status, outcome.response) == (503, "y" * RESPONSE_EXCERPT)
    assert outcome.error == "the answer's body is kept to its first 64 KiB of 70,536 bytes: the log keeps no more"


async def test_a_body_whose_framing_outweighs_it_is_closed_and_says_why() -> None:
    """Chunks of one byte, each with a 200-byte extension, without end: the body kept stops short of 64 KiB, as
    the connection is closed once the framing is the load, and the record says so."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        writer.write(b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:  # until the client hangs up (drain raises)
            writer.write((b"1;pad=" + b"p" * 200 + b"\r\nx\r\n") * 100)
            await writer.drain()

    outcome = await post(handle, timeout=30)
    assert outcome.status == 503 and outcome.response and set(outcome.response) == {"x"}
    assert len(outcome.response) < RESPONSE_EXCERPT
    assert re.fullmatch(
        f"the answer's body is kept to its first {len(outcome.response):,} bytes: its framing took more than "
        r"\d+ bytes per byte of body, and the rest was not read",
        outcome.error or "",
    )


async def test_a_cut_answer_is_recorded_with_its_status_and_retried(sim: Simulator) -> None:
    """Through the engine: the attempt's record has the status, the headers, the body that came and the error;
    the delivery is retried and succeeds on a whole answer."""
    answers = [HEAD_10 + b"abc", b"HTTP/1.1 204 No Content\r\n\r\n"]
    server = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader, server) is not None:
            writer.write(answers[min(len(server.requests), 2) - 1])
            await writer.drain()
            if len(server.requests) == 1:
                return  # and the connection closes inside the body

    async with serving(handle, server):
        await sim.create_subscription(
            SubscriptionSpec(url=f"http://127.0.0.1:{server.port}/hook", retry=RetrySpec(delays=[0.1], jitter=0))
        )
        etype = catalog.resolve("token.created")
        event = catalog.build_event(etype, catalog.new_context(3, catalog.SAMPLE_TIME))
        [did] = await sim.engine.publish(event, await sim.subscriptions.matching(etype))

        async def attempts() -> int:
            await sim.store.writer.barrier()
            return len(await sim.store.attempts(did))

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while await attempts() < 2:
            assert loop.time() < deadline, "the cut answer was not retried"
            await asyncio.sleep(0.01)
        first, second = await sim.store.attempts(did)
        delivery = await sim.delivery(did)
    assert (first.status_code, first.response, first.response_headers) == (
        200,
        "abc",
        {"x-receiver": "kept", "content-length": "10"},
    )
    assert first.error == "the answer's body was cut short: connection closed after 3 of 10 bytes"
    assert first.error_kind == "cut"  # a failure, though its status is 2xx: the dashboard marks it one
    assert (second.status_code, second.error, second.error_kind) == (204, None, None)
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
