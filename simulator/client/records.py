"""The records the Python client answers with: frozen views of the control API's JSON, and its error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

import httpx

from simulator.models.enums import FINISHED_RUN_STATUSES

T = TypeVar("T")
FINISHED = FINISHED_RUN_STATUSES


class ApiError(Exception):
    """A problem answer (`application/problem+json`) from the control API."""

    def __init__(self, status: int, title: str, detail: str, errors: tuple[dict[str, Any], ...] = ()) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return cls(response.status_code, response.reason_phrase, response.text[:500])
        return cls(
            body.get("status", response.status_code),
            body.get("title", response.reason_phrase),
            body.get("detail", ""),
            tuple(body.get("errors") or ()),
        )


# -- records -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """Base of the answer records: `raw` is the JSON as received, also readable as `record["field"]`."""

    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, kw_only=True)

    def __getitem__(self, name: str) -> Any:
        return self.raw[name]

    @classmethod
    def of(cls: type[R], data: Mapping[str, Any], **converted: Any) -> R:
        """The record of `data`; keys the record does not know are kept in `raw` only."""
        names = {f.name for f in fields(cls)} - {"raw"}
        # Lists become tuples, so a record holds no list that could change under it.
        values = {name: _frozen(data.get(name)) for name in names}
        values.update(converted)
        return cls(**values, raw=dict(data))


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class SubscriptionInfo(Record):
    id: str
    url: str
    events: tuple[str, ...]
    signing: str | None
    secret: str | None  # in full only from `create_subscription`; masked afterwards
    headers: dict[str, str]
    timeout: float
    retry: dict[str, Any] | None
    max_in_flight: int
    strict_order: bool
    batch: int
    faults: dict[str, Any]
    enabled: bool
    status: str
    disable_after: int
    consecutive_dead: int
    created_at: str


@dataclass(frozen=True)
class RunInfo(Record):
    id: str
    scenario: str
    status: str
    params: dict[str, Any]
    seed: int | None
    speed: float
    start_time: str | None
    subscriptions: tuple[str, ...] | None
    target: str | None
    faults: dict[str, Any]
    events: int
    counts: dict[str, int]
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class AttemptInfo(Record):
    number: int
    started_at: str
    latency_ms: float
    status_code: int | None
    error: str | None
    response: str | None
    delivered_at: str | None
    faults: dict[str, Any] | None


@dataclass(frozen=True)
class DeliveryInfo(Record):
    id: str
    subscription_id: str
    run_id: str | None
    type: str
    event_ids: tuple[str, ...]
    status: str
    attempts: int  # how many were made; `attempt_log` lists them (None when not fetched: lists omit it)
    next_attempt_at: str | None
    created_at: str
    finished_at: str | None
    last_status: int | None
    last_error: str | None
    faults: dict[str, Any] | None
    attempt_log: tuple[AttemptInfo, ...] | None

    @classmethod
    def of(cls, data: Mapping[str, Any], **converted: Any) -> DeliveryInfo:
        log = data.get("attempt_log")
        attempts = None if log is None else tuple(AttemptInfo.of(a) for a in log)
        return super().of(data, attempt_log=attempts, **converted)


@dataclass(frozen=True)
class ScheduleInfo(Record):
    id: str
    scenario: str
    trigger: dict[str, Any]
    next_run_at: str | None
    paused: bool
    run: dict[str, Any]


@dataclass(frozen=True)
class EventTypeInfo(Record):
    type: str
    provider: str
    name: str
    aliases: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class EmittedEvent(Record):
    """The answer to `emit`: the event as built (without the per-POST envelope) and the deliveries made."""

    id: str
    type: str
    occurred_at: str
    body: dict[str, Any]
    deliveries: tuple[str, ...]


@dataclass(frozen=True)
class RunEventInfo(Record):
    id: str
    seq: int
    type: str
    occurred_at: str
    body: dict[str, Any]


@dataclass(frozen=True)
class ScenarioInfo(Record):
    name: str
    provider: str
    description: str
    params: dict[str, Any]
    event_types: tuple[str, ...]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; pass `next_cursor` as `cursor` for the next (None: this was the last)."""

    data: tuple[T, ...]
    next_cursor: str | None
    errors: tuple[dict[str, Any], ...] = ()  # scenarios only: files that could not be loaded

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
