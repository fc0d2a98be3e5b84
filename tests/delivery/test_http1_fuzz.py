"""Arbitrary and adversarial answers, from a real socket: whatever a receiver sends, an attempt ends within its
timeout with a response or a recorded error, and the event loop keeps turning.

Run with `--hypothesis-show-statistics` for the kinds of outcome seen and the worst loop lags found (hypothesis
steers towards them with `target`)."""

from __future__ import annotations

import asyncio
import time

from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from simulator.delivery.sender import MAX_RETRY_AFTER, RESPONSE_EXCERPT, Outcome, Sender
from tests.delivery.scripted import LagProbe, Server, cpu_wait, read_request, run_isolated, serving

TIMEOUT = 0.3
MAX_LAG = 0.1


def sometimes(one_in: int) -> st.SearchStrategy[bool]:
    """True about once in `one_in` draws: each defect is rare enough that most answers have one or two at most."""
    return st.sampled_from([True] + [False] * (one_in - 1))


STATUS_LINES = st.sampled_from(
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
BAD_STATUS_LINES = st.one_of(
    st.sampled_from([b"HTTP/1.1 2000 OK", b"HTTP/1.1 -1 Minus", b"HTTP/2 200", b"http/1.1 200 ok", b"HTTP/1.1 200\n"]),
    st.sampled_from([b"ICE/1.0 200 OK", b"", b"HTTP/1.1 200 OK\r\nX: a\r\n b"]),
    st.binary(max_size=40),
)
BAD_NUMBERS = st.sampled_from(["-1", "-6", "\u00b2", "0x5", "1_0", "5, 6", "9" * 30, "\u0665", "ff", "", " 5 5"])
RETRY_AFTER = st.one_of(
    st.integers(0, 10**12).map(str),
    BAD_NUMBERS,
    # Digits to str.isdigit(), not to int(): superscripts and fractions (Latin-1, as a server would send them).
    st.text(st.sampled_from("\u00b2\u00b3\u00b9\u00bc\u00bd\u00be5"), min_size=1, max_size=3),
    st.sampled_from(["9" * 400, "Sun, 06 Nov 9999 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 31 Feb 2024"]),
    st.text(max_size=20),
)
OTHER_FIELDS = st.one_of(
    st.tuples(st.just("Connection"), st.sampled_from(["close", "keep-alive", "upgrade", "Close"])),
    st.tuples(st.just("Content-Type"), st.just("application/json")),
)
HUGE_FIELDS = st.tuples(st.sampled_from(["X-Huge", "Set-Cookie"]), st.integers(1_000, 100_000).map(lambda n: "h" * n))
ODD_FIELDS = st.tuples(st.text(max_size=12), st.text(max_size=30))
RAW_BODIES = st.one_of(st.binary(max_size=2_000), st.sampled_from([70_000, 300_000]).map(lambda n: b"x" * n))
BAD_CHUNK_SIZES = st.sampled_from(["-6", "-1", "0x5", "1_0", "f" * 20, "", " 5", "5 ", "\u00b2", "+5"])
Fields = list[tuple[str, str]]


@st.composite
def chunked_bodies(draw: st.DrawFn) -> bytes:
    """Well-formed chunks, now and then with a bad size line among them or no last chunk; or a great many tiny
    chunks."""
    if draw(sometimes(4)):
        return b"1\r\nx\r\n" * draw(st.integers(1, 10_000))
    chunks = [(f"{len(data):x}", data) for data in draw(st.lists(st.binary(min_size=1, max_size=300), max_size=6))]
    if draw(sometimes(2)):
        at = draw(st.integers(0, len(chunks)))
        chunks.insert(at, (draw(BAD_CHUNK_SIZES), draw(st.binary(max_size=20))))
    body = b"".join(_encode(size) + b"\r\n" + data + b"\r\n" for size, data in chunks)
    return body if draw(sometimes(5)) else body + b"0\r\n\r\n"


@st.composite
def framed(draw: st.DrawFn) -> tuple[Fields, bytes]:
    """The fields that frame a body, and the body: by length (mostly right), chunked, to the connection's close,
    or framed twice over."""
    kind = draw(st.sampled_from(["length", "length", "chunked", "chunked", "close", "twice"]))
    if kind == "chunked":
        coding = draw(st.sampled_from(["chunked", "gzip, chunked", "Chunked"]))
        return [("Transfer-Encoding", coding)], draw(chunked_bodies())
    body = draw(RAW_BODIES)
    if kind == "close":
        return draw(st.sampled_from([[], [("Transfer-Encoding", "gzip")]])), body
    if kind == "twice":
        first = draw(st.sampled_from([("Content-Length", "5"), ("Transfer-Encoding", "chunked")]))
        return [first, ("Content-Length", str(len(body)))], body
    length = str(len(body))
    if draw(sometimes(3)):
        length = draw(st.one_of(BAD_NUMBERS, st.sampled_from([len(body) - 1, len(body) + 1, 10**7]).map(str)))
    return [("Content-Length", length)], body


def _encode(part: str) -> bytes:
    """Latin-1, as servers write header fields, where it can; UTF-8 otherwise."""
    try:
        return part.encode("latin-1")
    except UnicodeEncodeError:
        return part.encode("utf-8", "surrogatepass")


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    """A response as a receiver might (mis)write it: now and then plain noise; mostly HTTP with a defect or two
    (a bad status line, framing or field, a huge field, a second response nobody asked for, the end cut off)."""
    if draw(sometimes(10)):
        return draw(st.binary(max_size=600))
    status = draw(BAD_STATUS_LINES if draw(sometimes(8)) else STATUS_LINES)
    fields, body = draw(framed())
    fields += draw(st.lists(OTHER_FIELDS, max_size=2))
    if draw(st.booleans()):
        fields.append(("Retry-After", draw(RETRY_AFTER)))
    if draw(sometimes(8)):
        fields.append(draw(HUGE_FIELDS))
    if draw(sometimes(8)):
        fields.append(draw(ODD_FIELDS))
    head = [status] + [_encode(f"{name}: {value}") for name, value in draw(st.permutations(fields))]
    whole = b"\r\n".join(head) + b"\r\n\r\n" + body
    if draw(sometimes(5)):
        whole += whole
    if draw(sometimes(5)):
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


async def _exchange(pieces: list[bytes], hold: bool) -> tuple[Outcome, float, LagProbe]:
    """The outcome of one POST answered with `pieces`, the seconds it took (less those spent waiting for a CPU)
    and the lag probe that watched it."""

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
            started, waited = time.monotonic(), cpu_wait()
            outcome = await sender.post(f"http://127.0.0.1:{server.port}/hook", b"{}", {}, TIMEOUT)
            elapsed = time.monotonic() - started - (cpu_wait() - waited)
    finally:
        await sender.close()
    return outcome, elapsed, probe


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(deliveries())
def test_any_answer_ends_as_an_outcome_within_the_timeout(delivery: tuple[list[bytes], bool]) -> None:
    pieces, hold = delivery
    outcome, elapsed, probe = run_isolated(lambda: _exchange(pieces, hold), limit=TIMEOUT + 10)
    target(probe.worst_own, label="event loop lag, its own (s)")
    target(probe.worst, label="event loop lag, wall clock (s)")
    event(f"status {outcome.status}" if outcome.status is not None else (outcome.error or "")[:70])
    assert elapsed < TIMEOUT + 0.5  # the timeout ends the attempt: a deadline, not a figure of speed
    assert outcome.status is not None or outcome.error
    assert len(outcome.response or "") <= RESPONSE_EXCERPT
    assert outcome.retry_after is None or 0 <= outcome.retry_after <= MAX_RETRY_AFTER
    assert probe.worst_own < MAX_LAG
