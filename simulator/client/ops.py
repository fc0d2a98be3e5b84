"""The control API's operations, each an `Op`: the request to make and how to read its answer. `Client` and
`AsyncClient` (in `simulator.client`) send the same operations, one synchronously and one on an event loop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, ParamSpec, Protocol, TypeVar

import httpx

from simulator.client.records import (
    ApiError,
    DeliveryInfo,
    EmittedEvent,
    EventTypeInfo,
    Page,
    R,
    RunEventInfo,
    RunInfo,
    ScenarioInfo,
    ScheduleInfo,
    SubscriptionInfo,
    still_running,
)
from simulator.client.wire import api_time, json_body, segment, times

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
class Op(Generic[T]):
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


def _none(response: httpx.Response) -> None:
    """The control API's answer with nothing to say: 204, empty. Any other success is not its answer (a webhook
    receiver's 200, given the client the wrong port): taken as one, a reset that never happened looked done."""
    if response.status_code != 204 or response.content:
        raise ValueError("expected its 204 No Content with no body")


def _json(response: httpx.Response) -> Any:
    return response.json()


def _given(**values: Any) -> dict[str, Any]:
    """The request fields a caller set (None means "the server's default")."""
    return {k: v for k, v in values.items() if v is not None}


def _list(path: str, cls: type[R], limit: int | None, cursor: str | None, **params: Any) -> Op[Page[R]]:
    return Op("GET", path, _page(cls), {"limit": limit, "cursor": cursor, **params})


def _on(method: str, path: str, parse: Callable[[httpx.Response], T]) -> Callable[[str], Op[T]]:
    """An operation on one item: `path` has a `{}` for its (quoted) id."""

    def op(item: str) -> Op[T]:
        return Op(method, path.format(segment(item)), parse)

    return op


def unanswered(run_id: str, timeout: float, last: RunInfo | None) -> TimeoutError:
    """A wait whose poll the server did not answer in time: why the run was still running when last read."""
    if last is not None:
        return TimeoutError(still_running(last, timeout))
    return TimeoutError(f"run {run_id}: the server did not answer within the wait's {timeout:g}s")


class _Lister(Protocol[R_]):
    """A list operation: a page of at most `limit`, after `cursor`."""

    def __call__(self, *, limit: int | None = None, cursor: str | None = None) -> Op[Page[R_]]: ...


def _lister(path: str, cls: type[R]) -> _Lister[R]:
    """The list at `path`, paged by `limit` and `cursor` (typed, so a caller's checker sees a wrong keyword)."""

    def op(*, limit: int | None = None, cursor: str | None = None) -> Op[Page[R]]:
        return _list(path, cls, limit, cursor)

    return op


