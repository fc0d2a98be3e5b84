"""The Python client of the control API: `Client` (sync) and `AsyncClient`, over httpx.

Both cover the API's routes, but for the live stream (`GET /stream`), with the same method names. Answers become
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
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, Generic, Literal, ParamSpec, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from simulator.client.records import (
    ApiError,
    AttemptInfo,
    DeliveryInfo,
    EmittedEvent,
    EventTypeInfo,
    Page,
    R,
    Record,
    RunEventInfo,
    RunInfo,
    ScenarioInfo,
    ScheduleInfo,
    SubscriptionInfo,
    still_running,
)
from simulator.client.wire import api_time, auth, json_body, next_cursor, segment, times

T = TypeVar("T")
R_ = TypeVar("R_")
P = ParamSpec("P")


def _one(cls: type[R]) -> Callable[[httpx.Response], R]:
    return lambda response: cls.of(response.json())


def _page(cls: type[R]) -> Callable[[httpx.Response], Page[R]]:
    def build(response: httpx.Response) -> Page[R]:
        body = response.json()
        items = tuple(cls.of(item) for item in body["data"])
        return Page(items, body.get("next_cursor"), tuple(body.get("errors") or ()))

    return build


# -- requests, described once for both clients ------------------------------------------------------------


@dataclass(frozen=True)
class _Op(Generic[T]):
    """One request and how its answer is read."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    body: Any = None

    def request(self, timeout: float | None = None) -> dict[str, Any]:
        params = {k: v for k, v in (self.params or {}).items() if v is not None}
        sends = self.method in ("POST", "PATCH") and self.body is not None
        return {
            "method": self.method,
            "url": self.path,
            "params": params or None,
            "content": json_body(self.body) if sends else None,
            "headers": {"Content-Type": "application/json"} if sends else None,
            "timeout": httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        }

    def finish(self, response: httpx.Response) -> T:
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        try:
            return self.parse(response)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # ValidationError is a ValueError
            raise ApiError.not_the_api(response, exc) from None


def _none(_response: httpx.Response) -> None:
    return None


def _json(response: httpx.Response) -> Any:
    return response.json()


def _given(**values: Any) -> dict[str, Any]:
    """The request fields a caller set (None means "the server's default")."""
    return {k: v for k, v in values.items() if v is not None}


def _list(path: str, cls: type[R], limit: int | None, cursor: str | None, **params: Any) -> _Op[Page[R]]:
    return _Op("GET", path, _page(cls), {"limit": limit, "cursor": cursor, **params})


def _on(method: str, path: str, parse: Callable[[httpx.Response], T]) -> Callable[[str], _Op[T]]:
    """An operation on one item: `path` has a `{}` for its (quoted) id."""

    def op(item: str) -> _Op[T]:
        return _Op(method, path.format(segment(item)), parse)

    return op


def _unanswered(run_id: str, timeout: float, last: RunInfo | None) -> TimeoutError:
    """A wait whose poll the server did not answer in time: why the run was still running when last read."""
    if last is not None:
        return TimeoutError(still_running(last, timeout))
    return TimeoutError(f"run {run_id}: the server did not answer within the wait's {timeout:g}s")


class _Lister(Protocol[R_]):
    """A list operation: a page of at most `limit`, after `cursor`."""

    def __call__(self, *, limit: int | None = None, cursor: str | None = None) -> _Op[Page[R_]]: ...


def _lister(path: str, cls: type[R]) -> _Lister[R]:
    """The list at `path`, paged by `limit` and `cursor` (typed, so a caller's checker sees a wrong keyword)."""

    def op(*, limit: int | None = None, cursor: str | None = None) -> _Op[Page[R]]:
        return _list(path, cls, limit, cursor)

    return op


