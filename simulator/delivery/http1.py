"""A small HTTP/1.1 client for webhook POSTs: keep-alive connections per origin, one request per connection at
a time, the response read just far enough to record it.

A general client (aiohttp) spends most of a delivery's CPU on features a webhook never uses: cookies, redirects,
proxies, streaming payloads, decompression. Here a request is one pre-built `bytes` write and a response is parsed
from one buffer, which makes sending several times cheaper. Only what a provider's sender needs is supported:
`http` and `https`, Content-Length, chunked and read-to-close bodies, informational (1xx) responses skipped.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

# A response body beyond this is not read: the connection is closed instead of being drained.
MAX_DRAIN = 64 * 1024
MAX_HEAD = 64 * 1024
IDLE_PER_ORIGIN = 256
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 framing, or closed the connection before a whole response."""


class ServerDisconnected(ProtocolError):
    nothing_received = False  # the connection ended before a single byte of the response


Origin = tuple[str, str, int]  # (scheme, host, port)


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
    def origin(self) -> Origin:
        return self.scheme, self.host, self.port


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes  # the first `limit` bytes


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


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `request` may be called again once the previous response is complete."""

    def __init__(self, limit: int, origin: Origin, on_lost: Callable[[_Connection], None]) -> None:
        self._limit = limit
        self.origin = origin
        self._on_lost = on_lost
        self.idle_since = 0.0
        self.requests = 0
        self._received = 0
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self._parser: _Parser | None = None
        self.closed = False

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._parser is None:
            self.close()  # bytes nobody asked for: this connection can no longer be trusted
            return
        self._received += len(data)
        self._buffer += data
        try:
            response = self._parser.feed(self._buffer)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if response is not None:
            self._complete(response)

    def eof_received(self) -> bool | None:
        if self._parser is not None:
            try:
                response = self._parser.feed(self._buffer, eof=True)
            except ProtocolError as exc:
                self._fail(exc)
                return None
            if response is not None:
                self._complete(response)
        self.closed = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_lost(self)
        if self._waiter is not None and not self._waiter.done():
            self._fail(ServerDisconnected(f"connection closed before a whole response{f': {exc}' if exc else ''}"))

    # -- use ----------------------------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        return not self.closed and self._parser is None and not self._buffer

    async def request(self, data: bytes, deadline: float) -> Response:
        """Send `data` and wait for the response until `deadline` (loop time), then raise TimeoutError."""
        assert self._transport is not None and self._parser is None
        loop = asyncio.get_running_loop()
        self._parser = _Parser(self._limit)
        self._waiter = loop.create_future()
        self.requests += 1
        self._received = 0
        # A timer handle rather than asyncio.timeout(): it is one allocation on the hottest path.
        timer = loop.call_at(deadline, self._fail, TimeoutError())
        try:
            self._transport.write(data)
            return await self._waiter
        finally:
            timer.cancel()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _complete(self, response: Response) -> None:
        assert self._parser is not None
        keep = self._parser.keep_alive
        self._parser = None
        del self._buffer[:]
        if not keep:
            self.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(response)

    def _fail(self, exc: Exception) -> None:
        if isinstance(exc, ServerDisconnected):
            exc.nothing_received = self._received == 0
        self._parser = None
        self.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)


class _Parser:
    """An HTTP/1.1 response parser over a growing buffer; `feed` returns the response once it is whole."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._status = 0
        self._headers: dict[str, str] = {}
        self._start = -1  # where the body starts in the buffer, once the head is parsed
        self._length: int | None = None
        self._chunked = False
        self.keep_alive = True

    def feed(self, buf: bytearray, eof: bool = False) -> Response | None:
        while self._start < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ProtocolError("response head too large")
                if eof:
                    raise ServerDisconnected("connection closed before a response")
                return None
            if self._head(bytes(buf[:end])):
                self._start = end + 4
            else:
                del buf[: end + 4]  # an informational response (100 Continue…): the real one follows
        if self._chunked:
            return self._chunks(buf, eof)
        if self._length is not None:
            received = len(buf) - self._start
            if received >= self._length:
                return self._done(buf, self._start + self._length)
            if self._length - self._limit > MAX_DRAIN and received >= self._limit:
                self.keep_alive = False  # a large body: record its start, close rather than drain the rest
                return self._done(buf, len(buf))
            if eof:
                raise ServerDisconnected("connection closed inside the response body")
            return None
        if eof or len(buf) - self._start >= self._limit + MAX_DRAIN:
            self.keep_alive = False  # body delimited by the connection's end
            return self._done(buf, len(buf))
        return None

    def _head(self, head: bytes) -> bool:
        """Parse a response head; False for an informational response to skip."""
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(code)
        if 100 <= status < 200 and status != 101:
            return False
        headers = self._headers
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"malformed response header: {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        self._status = status
        connection = headers.get("connection", "").lower()
        self.keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        if status in (101, 204, 304):
            self._length = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            value = headers["content-length"]
            if not value.isdigit():
                raise ProtocolError(f"bad Content-Length: {value[:40]!r}")
            self._length = int(value)
        return True

    def _chunks(self, buf: bytearray, eof: bool) -> Response | None:
        body = bytearray()
        pos = self._start
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                break
            size_text = bytes(buf[pos:line_end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size: {size_text[:20]!r}") from None
            if size == 0:
                # The end of the trailers, or with none the final CRLF right after the size line.
                trailer_end = buf.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    break
                return self._done(buf, trailer_end + 4, bytes(body))
            if len(buf) < line_end + 2 + size + 2:
                break
            if len(body) < self._limit:
                body += buf[line_end + 2 : line_end + 2 + size]
            pos = line_end + 2 + size + 2
        if len(buf) - self._start > self._limit + MAX_DRAIN:
            self.keep_alive = False
            return self._done(buf, len(buf), bytes(body))
        if eof:
            raise ServerDisconnected("connection closed inside a chunked body")
        return None

    def _done(self, buf: bytearray, end: int, body: bytes | None = None) -> Response:
        if body is None:
            body = bytes(buf[self._start : min(end, self._start + self._limit)])
        if end < len(buf):
            self.keep_alive = False  # bytes after the response: pipelining we never asked for
        return Response(self._status, self._headers, body[: self._limit])


class Client:
    """Keep-alive connections per origin. No limit of its own: callers bound their concurrency.

    An idle connection is closed after `idle_timeout` seconds (as aiohttp's keep-alive timeout did), and one the
    server closes is forgotten at once: a long-running server posting to many short-lived receivers (a test's
    ephemeral ports) keeps nothing of them.
    """

    def __init__(
        self, limit: int = 1024, ssl_context: ssl.SSLContext | None = None, idle_timeout: float = 30.0
    ) -> None:
        self._limit = limit
        self._idle: dict[Origin, list[_Connection]] = {}
        self._ssl = ssl_context
        self._open: set[_Connection] = set()
        self._idle_timeout = idle_timeout
        self._swept = 0.0

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
        idle = self._idle.get(target.origin)
        while idle:
            conn = idle.pop()  # the most recently used: the likeliest to be alive
            if conn.reusable:
                return conn
            self._forget(conn)
        return None

    async def _connect(self, target: Target, timeout: float) -> _Connection:
        origin = target.origin
        loop = asyncio.get_running_loop()
        tls = None
        if target.scheme == "https":
            tls = self._ssl or _default_context()
        async with asyncio.timeout(timeout):
            _, conn = await loop.create_connection(
                lambda: _Connection(self._limit, origin, self._forget),
                target.host,
                target.port,
                ssl=tls,
                server_hostname=target.host if tls else None,
            )
        self._open.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        idle = self._idle.setdefault(conn.origin, [])
        if not conn.reusable or len(idle) >= IDLE_PER_ORIGIN:
            conn.close()
            self._forget(conn)
            return
        now = asyncio.get_running_loop().time()
        conn.idle_since = now
        idle.append(conn)
        if now - self._swept > self._idle_timeout / 2:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Close the connections idle for longer than `idle_timeout` (the least recent sit first in each list)."""
        self._swept = now
        for conns in list(self._idle.values()):
            while conns and now - conns[0].idle_since > self._idle_timeout:
                conns[0].close()
                self._forget(conns[0])

    def _forget(self, conn: _Connection) -> None:
        self._open.discard(conn)
        idle = self._idle.get(conn.origin)
        if idle is not None:
            if conn in idle:
                idle.remove(conn)
            if not idle:
                del self._idle[conn.origin]

    def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()


_CONTEXT: ssl.SSLContext | None = None


def _default_context() -> ssl.SSLContext:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = ssl.create_default_context()
    return _CONTEXT
