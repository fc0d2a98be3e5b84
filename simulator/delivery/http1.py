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

import httptools

# Bytes of body read past the excerpt so that the connection can be reused; beyond that it is closed instead.
MAX_DRAIN = 64 * 1024
# A response head (informational ones before it included) larger than this is an error.
MAX_HEAD = 64 * 1024
# Reads a response head may take: a sane one needs one. A body's are not counted: its excerpt is kept whole however
# it is split, within the attempt's timeout (a read costs a parse and a copy of the bytes it brings, no more).
MAX_READS = 1024
# Bytes read per byte of body before the excerpt is full, framing included (one-byte chunks take six): past that
# the framing itself (chunk extensions without end) is the load, and the connection is closed.
MAX_FRAMING = 8


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


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 framing, or closed the connection before a whole response."""


class ServerDisconnected(ProtocolError):
    nothing_received = False  # the connection ended before a single byte of the response


class BodyCut(ProtocolError):
    """The head arrived, then the time ran out (`event` None) or the connection ended inside the body. `response`
    has the status, the headers and what of the body came; `progress` how much ("3 of 10 bytes", or "3 bytes")."""

    def __init__(self, response: Response, progress: str, event: str | None) -> None:
        super().__init__(f"{event or 'timeout'} after {progress}")
        self.response = response
        self.progress = progress
        self.event = event


class BodyDisconnected(BodyCut, ServerDisconnected):
    """A BodyCut by the connection's end: still a ServerDisconnected to those that catch one."""


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


@dataclass(slots=True)  # not frozen: made once per POST, and a frozen one's __init__ costs three times as much
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes  # the first `limit` bytes
    cut: str | None = None  # why `body` stops short of `limit` bytes of a longer one (framing too heavy to read)


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