class _Ops:
    """Every operation of the API. Both clients run these, so a route is described in one place."""

    # -- server -----------------------------------------------------------------------------------------
    @staticmethod
    def health() -> _Op[dict[str, Any]]:
        return _Op("GET", "/health", _json)

    @staticmethod
    def public_key() -> _Op[str]:
        """The PEM public key that verifies `BT-SIGNATURE` (Basis Theory signatures)."""
        return _Op("GET", "/keys/webhooks.pem", lambda r: r.text)

    @staticmethod
    def reset() -> _Op[None]:
        """Forget everything: runs stop; subscriptions, deliveries, runs, events and schedules are deleted."""
        return _Op("POST", "/reset", _none)

    # -- events -----------------------------------------------------------------------------------------
    @staticmethod
    def list_event_types(
        provider: str | None = None, *, limit: int | None = None, cursor: str | None = None
    ) -> _Op[Page[EventTypeInfo]]:
        return _list("/events", EventTypeInfo, limit, cursor, provider=provider)

    @staticmethod
    def sample(type: str, seed: int = 0) -> _Op[bytes]:
        """The exact body a subscriber receives for `type` (the same seed gives the same bytes)."""
        return _Op("GET", f"/events/{segment(type)}/sample", lambda r: r.content, {"seed": seed})

    @staticmethod
    def emit(
        type: str,
        overrides: Mapping[str, Any] | None = None,
        *,
        subscriptions: list[str] | None = None,
        target: str | None = None,
        seed: int | None = None,
        signing: str | None = None,
        secret: str | None = None,
    ) -> _Op[EmittedEvent]:
        """Emit one event now; `overrides` sets dotted paths (`{"payload.is_executing": 0}`). With `target`,
        `signing` and `secret` are how its deliveries are signed (no secret: one the server generates)."""
        body = _given(
            type=type,
            overrides=dict(overrides or {}),
            subscriptions=subscriptions,
            target=target,
            seed=seed,
            signing=signing,
            secret=secret,
        )
        return _Op("POST", "/events", _one(EmittedEvent), body=body)

    # -- scenarios and runs -----------------------------------------------------------------------------
    @staticmethod
    def start_run(scenario: str, **fields: Any) -> _Op[RunInfo]:
        """Start a run (answers at once, `pending`). `fields`: params, seed, speed, start_time, subscriptions,
        target, signing, secret, faults, max_in_flight; None means the server's default."""
        return _Op("POST", "/runs", _one(RunInfo), body=_given(scenario=scenario, **times(fields)))

    @staticmethod
    def run_events(run_id: str, *, limit: int | None = None, cursor: str | None = None) -> _Op[Page[RunEventInfo]]:
        """The events the run emitted, in order."""
        return _list(f"/runs/{segment(run_id)}/events", RunEventInfo, limit, cursor)

    # -- subscriptions ----------------------------------------------------------------------------------
    @staticmethod
    def create_subscription(url: str, **fields: Any) -> _Op[SubscriptionInfo]:
        """Create a subscription; the answer is the only one holding the secret in full. `fields`: events,
        signing, secret, headers, timeout, retry, max_in_flight, strict_order, batch, faults, enabled,
        disable_after."""
        return _Op("POST", "/subscriptions", _one(SubscriptionInfo), body=_given(url=url, **fields))

    @staticmethod
    def update_subscription(sub_id: str, **changes: Any) -> _Op[SubscriptionInfo]:
        """Change only the fields given (`enabled=True` re-enables it and resets its dead count)."""
        return _Op("PATCH", f"/subscriptions/{segment(sub_id)}", _one(SubscriptionInfo), body=changes)

    # -- deliveries -------------------------------------------------------------------------------------
    @staticmethod
    def list_deliveries(
        *,
        run: str | None = None,
        subscription: str | None = None,
        status: str | None = None,
        type: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        q: str | None = None,
        order: Literal["oldest", "newest"] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> _Op[Page[DeliveryInfo]]:
        """Deliveries, oldest first (`order="newest"`: newest first), filtered (`since`, `until`: made at or after,
        and before, RFC 3339 text or an aware datetime; `q`: text in an event's body); their `attempt_log` is None
        here (see `get_delivery`)."""
        filters = {"run": run, "subscription": subscription, "status": status, "type": type, "q": q, "order": order}
        return _list(
            "/deliveries", DeliveryInfo, limit, cursor, **filters, since=api_time(since), until=api_time(until)
        )

    @staticmethod
    def redeliver_dead(
        sub_id: str, *, since: str | datetime | None = None, until: str | datetime | None = None
    ) -> _Op[list[str]]:
        """The subscription's dead deliveries again, in order (with `since`, `until`: those made at or after, and
        before); the answer lists their ids."""
        window = _given(since=api_time(since), until=api_time(until))
        path = f"/subscriptions/{segment(sub_id)}/redeliver"
        return _Op("POST", path, lambda r: list(r.json()["redelivered"]), body=window or None)

    # -- schedules --------------------------------------------------------------------------------------
    @staticmethod
    def create_schedule(scenario: str, **fields: Any) -> _Op[ScheduleInfo]:
        """One of `cron`, `interval` (seconds) or `at` (ISO time), plus the fields of `start_run`."""
        return _Op("POST", "/schedules", _one(ScheduleInfo), body=_given(scenario=scenario, **times(fields)))

    # -- one item, and whole lists ------------------------------------------------------------------------
    openapi = staticmethod(lambda: _Op("GET", "/openapi.json", _json))
    schema = staticmethod(_on("GET", "/events/{}/schema", _json))
    list_scenarios = staticmethod(_lister("/scenarios", ScenarioInfo))
    get_scenario = staticmethod(_on("GET", "/scenarios/{}", _one(ScenarioInfo)))
    list_runs = staticmethod(_lister("/runs", RunInfo))
    get_run = staticmethod(_on("GET", "/runs/{}", _one(RunInfo)))
    cancel_run = staticmethod(_on("POST", "/runs/{}/cancel", _one(RunInfo)))  # deliveries already made go on
    list_subscriptions = staticmethod(_lister("/subscriptions", SubscriptionInfo))
    get_subscription = staticmethod(_on("GET", "/subscriptions/{}", _one(SubscriptionInfo)))
    delete_subscription = staticmethod(_on("DELETE", "/subscriptions/{}", _none))
    enable_subscription = staticmethod(_on("POST", "/subscriptions/{}/enable", _one(SubscriptionInfo)))
    get_delivery = staticmethod(_on("GET", "/deliveries/{}", _one(DeliveryInfo)))  # with its attempt_log
    # A finished delivery again: same id and body, a fresh retry budget.
    redeliver = staticmethod(_on("POST", "/deliveries/{}/redeliver", _one(DeliveryInfo)))
    list_schedules = staticmethod(_lister("/schedules", ScheduleInfo))
    delete_schedule = staticmethod(_on("DELETE", "/schedules/{}", _none))
    pause_schedule = staticmethod(_on("POST", "/schedules/{}/pause", _one(ScheduleInfo)))
    resume_schedule = staticmethod(_on("POST", "/schedules/{}/resume", _one(ScheduleInfo)))


# -- the two clients --------------------------------------------------------------------------------------


def _sync(op: Callable[P, _Op[T]]) -> Callable[Concatenate[Client, P], T]:
    @functools.wraps(op)
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._do(op(*args, **kwargs))

    return method


def _sync_pages(op: Callable[P, _Op[Page[T]]]) -> Callable[Concatenate[Client, P], Iterator[T]]:
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        """Every item, page after page (`limit` is the page size)."""
        while True:
            page = self._do(op(*args, **kwargs))
            yield from page.data
            if (cursor := next_cursor(page, kwargs.get("cursor"))) is None:
                return
            kwargs["cursor"] = cursor

    return method


def _async(op: Callable[P, _Op[T]]) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    @functools.wraps(op)
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._do(op(*args, **kwargs))

    return method


def _async_pages(op: Callable[P, _Op[Page[T]]]) -> Callable[Concatenate[AsyncClient, P], AsyncIterator[T]]:
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        """Every item, page after page (`limit` is the page size)."""
        while True:
            page = await self._do(op(*args, **kwargs))
            for item in page.data:
                yield item
            if (cursor := next_cursor(page, kwargs.get("cursor"))) is None:
                return
            kwargs["cursor"] = cursor

    return method


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
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport, verify=_tls(self.base_url)
        )

    def _do(self, op: _Op[T], timeout: float | None = None) -> T:
        return op.finish(self._http.request(**op.request(timeout)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_run(self, run_id: str, timeout: float = 60.0, interval: float = 0.02) -> RunInfo:
        """Poll until the run is completed, failed or cancelled; `TimeoutError` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        run = None
        while not (run := self._polled(run_id, deadline - time.monotonic(), timeout, run)).finished:
            if time.monotonic() >= deadline:
                raise TimeoutError(still_running(run, timeout))
            time.sleep(interval)
            interval = min(interval * 1.5, 0.25)
        return run

    def _polled(self, run_id: str, left: float, timeout: float, last: RunInfo | None) -> RunInfo:
        """The run, read within the `left` seconds of a wait of `timeout`: a server that does not answer ends the
        wait then, not at the client's own timeout, in the words of the `last` read if there was one (a slow
        last poll of a few milliseconds hid why the run was still running)."""
        try:
            return self._do(_Ops.get_run(run_id), max(left, 0.05))
        except httpx.TimeoutException:
            raise _unanswered(run_id, timeout, last) from None

    health = _sync(_Ops.health)
    openapi = _sync(_Ops.openapi)
    public_key = _sync(_Ops.public_key)
    reset = _sync(_Ops.reset)
    list_event_types = _sync(_Ops.list_event_types)
    iter_event_types = _sync_pages(_Ops.list_event_types)
    sample = _sync(_Ops.sample)
    schema = _sync(_Ops.schema)
    emit = _sync(_Ops.emit)
    list_scenarios = _sync(_Ops.list_scenarios)
    iter_scenarios = _sync_pages(_Ops.list_scenarios)
    get_scenario = _sync(_Ops.get_scenario)
    start_run = _sync(_Ops.start_run)
    list_runs = _sync(_Ops.list_runs)
    iter_runs = _sync_pages(_Ops.list_runs)
    get_run = _sync(_Ops.get_run)
    cancel_run = _sync(_Ops.cancel_run)
    run_events = _sync(_Ops.run_events)
    iter_run_events = _sync_pages(_Ops.run_events)
    create_subscription = _sync(_Ops.create_subscription)
    list_subscriptions = _sync(_Ops.list_subscriptions)
    iter_subscriptions = _sync_pages(_Ops.list_subscriptions)
    get_subscription = _sync(_Ops.get_subscription)
    update_subscription = _sync(_Ops.update_subscription)
    delete_subscription = _sync(_Ops.delete_subscription)
    enable_subscription = _sync(_Ops.enable_subscription)
    redeliver_dead = _sync(_Ops.redeliver_dead)
    list_deliveries = _sync(_Ops.list_deliveries)
    iter_deliveries = _sync_pages(_Ops.list_deliveries)
    get_delivery = _sync(_Ops.get_delivery)
    redeliver = _sync(_Ops.redeliver)
    create_schedule = _sync(_Ops.create_schedule)
    list_schedules = _sync(_Ops.list_schedules)
    iter_schedules = _sync_pages(_Ops.list_schedules)
    delete_schedule = _sync(_Ops.delete_schedule)
    pause_schedule = _sync(_Ops.pause_schedule)
    resume_schedule = _sync(_Ops.resume_schedule)


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
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport, verify=_tls(self.base_url)
        )

    async def _do(self, op: _Op[T], timeout: float | None = None) -> T:
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
        deadline = loop.time() + timeout
        run = None
        while not (run := await self._polled(run_id, deadline - loop.time(), timeout, run)).finished:
            if loop.time() >= deadline:
                raise TimeoutError(still_running(run, timeout))
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, 0.25)
        return run

    async def _polled(self, run_id: str, left: float, timeout: float, last: RunInfo | None) -> RunInfo:
        """See `Client._polled`."""
        try:
            return await self._do(_Ops.get_run(run_id), max(left, 0.05))
        except httpx.TimeoutException:
            raise _unanswered(run_id, timeout, last) from None

    health = _async(_Ops.health)
    openapi = _async(_Ops.openapi)
    public_key = _async(_Ops.public_key)
    reset = _async(_Ops.reset)
    list_event_types = _async(_Ops.list_event_types)
    iter_event_types = _async_pages(_Ops.list_event_types)
    sample = _async(_Ops.sample)
    schema = _async(_Ops.schema)
    emit = _async(_Ops.emit)
    list_scenarios = _async(_Ops.list_scenarios)
    iter_scenarios = _async_pages(_Ops.list_scenarios)
    get_scenario = _async(_Ops.get_scenario)
    start_run = _async(_Ops.start_run)
    list_runs = _async(_Ops.list_runs)
    iter_runs = _async_pages(_Ops.list_runs)
    get_run = _async(_Ops.get_run)
    cancel_run = _async(_Ops.cancel_run)
    run_events = _async(_Ops.run_events)
    iter_run_events = _async_pages(_Ops.run_events)
    create_subscription = _async(_Ops.create_subscription)
    list_subscriptions = _async(_Ops.list_subscriptions)
    iter_subscriptions = _async_pages(_Ops.list_subscriptions)
    get_subscription = _async(_Ops.get_subscription)
    update_subscription = _async(_Ops.update_subscription)
    delete_subscription = _async(_Ops.delete_subscription)
    enable_subscription = _async(_Ops.enable_subscription)
    redeliver_dead = _async(_Ops.redeliver_dead)
    list_deliveries = _async(_Ops.list_deliveries)
    iter_deliveries = _async_pages(_Ops.list_deliveries)
    get_delivery = _async(_Ops.get_delivery)
    redeliver = _async(_Ops.redeliver)
    create_schedule = _async(_Ops.create_schedule)
    list_schedules = _async(_Ops.list_schedules)
    iter_schedules = _async_pages(_Ops.list_schedules)
    delete_schedule = _async(_Ops.delete_schedule)
    pause_schedule = _async(_Ops.pause_schedule)
    resume_schedule = _async(_Ops.resume_schedule)


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
    "SubscriptionInfo",
]
