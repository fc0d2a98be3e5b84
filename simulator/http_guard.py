"""The connection guards of every server this project runs: uvicorn's httptools protocol with limits it lacks
on how long a client may take to send a request and to read its answer, and on how many connections stay open;
and the answer to a request the parser refuses, problem+json naming the part at fault."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import resource
import struct
import sys
import termios
import time
from collections.abc import Callable
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("webhook_sim.server")

# A client has this long from connecting (or, on a kept-alive connection, from the first byte of its next
# request) to send the whole request head; then the connection is closed.
HEADER_TIMEOUT = 10.0
# A client that reads nothing of an answer for this long, while the answer waits to be written, is cut off (as
# nginx's `send_timeout`): a live stream to a tab that froze held its buffers and its watch for good.
SEND_TIMEOUT = 60.0
_OUTQ: int | None = getattr(termios, "TIOCOUTQ", None)  # a socket's unsent bytes (Linux)


def default_max_connections() -> int:
    """Open client connections a server keeps: half the process's file descriptors (the rest serve the store,
    the delivery pool and the log), at most 1000."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(16, min(1000, soft // 2))


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with the guards it lacks: a connection must complete each request head within
    `header_timeout` seconds and pause no longer than `body_timeout` within a body; past `max_connections` open
    connections, a new one evicts the connection that has waited longest without a request under way (or is
    refused when every connection is busy); and a client must read its answer (`send_timeout`).

    uvicorn's `timeout_keep_alive` only covers the pause between two requests, and is cancelled by the first
    byte of the next one: a client that connects and sends nothing, or sends a head a byte at a time, would hold
    its socket forever, and enough of them exhaust the file descriptors (then even /health is unreachable).
    `guarded_http` makes subclasses with the limits set."""

    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = HEADER_TIMEOUT
    max_connections: int = 1000
    send_timeout: float = SEND_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_heard = 0.0  # when the request's body last came (or the application last asked for it)
        self._body_waited = False  # at the clock's last look, the body was not the client's to send yet
        self._stall_timer: asyncio.TimerHandle | None = None
        self._unsent = 0  # bytes waiting to be written when the stall timer was armed
        self._waiting_since = 0.0

    def pause_writing(self) -> None:
        """The answer waits to be written: the client must take some of it every `send_timeout` seconds (as
        nginx's `send_timeout`, the time between two successive writes, not the whole answer's). A client that
        takes nothing for that long is aborted, and the application hears it is gone (a stream's handler waited
        on its write until its own end, five minutes later, even once the client had gone)."""
        super().pause_writing()
        if self._stall_timer is None:
            self._arm_stall()

    def _arm_stall(self) -> None:
        self._unsent = self._pending()
        self._stall_timer = self.loop.call_later(self.send_timeout, self._stalled)

    def resume_writing(self) -> None:
        self._unstall()
        super().resume_writing()

    def _pending(self) -> int:
        """Bytes of the answer the client has not taken: those waiting here and, where the system says (Linux's
        TIOCOUTQ), those in the socket's own queue. A kernel buffer of megabytes takes more only once much of it
        is free, so the first count alone saw no progress from a client reading steadily."""
        pending = self.transport.get_write_buffer_size()
        sock = self.transport.get_extra_info("socket")
        if _OUTQ is not None and sock is not None:
            with contextlib.suppress(OSError, ValueError):
                pending += struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0" * 4))[0]
        return pending

    def _unstall(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _stalled(self) -> None:
        self._stall_timer = None
        unsent = self._pending()
        if unsent == 0:
            return
        if unsent < self._unsent:  # it took some: a slow reader, not a gone one
            self._arm_stall()
            return
        log.info("closing a connection that read nothing of its answer for %gs", self.send_timeout)
        self.transport.abort()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()
        if len(self.connections) > self.max_connections:
            self._evict()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._stop_body_clock()
        self._unstall()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self._arm()  # bytes of a next request (or noise before one): its head is now on the clock
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """A request httptools cannot parse, refused as every other request is: problem+json naming the part
        that is wrong, where uvicorn answers plain text ("Invalid HTTP request received."). uvicorn calls this
        while it handles the parser's error, so that error is the one being handled."""
        part, reason = unparsable(sys.exc_info()[1])
        path = bytes(getattr(self, "url", b"") or b"").split(b"?", 1)[0].decode("latin-1")
        given = next((found for answer in UNPARSABLE if (found := answer(path, part, reason)) is not None), None)
        detail = f"the request is not valid HTTP/1.1: {reason}"
        content_type, body, extra = given or (b"application/problem+json", _problem(400, part, reason, detail), [])
        self._answer_and_close(b"400 Bad Request", content_type, body, extra)

    def _answer_and_close(
        self, status: bytes, content_type: bytes, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        head = [b"HTTP/1.1 " + status + b"\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in [*self.server_state.default_headers, *(extra or [])]]
        head += [b"content-type: " + content_type + b"\r\n", b"content-length: %d\r\n" % len(body)]
        self.transport.write(b"".join([*head, b"connection: close\r\n\r\n", body]))
        self.transport.close()

    def on_message_begin(self) -> None:
        self._arm()  # a pipelined request's head, while the previous one is answered
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        self._body_heard = time.monotonic()
        self._body_waited = False
        if self._body_timer is None:
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_timed_out)

    def on_body(self, body: bytes) -> None:
        self._body_heard = time.monotonic()  # the pause the timer measures starts again (it is not re-armed per piece)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._stop_body_clock()
        super().on_message_complete()

    def _stop_body_clock(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        """A request's body must keep coming: a pause of `body_timeout` seconds in it (as nginx's
        `client_body_timeout`) ends the request with a 408 and closes the connection. Without it a client that
        announced a length and sent less held its connection, and the handler waiting on it, for good. The wait is
        not the client's while the application has not asked for the body (uvicorn then reads nothing more, and
        a client that expects `100 Continue` sends nothing yet)."""
        self._body_timer = None
        cycle = self.cycle
        if cycle is None or cycle.response_complete or cycle.disconnected or not cycle.more_body:
            return
        now = time.monotonic()
        if self.flow.read_paused or cycle.waiting_for_100_continue:
            self._body_heard, self._body_waited = now, True
        elif self._body_waited:
            # The application asked for the body since the last look (the `100 Continue` went, or reading resumed):
            # the client's pause counts from no earlier than now. Counted from that look, a look just after the
            # ask timed out a body that was on its way.
            self._body_heard, self._body_waited = now, False
        if (quiet := now - self._body_heard) < self.body_timeout:
            self._body_timer = self.loop.call_later(self.body_timeout - quiet, self._body_timed_out)
            return
        log.info("closing a connection that sent nothing more of its request body for %gs", self.body_timeout)
        reason = f"nothing more of the request body came for {self.body_timeout:g}s"
        cycle.disconnected = True  # the handler hears the client is gone, and anything it sends goes nowhere
        cycle.message_event.set()
        if cycle.response_started or self.transport.is_closing():
            self.transport.close()
            return
        problem = _problem(408, "body", reason, reason, title="Request timeout")
        self._answer_and_close(b"408 Request Timeout", b"application/problem+json", problem)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._waiting_since = time.monotonic()
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _idle(self) -> bool:
        """No request under way: waiting for a head, or kept alive between two requests."""
        return self._head_timer is not None or self.timeout_keep_alive_task is not None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            log.info("closing a connection that sent no complete request head in %gs", self.header_timeout)
            self.transport.close()

    def _evict(self) -> None:
        idle = [c for c in self.connections if isinstance(c, GuardedHttp) and c is not self and c._idle()]
        victim: GuardedHttp = min(idle, key=lambda c: c._waiting_since) if idle else self
        log.warning("%d connections open: closing the one idle longest", len(self.connections))
        victim._disarm()
        victim.transport.close()
        # uvicorn forgets a connection in connection_lost, a loop iteration later: the count must be true now.
        self.connections.discard(victim)


# Answers by path for a request the parser refuses (see `GuardedHttp.send_400_response`): each is given the path
# (as far as it was read), the part at fault and why, and gives (content type, body, more headers), or None for a
# path not its own. The API's twins add theirs (`simulator.api.twins`): a provider's SDK reads its own error shape.
Unparsable = Callable[[str, str, str], tuple[bytes, bytes, list[tuple[bytes, bytes]]] | None]
UNPARSABLE: list[Unparsable] = []


def unparsable(why: BaseException | None) -> tuple[str, str]:
    """The part of a request httptools refused (`target`, `method`, `version`, `headers`, `body`, else `request`)
    and why, in words a caller can act on."""
    if isinstance(why, httptools.HttpParserCallbackError) and why.__context__ is not None:
        # Raised out of a callback of uvicorn's (a target past httptools' 64 KiB while uvicorn parses the URL):
        # the callback's own error says what is wrong, "User callback error" does not.
        why = why.__context__
    reason = str(why or "it could not be parsed").strip().rstrip(".")
    if reason.startswith("Expected HTTP/"):  # the request line went on past its target: a space in it
        return "target", "a space ends the target: percent-encode it (%20)"
    words = f"{reason} {type(why).__name__}".lower()
    return next((name for key, name in _PARTS if key in words), "request"), reason


def _problem(status: int, part: str, reason: str, detail: str, title: str = "Bad request") -> bytes:
    """The control API's problem document for a request refused before it reached the application."""
    problem = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [{"field": part, "message": reason}],
    }
    return json.dumps(problem).encode()


# Words of httptools' errors (or its exception class's name), and the part of the request each one is about.
_PARTS = (
    ("header", "headers"),
    ("content-length", "headers"),
    ("url", "target"),
    ("method", "method"),
    ("version", "version"),
    ("chunk", "body"),
)


def guarded_http(
    header_timeout: float = HEADER_TIMEOUT, max_connections: int | None = None, send_timeout: float = SEND_TIMEOUT
) -> type[GuardedHttp]:
    """The HTTP protocol class to give uvicorn (`http=`), with these limits."""
    limits = {
        "header_timeout": header_timeout,
        "body_timeout": header_timeout,  # one limit on how long a client may hold a request back, head or body
        "max_connections": max_connections or default_max_connections(),
        "send_timeout": send_timeout,
    }
    return type("GuardedHttp", (GuardedHttp,), limits)