class Ops:
    """Every operation of the API. Both clients run these, so a route is described in one place."""

    # -- server -----------------------------------------------------------------------------------------
    @staticmethod
    def health() -> Op[dict[str, Any]]:
        return Op("GET", "/health", _json)

    @staticmethod
    def public_key() -> Op[str]:
        """The PEM public key that verifies `BT-SIGNATURE` (Basis Theory signatures)."""
        return Op("GET", "/keys/webhooks.pem", lambda r: r.text)

    @staticmethod
    def reset() -> Op[None]:
        """Forget everything: runs stop; subscriptions, deliveries, runs, events and schedules are deleted."""
        return Op("POST", "/reset", _none)

    # -- events -----------------------------------------------------------------------------------------
    @staticmethod
    def list_event_types(
        provider: str | None = None, *, limit: int | None = None, cursor: str | None = None
    ) -> Op[Page[EventTypeInfo]]:
        return _list("/events", EventTypeInfo, limit, cursor, provider=provider)

    @staticmethod
    def sample(type: str, seed: int = 0) -> Op[bytes]:
        """The exact body a subscriber receives for `type` (the same seed gives the same bytes)."""
        return Op("GET", f"/events/{segment(type, 'type')}/sample", lambda r: r.content, {"seed": seed})

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
        retry: Mapping[str, Any] | None = None,
    ) -> Op[EmittedEvent]:
        """Emit one event now; `overrides` sets dotted paths (`{"payload.is_executing": 0}`). With `target`,
        `signing` and `secret` are how its deliveries are signed (no secret: one the server generates), and
        `retry` how they are retried (`{"delays": [1, 5]}`: two retries, one and five seconds after)."""
        body = _given(
            type=type,
            overrides=dict(overrides or {}),
            subscriptions=subscriptions,
            target=target,
            seed=seed,
            signing=signing,
            secret=secret,
            retry=None if retry is None else dict(retry),
        )
        return Op("POST", "/events", _one(EmittedEvent), body=body)

    # -- scenarios and runs -----------------------------------------------------------------------------
    @staticmethod
    def start_run(scenario: str, **fields: Any) -> Op[RunInfo]:
        """Start a run (answers at once, `pending`). `fields`: params, seed, speed, start_time, subscriptions,
        target, signing, secret, faults, max_in_flight; None means the server's default."""
        return Op("POST", "/runs", _one(RunInfo), body=_given(scenario=scenario, **times(fields)))

    @staticmethod
    def run_events(run_id: str, *, limit: int | None = None, cursor: str | None = None) -> Op[Page[RunEventInfo]]:
        """The events the run emitted, in order."""
        return _list(f"/runs/{segment(run_id, 'run_id')}/events", RunEventInfo, limit, cursor)

    # -- subscriptions ----------------------------------------------------------------------------------
    @staticmethod
    def create_subscription(url: str, **fields: Any) -> Op[SubscriptionInfo]:
        """Create a subscription; the answer is the only one holding the secret in full. `fields`: events,
        signing, secret, headers, timeout, retry, max_in_flight, strict_order, batch, faults, enabled,
        disable_after."""
        return Op("POST", "/subscriptions", _one(SubscriptionInfo), body=_given(url=url, **fields))

    @staticmethod
    def update_subscription(sub_id: str, **changes: Any) -> Op[SubscriptionInfo]:
        """Change only the fields given (`enabled=True` re-enables it and resets its dead count)."""
        return Op("PATCH", f"/subscriptions/{segment(sub_id, 'sub_id')}", _one(SubscriptionInfo), body=changes)

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
    ) -> Op[Page[DeliveryInfo]]:
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
    ) -> Op[list[str]]:
        """The subscription's dead deliveries again, in order (with `since`, `until`: those made at or after, and
        before); the answer lists their ids."""
        window = _given(since=api_time(since), until=api_time(until))
        path = f"/subscriptions/{segment(sub_id, 'sub_id')}/redeliver"
        return Op("POST", path, lambda r: list(r.json()["redelivered"]), body=window or None)

    # -- schedules --------------------------------------------------------------------------------------
    @staticmethod
    def create_schedule(scenario: str, **fields: Any) -> Op[ScheduleInfo]:
        """One of `cron`, `interval` (seconds) or `at` (ISO time), plus the fields of `start_run`."""
        return Op("POST", "/schedules", _one(ScheduleInfo), body=_given(scenario=scenario, **times(fields)))

    # -- one item, and whole lists ------------------------------------------------------------------------
    openapi = staticmethod(lambda: Op("GET", "/openapi.json", _json))
    asyncapi = staticmethod(lambda: Op("GET", "/asyncapi.json", _json))  # every event type, as AsyncAPI 3.0
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
    get_schedule = staticmethod(_on("GET", "/schedules/{}", _one(ScheduleInfo)))
    delete_schedule = staticmethod(_on("DELETE", "/schedules/{}", _none))
    pause_schedule = staticmethod(_on("POST", "/schedules/{}/pause", _one(ScheduleInfo)))
    resume_schedule = staticmethod(_on("POST", "/schedules/{}/resume", _one(ScheduleInfo)))
