"""The Python client of the control API: `Client` (sync) and `AsyncClient`, over httpx.

Both cover the API's routes, with the same method names; `watch` follows the live stream (`GET /stream`). Answers become
small frozen records (`SubscriptionInfo`, `RunInfo`, `DeliveryInfo`, `AttemptInfo`, `ScheduleInfo`, ...;
`record["field"]` reads the JSON as the server sent it), lists come as `Page`s, and `iter_*` walks every page with
the cursor. A problem answer, or one that is not the control API's, raises `ApiError`.

    with Client("http://127.0.0.1:8080") as api:
        sub = api.create_subscription("http://127.0.0.1:9000/hook", events=["syncfy:*"])
        run = api.wait_run(api.start_run("syncfy-credential-lifecycle", seed=7, speed=0).id)
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar, Unpack
from urllib.parse import urlsplit

import httpx

from simulator import arguments
from simulator.client import stream
from simulator.client.ops import Op, Ops, unanswered
from simulator.client.records import (
    ApiError,
    AttemptInfo,
    DeliveryInfo,
    EmittedEvent,
    EventTypeInfo,
    Page,
    Record,
    RunEventInfo,
    RunInfo,
    ScenarioInfo,
    ScheduleInfo,
    SubscriptionInfo,
    still_running,
)
from simulator.client.stream import StreamEvent
from simulator.client.wire import auth, next_cursor

T = TypeVar("T")
P = ParamSpec("P")


# -- the two clients --------------------------------------------------------------------------------------


def _sync(op: Callable[P, Op[T]]) -> Callable[Concatenate[Client, P], T]:
    @functools.wraps(op)
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._do(op(*args, **kwargs))

    return method


def _sync_pages(op: Callable[P, Op[Page[T]]]) -> Callable[Concatenate[Client, P], Iterator[T]]:
    # With the list's own signature (`help()` showed `*args, **kwargs`), and its arguments checked at the call:
    # made inside the generator, a misspelt keyword was refused only at the first `next()`.
    @functools.wraps(op)
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        first = op(*args, **kwargs)

        def pages() -> Iterator[T]:
            page = self._do(first)
            while True:
                yield from page.data
                if (cursor := next_cursor(page, kwargs.get("cursor"))) is None:
                    return
                kwargs["cursor"] = cursor
                page = self._do(op(*args, **kwargs))

        return pages()

    method.__doc__ = " ".join(filter(None, [_PAGES, op.__doc__]))
    return method


def _async(op: Callable[P, Op[T]]) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    @functools.wraps(op)
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._do(op(*args, **kwargs))

    return method


def _async_pages(op: Callable[P, Op[Page[T]]]) -> Callable[Concatenate[AsyncClient, P], AsyncIterator[T]]:
    @functools.wraps(op)
    def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        first = op(*args, **kwargs)  # checked at the call, as `_sync_pages`

        async def pages() -> AsyncIterator[T]:
            page = await self._do(first)
            while True:
                for item in page.data:
                    yield item
                if (cursor := next_cursor(page, kwargs.get("cursor"))) is None:
                    return
                kwargs["cursor"] = cursor
                page = await self._do(op(*args, **kwargs))

        return pages()

    method.__doc__ = " ".join(filter(None, [_PAGES, op.__doc__]))
    return method


_PAGES = "Every item, page after page (`limit` is the page size)."


def _timeout(value: object) -> float | None:
    """Each request's timeout in seconds (None: none), checked where the client is made: taken as given, a wrong
    one failed at the first request with httpx's words ("Timeout value out of range"), naming nothing."""
    return None if value is None else arguments.seconds("timeout", value)


def _tls(base_url: str) -> ssl.SSLContext | bool:
    """What the client verifies TLS with. For a plain-HTTP server (the pytest fixture's, `serve` on 127.0.0.1) a
    context that trusts nothing: httpx's default loads certifi's bundle as each client is made, 26-47 ms, once per
    fixture started. It is never used (requests go to `base_url`, and redirects are not followed); if it were, the
    handshake would fail rather than go unverified. Any other server: httpx's default verification."""
    return _trusting_nothing() if urlsplit(base_url).scheme == "http" else True


@functools.cache
def _trusting_nothing() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names, trusts no CA


