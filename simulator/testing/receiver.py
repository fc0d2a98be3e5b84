"""A real HTTP receiver that records what arrives: for tests (the `webhook_receiver` fixture) and `listen`.

It runs uvicorn on 127.0.0.1 in a thread of its own, so sync and async tests can both use it, and it can be
told to fail, answer slowly, or hang, so retries happen because a receiver really failed, or to refuse what does
not verify (`reject_invalid`), as a consumer that checks signatures does. Stopped while it delays an answer, it
answers 503 at once (uvicorn cancelled the delay after its graceful timeout and logged a traceback).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator import arguments
from simulator.receiving import Received as Received
from simulator.receiving import detect_scheme, refused
from simulator.runtime import AppServer
from simulator.waiting import set_within


@dataclass
class _Plan:
    status: int = 204
    delay: float = 0.0
    retry_after: str | None = None

    def response(self) -> Response:
        headers = {"Retry-After": self.retry_after} if self.retry_after else None
        return Response(status_code=self.status, headers=headers)


def check_answer(status: int, delay: float, name: str = "status") -> None:
    """Refuse an answer the receiver could not give: with status 999 every attempt was a protocol error, and the
    test saw why only in the attempt log. `name`: what the caller calls the status."""
    if not isinstance(status, int) or isinstance(status, bool):
        raise TypeError(f"{name} must be an HTTP status (an int), got {status!r}")
    if not 200 <= status <= 599:
        raise ValueError(f"{name} must be an HTTP status from 200 to 599, got {status}")
    arguments.seconds("delay", delay, finite=False)  # an infinite delay is a receiver that hangs until stopped


def _stopped() -> Response:
    return Response("the receiver stopped before answering\n", status_code=503, media_type="text/plain")


def retry_after_header(value: int | str | None) -> str | None:
    """A Retry-After header's value: an int is a number of seconds. Refused here rather than when the answer is
    built, where it failed inside the server: the sender saw a 500 while the receiver recorded its status."""
    if isinstance(value, str) and not _latin1(value):
        raise ValueError(f"retry_after must be text a header can carry, got {value!r}")
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"retry_after must be seconds (an int) or the header's text (a str), got {value!r}")
    return str(arguments.whole("retry_after", value))


def _latin1(value: str) -> bool:
    """Whether a header can carry `value` (Starlette encodes header values as Latin-1)."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return value.isprintable()


SHOWN = 5  # the requests a timed-out wait describes (the last ones): enough to see what came instead


def _arrived(requests: list[Received]) -> str:
    """What did arrive, as a timed-out wait names it: a count alone left the test's author to print `requests`
    and run it again to learn whether the wrong events came, or the right ones answered or verified wrongly."""
    if not requests:
        return ""
    said = [_described(r) for r in requests[-SHOWN:]]
    earlier = f"{len(requests) - SHOWN} earlier, then " if len(requests) > SHOWN else ""
    return ": " + earlier + "; ".join(said)


def _described(request: Received) -> str:
    said = f"{request.path} answered {request.status}"
    if request.verified is False:
        said += f", not verified ({request.reason})"
    ids = request.event_ids
    return said + (f", events {', '.join(ids)}" if ids else ", no event ids")


@dataclass
class Receiver:
    """Start with `start()` (or as a context manager); `url` is where to send. With `reject_invalid`, a request
    that carries no signature, or one `verifier` does not verify, is answered 401 at once (as `webhook-sim listen
    --reject-invalid` does), so the sender retries it as it would for a consumer that checks signatures."""

    verifier: Callable[[dict[str, str], bytes], tuple[bool, str]] | None = None
    requests: list[Received] = field(default_factory=list)
    reject_invalid: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._default = _Plan()
        # The answers `fail` scripted, each with how many requests it is still for: a count, not one entry per
        # request (`fail(10**9)` made a billion of them).
        self._script: deque[tuple[_Plan, int]] = deque()
        self._server: AppServer | None = None
        self._stopping = asyncio.Event()  # set on the server's loop when `stop()` begins
        self.port = 0
        self.in_flight = 0
        self.max_in_flight = 0

    # -- behaviour ------------------------------------------------------------------------------------

    def respond(self, status: int = 204, delay: float = 0.0) -> None:
        """Answer every later request with `status` after `delay` seconds."""
        check_answer(status, delay)
        with self._lock:
            self._default = _Plan(status, delay)

    def fail(self, times: int, status: int = 500, retry_after: int | str | None = None, delay: float = 0.0) -> None:
        """Answer the next `times` requests with `status` (and a Retry-After header if given: a number of
        seconds, or the header's text)."""
        check_answer(status, delay)
        arguments.whole("times", times)
        plan = _Plan(status, delay, retry_after_header(retry_after))
        if times:
            with self._lock:
                self._script.append((plan, times))

    def _next_plan(self) -> _Plan:
        with self._lock:
            if not self._script:
                return self._default
            plan, left = self._script.popleft()
            if left > 1:
                self._script.appendleft((plan, left - 1))
            return plan

    # -- observing ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` requests arrived; AssertionError on timeout."""
        arguments.whole("count", count)
        deadline = time.monotonic() + arguments.seconds("timeout", timeout)
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._too_few(count, timeout)
                self._lock.wait(left)
            return list(self.requests)

    async def wait_for_async(self, count: int, timeout: float = 10.0) -> list[Received]:
        """`wait_for` for an async test. Polled on the test's loop: waited for in a thread, a cancelled wait
        (Ctrl-C) went on until its timeout, and the loop's end waited for that thread."""
        arguments.whole("count", count)
        deadline = time.monotonic() + arguments.seconds("timeout", timeout)
        while True:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
                if time.monotonic() >= deadline:
                    raise self._too_few(count, timeout)
            await asyncio.sleep(0.01)

    def _too_few(self, count: int, timeout: float) -> AssertionError:
        """A timed-out wait's error (called holding the lock)."""
        got = f"got {len(self.requests)}{_arrived(self.requests)}"
        return AssertionError(f"expected {count} requests within {timeout}s, {got}")

    def event_ids(self) -> list[str]:
        with self._lock:
            return [eid for r in self.requests for eid in r.event_ids]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- serving --------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        verified, reason = (None, None)
        if self.verifier is not None:
            verified, reason = self.verifier(dict(request.headers), body)
        # Refused before the plan is taken: a rejected request is not one of those `fail` scripted.
        rejected = self.reject_invalid and refused(verified, detect_scheme(request.headers))
        plan = _Plan(401) if rejected else self._next_plan()
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            stopped = bool(plan.delay) and not await self._waited(plan.delay)
            # Built before the request is recorded, so that the status recorded is the one sent.
            response = _stopped() if stopped else plan.response()
        except BaseException:
            with self._lock:
                self.in_flight -= 1
            raise
        status = response.status_code
        received = Received(time.time(), request.url.path, dict(request.headers), body, status, verified, reason)
        with self._lock:
            self.in_flight -= 1
            self.requests.append(received)
            self._lock.notify_all()
        return response

    async def _waited(self, seconds: float) -> bool:
        """Whether `seconds` passed; False as soon as the receiver stops."""
        return not await set_within(self._stopping, seconds)

    async def _stop_answers(self) -> None:
        self._stopping.set()

    def start(self, timeout: float = 5.0) -> Receiver:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST", "PUT"])])
        self._stopping = asyncio.Event()
        self._server = AppServer().start(app, lifespan="off", timeout=timeout)
        self.port = self._server.port
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.call(self._stop_answers(), timeout)  # a delayed answer ends now, not cancelled later
            self._server.stop(timeout)
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
