"""The response side of the webhook client (`http1`): llhttp's callbacks collected into what an attempt records,
within bounds a receiver cannot push past, and the errors a broken response is reported with."""

from __future__ import annotations

from dataclasses import dataclass

import httptools

from simulator.digits import whole

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
# Every response begins with its protocol's name, and the client speaks HTTP/1.1: an HTTP/1.0 answer is taken.
_PROTOCOL = b"HTTP/"
_VERSIONS = ("1.0", "1.1")


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


@dataclass(slots=True)  # not frozen: made once per POST, and a frozen one's __init__ costs three times as much
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes  # the first `limit` bytes
    cut: str | None = None  # why `body` stops short of `limit` bytes of a longer one (framing too heavy to read)


class Reader:
    """One response, collected from llhttp's callbacks as uvicorn drives httptools: the parser decides the framing
    and what is malformed; this keeps the status, the headers and the first `limit` bytes of the body, and counts
    bytes and reads so that neither an endless head nor an endless body is held or read for long."""

    __slots__ = (
        "_body",
        "_body_bytes",
        "_fields",
        "_head_bytes",
        "_head_done",
        "_head_size",
        "_limit",
        "_parser",
        "_past",
        "_reads",
        "_start",
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
        # The heads' size as parsed (status lines, fields, blank lines), informational ones included: a read that
        # ends the head is parsed whole, and counted by reads alone a head took one read's worth more than the bound.
        self._head_size = 0
        self._body_bytes = 0
        self._past = 0  # bytes of body beyond the excerpt
        self._reads = 0
        self._start = b""  # the response's first bytes, up to the protocol's name
        self.status = 0
        self.headers: dict[str, str] = {}
        self.complete = False
        self.keep_alive = False
        self.cut: str | None = None

    # -- llhttp callbacks -----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._head_size += len("HTTP/1.1 200 \r\n")  # its status line but the reason, which comes in pieces
        if self.complete:
            self.keep_alive = False  # a second response nobody asked for: the connection is not reused
        else:
            self._fields = []  # an informational response's fields are not the final one's

    def on_status(self, reason: bytes) -> None:
        self._head_size += len(reason)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._head_done:  # trailers after a chunked body are not recorded
            self._fields.append((name, value))
            self._head_size += len(name) + len(value) + len(": \r\n")

    def on_headers_complete(self) -> None:
        self._head_size += len("\r\n")
        status = self._parser.get_status_code()
        if self.complete or (100 <= status < 200 and status != 101):
            return  # an unasked response after ours, or an informational one (100 Continue…) before it
        self.status = status
        self._head_done = True
        # Decoded at once rather than field by field: the cheaper way, on the hottest path (all ASCII, nearly always).
        self.headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self._fields}
        if not all(value.isascii() for _, value in self._fields) or len(self.headers) < len(self._fields):
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
        if len(self._start) < len(_PROTOCOL):
            # llhttp's response parser takes RTSP's and ICE's status lines too: an answer in another protocol
            # was recorded as an HTTP one.
            first = data if self._start else data.lstrip(b"\r\n")  # (llhttp skips empty lines before it)
            self._start = (self._start + first[: len(_PROTOCOL)])[: len(_PROTOCOL)]
            if not _PROTOCOL.startswith(self._start):
                raise ProtocolError(f"malformed response: not HTTP/1.x, it begins {self._start!r}")
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if not self.complete:
                raise ProtocolError(f"malformed response: {exc}") from None
            self.keep_alive = False  # bytes after the response that are not one: do not trust the connection
        if not head_was_done and self._head_size > MAX_HEAD:
            raise ProtocolError("response head too large")
        if self._head_done and not head_was_done and (version := self._parser.get_http_version()) not in _VERSIONS:
            raise ProtocolError(f"malformed response: not HTTP/1.x but HTTP/{version}")
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
        length = whole(self.headers.get("content-length", "").strip())
        declared = "transfer-encoding" not in self.headers and length is not None
        progress = f"{received:,} of {length:,} bytes" if declared else f"{received:,} bytes"
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
    (RFC 9110 §5.3; Set-Cookie, which the rule excepts, is shown so too rather than losing all but one), each value
    read as `_value` reads it."""
    out: dict[str, str] = {}
    for raw_name, raw_value in fields:
        name, value = raw_name.decode("latin-1").lower(), _value(raw_value)
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _value(raw: bytes) -> str:
    """A header value as httpx reads one: UTF-8 where it is UTF-8, else Latin-1, which reads any byte. A receiver's
    non-ASCII value is almost always UTF-8: read as Latin-1 alone, `café` was recorded and shown as `cafÃ©`."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