class Client:
    """A synchronous client of the control API at `base_url` (with `token` when the server has one)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 10.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = auth(token)
        self.base_url = arguments.text("base_url", base_url).rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=_timeout(timeout),
            transport=transport,
            verify=_tls(self.base_url),
        )

    def _do(self, op: Op[T], timeout: float | None = None) -> T:
        return op.finish(self._http.request(**op.request(timeout)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_run(self, run_id: str, timeout: float = 60.0, interval: float = 0.02) -> RunInfo:
        """Poll until the run is completed, failed or cancelled; `TimeoutError` after `timeout` seconds."""
        deadline = time.monotonic() + arguments.seconds("timeout", timeout)
        arguments.seconds("interval", interval)
        run = None
        while not (run := self._polled(run_id, deadline - time.monotonic(), timeout, run)).finished:
            if time.monotonic() >= deadline:
                raise TimeoutError(still_running(run, timeout))
            time.sleep(interval)
            interval = min(interval * 1.5, 0.25)
        return run

    def watch(self, *, reconnect: bool = True, **filters: Unpack[stream.Filters]) -> Iterator[StreamEvent]:
        """The deliveries as they change (`GET /stream`), with the filters of `list_deliveries` that it takes
        (`run`, `subscription`, `status`, `type`, `q`): `ready` first (read the list then: every later change
        arrives here), then `deliveries`, `runs` and `reload` events. The server ends a stream after five
        minutes; it is opened again, with a `ready` of its own, unless `reconnect` is False. A refused request
        raises `ApiError`, as every method does."""
        while True:
            with self._http.stream(**stream.request(filters, self._http.timeout)) as response:
                if stream.refused(response):
                    response.read()
                    stream.check(response)
                parser = stream.Parser(response)
                for line in response.iter_lines():
                    if (event := parser.feed(line)) is not None:
                        yield event
            if not reconnect:
                return
            time.sleep(stream.RECONNECT)

    def _polled(self, run_id: str, left: float, timeout: float, last: RunInfo | None) -> RunInfo:
        """The run, read within the `left` seconds of a wait of `timeout`: a server that does not answer ends the
        wait then, not at the client's own timeout, in the words of the `last` read if there was one (a slow
        last poll of a few milliseconds hid why the run was still running)."""
        try:
            return self._do(Ops.get_run(run_id), max(left, 0.05))
        except httpx.TimeoutException:
            raise unanswered(run_id, timeout, last) from None

    health = _sync(Ops.health)
    openapi = _sync(Ops.openapi)
    asyncapi = _sync(Ops.asyncapi)
    public_key = _sync(Ops.public_key)
    reset = _sync(Ops.reset)
    list_event_types = _sync(Ops.list_event_types)
    iter_event_types = _sync_pages(Ops.list_event_types)
    sample = _sync(Ops.sample)
    schema = _sync(Ops.schema)
    emit = _sync(Ops.emit)
    list_scenarios = _sync(Ops.list_scenarios)
    iter_scenarios = _sync_pages(Ops.list_scenarios)
    get_scenario = _sync(Ops.get_scenario)
    start_run = _sync(Ops.start_run)
    list_runs = _sync(Ops.list_runs)
    iter_runs = _sync_pages(Ops.list_runs)
    get_run = _sync(Ops.get_run)
    cancel_run = _sync(Ops.cancel_run)
    run_events = _sync(Ops.run_events)
    iter_run_events = _sync_pages(Ops.run_events)
    create_subscription = _sync(Ops.create_subscription)
    list_subscriptions = _sync(Ops.list_subscriptions)
    iter_subscriptions = _sync_pages(Ops.list_subscriptions)
    get_subscription = _sync(Ops.get_subscription)
    update_subscription = _sync(Ops.update_subscription)
    delete_subscription = _sync(Ops.delete_subscription)
    enable_subscription = _sync(Ops.enable_subscription)
    redeliver_dead = _sync(Ops.redeliver_dead)
    list_deliveries = _sync(Ops.list_deliveries)
    iter_deliveries = _sync_pages(Ops.list_deliveries)
    get_delivery = _sync(Ops.get_delivery)
    redeliver = _sync(Ops.redeliver)
    create_schedule = _sync(Ops.create_schedule)
    list_schedules = _sync(Ops.list_schedules)
    iter_schedules = _sync_pages(Ops.list_schedules)
    get_schedule = _sync(Ops.get_schedule)
    delete_schedule = _sync(Ops.delete_schedule)
    pause_schedule = _sync(Ops.pause_schedule)
    resume_schedule = _sync(Ops.resume_schedule)


class AsyncClient:
    """The same methods as `Client`, awaitable (`iter_*` are async iterators), over `httpx.AsyncClient`."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 10.0,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = auth(token)
        self.base_url = arguments.text("base_url", base_url).rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=_timeout(timeout),
            transport=transport,
            verify=_tls(self.base_url),
        )

    async def _do(self, op: Op[T], timeout: float | None = None) -> T:
        return op.finish(await self._http.request(**op.request(timeout)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def wait_run(self, run_id: str, timeout: float = 60.0, interval: float = 0.02) -> RunInfo:
        """Poll until the run is completed, failed or cancelled; `TimeoutError` after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + arguments.seconds("timeout", timeout)
        arguments.seconds("interval", interval)
        run = None
        while not (run := await self._polled(run_id, deadline - loop.time(), timeout, run)).finished:
            if loop.time() >= deadline:
                raise TimeoutError(still_running(run, timeout))
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, 0.25)
        return run

    async def watch(self, *, reconnect: bool = True, **filters: Unpack[stream.Filters]) -> AsyncIterator[StreamEvent]:
        """See `Client.watch`."""
        while True:
            async with self._http.stream(**stream.request(filters, self._http.timeout)) as response:
                if stream.refused(response):
                    await response.aread()
                    stream.check(response)
                parser = stream.Parser(response)
                async for line in response.aiter_lines():
                    if (event := parser.feed(line)) is not None:
                        yield event
            if not reconnect:
                return
            await asyncio.sleep(stream.RECONNECT)

    async def _polled(self, run_id: str, left: float, timeout: float, last: RunInfo | None) -> RunInfo:
        """See `Client._polled`."""
        try:
            return await self._do(Ops.get_run(run_id), max(left, 0.05))
        except httpx.TimeoutException:
            raise unanswered(run_id, timeout, last) from None

    health = _async(Ops.health)
    openapi = _async(Ops.openapi)
    asyncapi = _async(Ops.asyncapi)
    public_key = _async(Ops.public_key)
    reset = _async(Ops.reset)
    list_event_types = _async(Ops.list_event_types)
    iter_event_types = _async_pages(Ops.list_event_types)
    sample = _async(Ops.sample)
    schema = _async(Ops.schema)
    emit = _async(Ops.emit)
    list_scenarios = _async(Ops.list_scenarios)
    iter_scenarios = _async_pages(Ops.list_scenarios)
    get_scenario = _async(Ops.get_scenario)
    start_run = _async(Ops.start_run)
    list_runs = _async(Ops.list_runs)
    iter_runs = _async_pages(Ops.list_runs)
    get_run = _async(Ops.get_run)
    cancel_run = _async(Ops.cancel_run)
    run_events = _async(Ops.run_events)
    iter_run_events = _async_pages(Ops.run_events)
    create_subscription = _async(Ops.create_subscription)
    list_subscriptions = _async(Ops.list_subscriptions)
    iter_subscriptions = _async_pages(Ops.list_subscriptions)
    get_subscription = _async(Ops.get_subscription)
    update_subscription = _async(Ops.update_subscription)
    delete_subscription = _async(Ops.delete_subscription)
    enable_subscription = _async(Ops.enable_subscription)
    redeliver_dead = _async(Ops.redeliver_dead)
    list_deliveries = _async(Ops.list_deliveries)
    iter_deliveries = _async_pages(Ops.list_deliveries)
    get_delivery = _async(Ops.get_delivery)
    redeliver = _async(Ops.redeliver)
    create_schedule = _async(Ops.create_schedule)
    list_schedules = _async(Ops.list_schedules)
    iter_schedules = _async_pages(Ops.list_schedules)
    get_schedule = _async(Ops.get_schedule)
    delete_schedule = _async(Ops.delete_schedule)
    pause_schedule = _async(Ops.pause_schedule)
    resume_schedule = _async(Ops.resume_schedule)


__all__ = [
    "ApiError",
    "AsyncClient",
    "AttemptInfo",
    "Client",
    "DeliveryInfo",
    "EmittedEvent",
    "EventTypeInfo",
    "Page",
    "Record",
    "RunEventInfo",
    "RunInfo",
    "ScenarioInfo",
    "ScheduleInfo",
    "StreamEvent",
    "SubscriptionInfo",
]