class _Reader:
    """One response, collected from llhttp's callbacks as uvicorn drives httptools: the parser decides the framing
    and what is malformed; this keeps the status, the headers and the first `limit` bytes of the body, and counts
    bytes and reads so that neither an endless head nor an endless body is held or read for long."""

    __slots__ = (
        "_body",
        "_body_bytes",
        "_fields",
        "_head_bytes",
        "_head_done",
        "_limit",
        "_parser",
        "_past",
        "_reads",
        "_until_eof",
        "complete",
        "cut",
        "headers",
        "keep_alive",
        "status",
    )

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parser = httptools.HttpResponseParser(self)
        self._body = bytearray()
        self._fields: list[tuple[bytes, bytes]] = []
        self._head_done = False  # the final (not informational) head is parsed
        self._until_eof = False  # the body ends where the connection does
        self._head_bytes = 0
        self._body_bytes = 0
        self._past = 0  # bytes of body beyond the excerpt
        self._reads = 0
        self.status = 0
        self.headers: dict[str, str] = {}
        self.complete = False
        self.keep_alive = False
        self.cut: str | None = None

    # -- llhttp callbacks -----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self.keep_alive = False  # a second response nobody asked for: the connection is not reused
        else:
            self._fields = []  # an informational response's fields are not the final one's

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._head_done:  # trailers after a chunked body are not recorded
            self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if self.complete or (100 <= status < 200 and status != 101):
            return  # an unasked response after ours, or an informational one (100 Continue…) before it
        self.status = status
        self._head_done = True
        # Decoded at once rather than field by field: the cheaper way, on the hottest path.
        self.headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self._fields}
        if len(self.headers) < len(self._fields):
            self.headers = _combined(self._fields)  # a repeated field (two Set-Cookie) kept only its last value
        coding = self.headers.get("transfer-encoding")
        chunked = coding is not None and coding.rpartition(",")[2].strip().lower() == "chunked"
        # llhttp's own rule (RFC 9112 §6.3), which leaves it to the caller to end such a body at the close.
        self._until_eof = not chunked and (coding is not None or "content-length" not in self.headers)

    def on_body(self, data: bytes) -> None:
        if self.complete:
            return
        room = self._limit - len(self._body)
        if len(data) <= room:
            self._body += data
        else:
            self._body += data[:room]
            self._past += len(data) - room

    def on_message_complete(self) -> None:
        if self._head_done and not self.complete:
            self.complete = True
            # After a 101 the connection speaks another protocol.
            self.keep_alive = self.status != 101 and self._parser.should_keep_alive()

    # -- use ------------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Parse `data`; ProtocolError for a malformed response, or a head over MAX_HEAD bytes or MAX_READS reads.
        A body that runs past the excerpt by more than MAX_DRAIN, or whose framing takes more than MAX_FRAMING
        bytes per byte of it, completes the response there: the rest is never read."""
        head_was_done = self._head_done
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if not self.complete:
                raise ProtocolError(f"malformed response: {exc}") from None
            self.keep_alive = False  # bytes after the response that are not one: do not trust the connection
        if self.complete:
            return
        if not self._head_done:
            self._reads += 1
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                raise ProtocolError("response head too large")
            if self._reads > MAX_READS:
                raise ProtocolError(f"response head in more than {MAX_READS} pieces")
        elif head_was_done:  # counted from the read after the head's: exact enough for a bound
            self._body_bytes += len(data)
            if self._body_bytes > self._limit + MAX_DRAIN:
                self._overrun()

    def _overrun(self) -> None:
        """Past the drain's bound: a body whose excerpt is full, or whose framing is too heavy, is closed rather
        than drained; one still filling its excerpt (chunks of a byte or two) goes on."""
        kept = len(self._body)
        if kept < self._limit:
            if self._body_bytes <= self._limit * MAX_FRAMING + MAX_DRAIN:
                return
            self.cut = f"its framing took more than {MAX_FRAMING} bytes per byte of body, and the rest was not read"
        self.complete, self.keep_alive = True, False  # large, endless or too heavily framed: closed, not drained

    def finish(self) -> None:
        """The peer closed its end: a body delimited by the close ends here; anything else was cut short."""
        if self.complete:
            return
        if not self._head_done:
            raise ServerDisconnected("connection closed before a response")
        if not self._until_eof:
            raise ServerDisconnected("connection closed inside the response body")
        self.complete, self.keep_alive = True, False

    @property
    def head_done(self) -> bool:
        return self._head_done

    def response(self) -> Response:
        return Response(self.status, self.headers, bytes(self._body), self.cut)

    def cut_short(self, cause: Exception) -> BodyCut:
        """The error for a body that `cause` ended early (a TimeoutError, or a ServerDisconnected; its __cause__
        the connection's error, if any), holding what of the answer came."""
        received = len(self._body) + self._past
        length = self.headers.get("content-length", "").strip()
        declared = "transfer-encoding" not in self.headers and length.isascii() and length.isdigit()
        progress = f"{received:,} of {int(length):,} bytes" if declared else f"{received:,} bytes"
        response = self.response()
        if isinstance(cause, TimeoutError):
            return BodyCut(response, progress, None)
        lost = cause.__cause__
        return BodyDisconnected(response, progress, f"connection lost ({lost})" if lost else "connection closed")

    def release(self) -> None:
        """Let go of the parser, which holds this reader's callbacks as this holds it: left as it is, each
        response is a reference cycle that only the cyclic collector frees, and with the thresholds `serve`
        runs under, that collector came every few thousand responses and stopped the loop for 40-70 ms."""
        del self._parser


def _combined(fields: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Header fields by lower-cased name, the values of a repeated one joined by ", " in the order received
    (RFC 9110 §5.3; Set-Cookie, which the rule excepts, is shown so too rather than losing all but one)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in fields:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


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
        self._reader: _Reader | None = None
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
        self._reader = _Reader(self._limit)
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

    def _complete(self, reader: _Reader) -> None:
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
        self._swept = 0.0
        self._cork = _Cork()

    async def post(self, target: Target, headers: dict[str, str], body: bytes, timeout: float) -> Response:
        """POST `body` and read the response within `timeout` seconds in all; raises TimeoutError, OSError,
        ProtocolError or ValueError."""
        data = encode_request(target, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = self._idle_connection(target) or await self._connect(target, timeout)
        try:
            return await self._exchange(conn, data, deadline)
        except ServerDisconnected as exc:
            if conn.requests == 1 or not exc.nothing_received:
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
        if not conn.reusable:
            conn.close()
            self._forget(conn)
            return
        if len(self._lru) >= self._max_idle:
            self._drop(next(iter(self._lru)))
        now = asyncio.get_running_loop().time()
        conn.idle_since = now
        self._idle.setdefault(conn.pool, []).append(conn)
        self._lru[conn] = None
        if now - self._swept > self._idle_timeout / 2:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Close the connections idle for longer than `idle_timeout` (the least recent sit first)."""
        self._swept = now
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
