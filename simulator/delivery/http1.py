"""A small HTTP/1.1 client for webhook POSTs: keep-alive connections per URL, one request per connection at a
time, the response read just far enough to record it.

A general client (aiohttp) spends most of a delivery's CPU on features a webhook never uses: cookies, redirects,
proxies, streaming payloads, decompression. Here a request is one pre-built `bytes` write, which makes sending
several times cheaper. Responses are parsed by httptools (llhttp, Node's parser): it decides the framing and
refuses what is malformed; this module keeps what an attempt records and bounds what a receiver can make it read.
Supported: `http` and `https`, Content-Length, chunked and read-to-close bodies, informational (1xx) responses
skipped.
"""

from __future__ import annotations

import asyncio
import resource
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from simulator.delivery.http1_reader import ProtocolError, Reader, Response, ServerDisconnected


def _max_idle() -> int:
    """Idle connections kept in all, whatever their URLs; past that the least recently used one is closed. A
    quarter of the process's file descriptors (a server keeps half for its clients), 64 to 1024: pooled by URL,
    400 subscriptions with 2 deliveries each in flight reused a connection for few of them under a cap of 256,
    and opened 13,000 connections for 40,000 deliveries."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(64, min(1024, soft // 4))


_URL_SAFE = "/:@!$&'()*+,;=-._~%?"
# How soon after a request on a kept-alive connection a close with no answer is taken for the receiver's idle
# timeout racing it, and the request sent again on a new connection: such a close comes within a round trip. One
# later means the receiver held the request (read it, worked on it): sent again, it was handled twice within one
# recorded attempt. It fails instead, recorded, on the retry schedule.
RACE_WINDOW = 0.5


# Where a connection may be reused: its URL's scheme, host, port and request line. Pooled by origin, a receiver
# that answered one request twice had its stray answer read as the answer to another URL's next request on the
# same host (another subscription's 500 recorded as a success); pooled by URL, a misbehaving endpoint's answers
# reach only its own requests.
Pool = tuple[str, str, int, bytes]


@dataclass(frozen=True, slots=True)
class Target:
    """A URL split once into what a request needs: where to connect and the start of the request head."""

    scheme: str
    host: str
    port: int
    head: bytes  # b"POST /path?query HTTP/1.1\r\nHost: host:port\r\n"

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        host = parts.hostname.encode("idna").decode("ascii") if not parts.hostname.isascii() else parts.hostname
        authority = f"[{host}]" if ":" in host else host
        if port != default:
            authority = f"{authority}:{port}"
        # Non-ASCII in the path is sent percent-encoded, as browsers and aiohttp do; what is encoded stays so.
        path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_URL_SAFE)
        if any(c in authority for c in " \r\n"):  # the path cannot have any left: quote() encoded them
            raise ValueError(f"space or line break in a URL: {url!r}")
        head = f"POST {path} HTTP/1.1\r\nHost: {authority}\r\n"
        return cls(parts.scheme, host, port, head.encode("latin-1"))

    @property
    def pool(self) -> Pool:
        return self.scheme, self.host, self.port, self.head


def _check_line(text: str) -> None:
    if "\r" in text or "\n" in text:
        raise ValueError(f"line break in a request header: {text!r}")


def encode_request(target: Target, headers: dict[str, str], body: bytes) -> bytes:
    lines = [target.head]
    for name, value in headers.items():
        line = f"{name}: {value}"
        _check_line(line)
        lines.append(line.encode("latin-1") + b"\r\n")
    lines.append(b"Content-Length: %d\r\n\r\n" % len(body))
    lines.append(body)
    return b"".join(lines)


class _Cork:
    """The requests of one turn of the event loop, written together as it ends.

    A delivery's request follows the answer to the one before on its connection after the engine's work on both
    (recording, publishing, signing). Written at once, each request found the receiver asleep and woke it: the
    kernel's loopback path took twice the CPU per request it takes when requests come together (a bare client
    loop doing 60 µs of other work per request spent 32 µs per request on the wire against 15 µs with none, and
    17 µs with its writes gathered like this). The wait is the rest of the turn: microseconds.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[_Connection, bytes]] = []
        self._handle: asyncio.Handle | None = None

    def write(self, conn: _Connection, data: bytes) -> None:
        self._pending.append((conn, data))
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._handle = None
        pending, self._pending = self._pending, []
        for conn, data in pending:
            conn.write_now(data)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `request` may be called again once the previous response is complete."""

    def __init__(self, limit: int, pool: Pool, on_lost: Callable[[_Connection], None], cork: _Cork) -> None:
        self._cork = cork
        self._unsent = False  # a request is made and waits for the cork to write it
        self._limit = limit
        self.pool = pool
        self._on_lost = on_lost
        self.idle_since = 0.0
        self.requests = 0
        self._received = 0
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._reader: Reader | None = None
        self.closed = False

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        if reader is None:
            self.close()  # bytes nobody asked for: this connection can no longer be trusted
            return
        if self._unsent:
            # Bytes before the request went out (a second answer to the one before) cannot be its answer: the
            # request fails with nothing sent, and the client sends it on a new connection.
            self._fail(ServerDisconnected("the server sent bytes before the request went out"))
            return
        self._received += len(data)
        try:
            reader.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if reader.complete:
            self._complete(reader)

    def eof_received(self) -> bool | None:
        self._finish()
        self.closed = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_lost(self)
        if exc is None:
            self._finish()  # a TLS peer may close without the EOF that ends a body read to the close
        if self._waiter is not None and not self._waiter.done():
            error = ServerDisconnected(f"connection closed before a whole response{f': {exc}' if exc else ''}")
            error.__cause__ = exc
            self._fail(error)

    # -- use ----------------------------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        return not self.closed and self._reader is None

    async def request(self, data: bytes, deadline: float) -> Response:
        """Send `data` and wait for the response until `deadline` (loop time), then raise TimeoutError."""
        assert self._transport is not None and self._reader is None
        loop = asyncio.get_running_loop()
        self._reader = Reader(self._limit)
        self._waiter = loop.create_future()
        self.requests += 1
        self._received = 0
        # A timer handle rather than asyncio.timeout(): it is one allocation on the hottest path.
        timer = loop.call_at(deadline, self._fail, TimeoutError())
        try:
            self._unsent = True
            self._cork.write(self, data)
            return await self._waiter
        finally:
            timer.cancel()
            # A failed response's traceback holds this connection (the callback that failed it); the
            # connection must not hold the failure in turn, or each failure is a cycle left to the collector.
            self._waiter = None

    def write_now(self, data: bytes) -> None:
        """Write a corked request, unless it ended meanwhile (its time ran out, the connection was lost)."""
        self._unsent = False
        waiter = self._waiter
        if waiter is None or waiter.done() or self._transport is None:
            return
        if self._transport.is_closing():
            # Closed in this turn (a server's close read first, or our own): written, the request would go out
            # on a connection about to end. Nothing went out, so the client sends it again on a new one.
            self._fail(ServerDisconnected("connection closed before the request went out"))
            return
        self._transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _finish(self) -> None:
        reader = self._reader
        if reader is None:
            return
        try:
            reader.finish()
        except ProtocolError as exc:
            self._fail(exc)
            return
        self._complete(reader)

    def _complete(self, reader: Reader) -> None:
        self._reader = None
        reader.release()
        if not reader.keep_alive:
            self.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(reader.response())

    def _fail(self, exc: Exception) -> None:
        if isinstance(exc, ServerDisconnected):
            exc.nothing_received = self._received == 0
        reader = self._reader
        if reader is not None and reader.head_done and isinstance(exc, TimeoutError | ServerDisconnected):
            # The answer's status and headers came: they are kept, with what of its body came, not lost with it.
            exc = reader.cut_short(exc)
        if reader is not None:
            reader.release()
        self._reader = None
        self.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)


class Client:
    """Keep-alive connections per URL. No limit of its own on connections in use: callers bound their concurrency.

    An idle connection is closed after `idle_timeout` seconds (as aiohttp's keep-alive timeout did), and one the
    server closes is forgotten at once: a long-running server posting to many short-lived receivers (a test's
    ephemeral ports) keeps nothing of them. At most `_max_idle()` are kept idle in all, the least recently used closed
    first: thousands of subscriptions on one host, each with a path of its own, do not hold a socket each.
    """

    def __init__(
        self, limit: int = 1024, ssl_context: ssl.SSLContext | None = None, idle_timeout: float = 30.0
    ) -> None:
        self._limit = limit
        self._idle: dict[Pool, list[_Connection]] = {}
        self._lru: dict[_Connection, None] = {}  # every idle connection, the least recently used first
        self._ssl = ssl_context
        self._open: set[_Connection] = set()
        self._idle_timeout = idle_timeout
        self._max_idle = _max_idle()  # after `serve` has raised the file limit (see `runtime.raise_file_limit`)
        self._sweeper: asyncio.TimerHandle | None = None  # a sweep due while connections are idle
        self._cork = _Cork()
        self._closed = False

    async def post(self, target: Target, headers: dict[str, str], body: bytes, timeout: float) -> Response:
        """POST `body` and read the response within `timeout` seconds in all; raises TimeoutError, OSError,
        ProtocolError or ValueError."""
        data = encode_request(target, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = self._idle_connection(target) or await self._connect(target, timeout)
        sent = loop.time()
        try:
            return await self._exchange(conn, data, deadline)
        except ServerDisconnected as exc:
            if conn.requests == 1 or not exc.nothing_received or loop.time() - sent > RACE_WINDOW:
                raise
        # A kept-alive connection the server had closed as the request went out (its idle timeout): the server
        # answered nothing, so the request goes once more on a new connection, as browsers do.
        conn = await self._connect(target, max(0.0, deadline - loop.time()))
        return await self._exchange(conn, data, deadline)

    async def _exchange(self, conn: _Connection, data: bytes, deadline: float) -> Response:
        try:
            response = await conn.request(data, deadline)
        except BaseException:
            conn.close()
            self._forget(conn)
            raise
        self._release(conn)
        return response

    def _idle_connection(self, target: Target) -> _Connection | None:
        idle = self._idle.get(target.pool)
        while idle:
            conn = idle.pop()  # the most recently used: the likeliest to be alive
            self._lru.pop(conn, None)
            if conn.reusable:
                return conn
            self._forget(conn)
        return None

    async def _connect(self, target: Target, timeout: float) -> _Connection:
        pool = target.pool
        loop = asyncio.get_running_loop()
        tls = None
        if target.scheme == "https":
            tls = self._ssl or _default_context()
        async with asyncio.timeout(timeout):
            _, conn = await loop.create_connection(
                lambda: _Connection(self._limit, pool, self._forget, self._cork),
                target.host,
                target.port,
                ssl=tls,
                server_hostname=target.host if tls else None,
            )
        self._open.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        # After `close`, a request that was under way closes its connection: kept idle, nothing closed it again.
        if not conn.reusable or self._closed:
            conn.close()
            self._forget(conn)
            return
        if len(self._lru) >= self._max_idle:
            self._drop(next(iter(self._lru)))
        now = asyncio.get_running_loop().time()
        conn.idle_since = now
        self._idle.setdefault(conn.pool, []).append(conn)
        self._lru[conn] = None
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_at(now + self._idle_timeout, self._sweep_by_timer)

    def _sweep_by_timer(self) -> None:
        """Sweep, and again when the oldest idle connection left falls due: swept only as connections were given
        back, those idle when deliveries stopped (a run's end, a subscription deleted) stayed open for good."""
        self._sweeper = None
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        self._sweep(loop.time())
        if self._lru:
            oldest = next(iter(self._lru))
            self._sweeper = loop.call_at(oldest.idle_since + self._idle_timeout, self._sweep_by_timer)

    def _sweep(self, now: float) -> None:
        """Close the connections idle for longer than `idle_timeout` (the least recent sit first)."""
        while self._lru:
            oldest = next(iter(self._lru))
            if now - oldest.idle_since <= self._idle_timeout:
                break
            self._drop(oldest)

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._forget(conn)

    def _forget(self, conn: _Connection) -> None:
        self._open.discard(conn)
        self._lru.pop(conn, None)
        idle = self._idle.get(conn.pool)
        if idle is not None:
            if conn in idle:
                idle.remove(conn)
            if not idle:
                del self._idle[conn.pool]

    def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()
        self._lru.clear()


_CONTEXT: ssl.SSLContext | None = None


def _default_context() -> ssl.SSLContext:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = ssl.create_default_context()
    return _CONTEXT
