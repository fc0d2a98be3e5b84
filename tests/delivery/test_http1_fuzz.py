"""Arbitrary and adversarial answers, from a real socket: whatever a receiver sends, an attempt ends within its
timeout with a response or a recorded error, and the event loop keeps turning.

Run with `--hypothesis-show-statistics` for the kinds of outcome seen and the worst loop lag found (hypothesis
steers towards it with `target`)."""

from __future__ import annotations

import asyncio
import time

from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from simulator.delivery.sender import MAX_RETRY_AFTER, RESPONSE_EXCERPT, Outcome, Sender
from tests.delivery.scripted import LagProbe, Server, read_request, run_isolated, serving

TIMEOUT = 0.3
MAX_LAG = 0.1

VALID_STATUS = st.sampled_from(
    [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 503 Service Unavailable",
        b"HTTP/1.0 429 Too Many",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted",
        b"HTTP/1.1 101 Switching Protocols",
        b"HTTP/1.1 204 No Content",
        b"HTTP/1.1 304 Not Modified",
    ]
)
BAD_STATUS = st.one_of(
    st.sampled_from([b"HTTP/1.1 2000 OK", b"HTTP/1.1 -1 Minus", b"HTTP/2 200", b"http/1.1 200 ok", b"HTTP/1.1 200\n"]),
    st.sampled_from([b"ICE/1.0 200 OK", b"", b"HTTP/1.1 200 OK\r\nX: a\r\n b"]),
    st.binary(max_size=40),
)
GOOD_NUMBERS = st.integers(0, 10**8).map(str)
BAD_NUMBERS = st.sampled_from(["-1", "-6", "\u00b2", "0x5", "1_0", "5, 6", "9" * 30, "\u0665", "ff", ""])
RETRY_AFTER = st.one_of(
    st.integers(0, 10**12).map(str),
    BAD_NUMBERS,
    st.sampled_from(["9" * 400, "Sun, 06 Nov 9999 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 31 Feb 2024"]),
    st.text(max_size=20),
)
HEADERS = st.one_of(
    st.tuples(st.just("Content-Length"), st.one_of(GOOD_NUMBERS, BAD_NUMBERS)),
    st.tuples(st.just("Transfer-Encoding"), st.sampled_from(["chunked", "gzip, chunked", "chunked, gzip", "identity"])),
    st.tuples(st.just("Connection"), st.sampled_from(["close", "keep-alive", "upgrade", "Close"])),
    st.tuples(st.just("Retry-After"), RETRY_AFTER),
    st.tuples(st.sampled_from(["X-Huge", "Set-Cookie"]), st.integers(1_000, 100_000).map(lambda n: "h" * n)),
)
ODD_HEADERS = st.tuples(st.text(max_size=12), st.text(max_size=30))
CHUNK_SIZES = st.one_of(
    st.integers(0, 300).map(lambda n: f"{n:x}"),
    st.integers(0, 300).map(lambda n: f"{n:X};ext=1"),
    st.sampled_from(["-6", "0x5", "1_0", "f" * 20, "", " 5", "5 ", "\u00b2", "+5"]),
)
CHUNKED_BODIES = st.lists(st.tuples(CHUNK_SIZES, st.binary(max_size=300)), max_size=8).map(
    lambda chunks: b"".join(size.encode() + b"\r\n" + data + b"\r\n" for size, data in chunks) + b"0\r\n\r\n"
)
BODIES = st.one_of(
    st.binary(max_size=2_000),
    CHUNKED_BODIES,
    st.sampled_from([70_000, 300_000]).map(lambda n: b"x" * n),
)


def _encode(part: str) -> bytes:
    return part.encode("utf-8", "surrogatepass")


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    """A response as a receiver might (mis)write it: sometimes plain noise, mostly something HTTP-shaped, with
    a field or two of any text now and then, a second response after it, or the end cut off."""
    if draw(st.sampled_from(["noise"] + ["http"] * 9)) == "noise":
        return draw(st.binary(max_size=600))
    head = [draw(st.sampled_from([VALID_STATUS] * 3 + [BAD_STATUS]).flatmap(lambda s: s))]
    fields = draw(st.lists(HEADERS, max_size=5))
    if draw(st.sampled_from([False] * 4 + [True])):
        fields.append(draw(ODD_HEADERS))
    head += [_encode(f"{name}: {value}") for name, value in draw(st.permutations(fields))]
    whole = b"\r\n".join(head) + b"\r\n\r\n" + draw(BODIES)
    if draw(st.sampled_from([False] * 3 + [True])):
        whole += whole  # a second response nobody asked for
    if draw(st.sampled_from([False] * 2 + [True])):
        whole = whole[: draw(st.integers(0, len(whole)))]
    return whole


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[bytes], bool]:
    """The answer split into writes, and whether the connection is then held open (the client's timeout ends it)
    rather than closed."""
    whole = draw(answers())
    cuts = sorted(draw(st.lists(st.integers(0, len(whole)), max_size=5)))
    pieces = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
    return pieces, draw(st.sampled_from([False, False, False, True]))


async def _exchange(pieces: list[bytes], hold: bool) -> tuple[Outcome, float, float]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.002)
        if hold:
            await reader.read()

    sender = Sender()
    await sender.start()
    try:
        async with serving(handle, Server()) as server, LagProbe() as probe:
            started = time.monotonic()
            outcome = await sender.post(f"http://127.0.0.1:{server.port}/hook", b"{}", {}, TIMEOUT)
            elapsed = time.monotonic() - started
    finally:
        await sender.close()
    return outcome, elapsed, probe.worst


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(deliveries())
def test_any_answer_ends_as_an_outcome_within_the_timeout(delivery: tuple[list[bytes], bool]) -> None:
    pieces, hold = delivery
    outcome, elapsed, lag = run_isolated(lambda: _exchange(pieces, hold), limit=TIMEOUT + 10)
    target(lag, label="event loop lag (s)")
    event(f"status {outcome.status}" if outcome.status is not None else (outcome.error or "")[:70])
    assert elapsed < TIMEOUT + 0.5  # the timeout ends the attempt: a deadline, not a figure of speed
    assert outcome.status is not None or outcome.error
    assert len(outcome.response or "") <= RESPONSE_EXCERPT
    assert outcome.retry_after is None or 0 <= outcome.retry_after <= MAX_RETRY_AFTER
    assert lag < MAX_LAG
