"""The control API's query parameters and the shapes of its answers: the one definition of each resource's fields.

Request bodies are the `inputs` models. `simulator.api.views` builds these answers from the core's records, the
OpenAPI document is generated from them, and the Python client (`simulator.client`) parses answers into
subclasses of them, so the server, its document and its client cannot drift apart. Times are ISO 8601 UTC with
milliseconds (`2025-03-14T15:09:26.535Z`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, create_model

from simulator.models.enums import DeliveryStatus, ErrorKind, RunStatus, SubscriptionStatus
from simulator.models.enums import SigningScheme as Scheme
from simulator.models.faults import Faults
from simulator.models.inputs import TimeWindow
from simulator.timeutil import iso_ms, utc

# A time: read from ISO 8601 or Unix seconds, written as ISO 8601 UTC with milliseconds.
Timestamp = Annotated[
    datetime, PlainSerializer(iso_ms, return_type=str), WithJsonSchema({"type": "string", "format": "date-time"})
]
# A run's simulated start, written with full precision: replaying it must give the same run.
StartTime = Annotated[
    datetime,
    PlainSerializer(lambda dt: utc(dt).isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

# -- query parameters ---------------------------------------------------------------------------------


class ListQuery(BaseModel):
    """Every list: at most `limit` items after `cursor` (the `next_cursor` of the previous page)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt filter must not silently list everything

    limit: int = Field(100, ge=1, le=500, description="Items per page.")
    cursor: str | None = Field(None, max_length=200, description="The `next_cursor` of the previous page.")


class EventsQuery(ListQuery):
    provider: str | None = Field(None, max_length=100, description="Only this provider's event types.")


class DeliveryFilters(BaseModel):
    """Which deliveries: the filters of GET /deliveries, and of GET /stream."""

    model_config = ConfigDict(extra="forbid")

    run: str | None = Field(None, max_length=200, description="Only this run's deliveries.")
    subscription: str | None = Field(None, max_length=200, description="Only this subscription's deliveries.")
    status: DeliveryStatus | None = None
    type: str | None = Field(None, max_length=200, description="Only this event type (`provider:type` or bare).")
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Only deliveries whose events' bodies contain this text (ASCII letters in any case).",
    )


class DeliveriesQuery(ListQuery, DeliveryFilters, TimeWindow):
    order: Literal["oldest", "newest"] = Field("oldest", description="Oldest first, or newest first.")


class StreamQuery(DeliveryFilters):
    pass


class SampleQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="The same seed gives the same bytes.")


# -- answers --------------------------------------------------------------------------------------------


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Health(Out):
    status: Literal["ok"]
    version: str


class ProblemField(Out):
    field: str
    message: str
    file: str | None = None
    line: int | None = None


class Problem(Out):
    """An RFC 9457 problem document; `errors` names each bad field."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemField] = Field(default_factory=list)


class Retry(Out):
    delays: list[float]
    jitter: float


class Subscription(Out):
    id: str
    url: str
    events: list[str]
    signing: Scheme | None
    secret: str | None = Field(description="In full only in the answer to POST /subscriptions; masked after.")
    headers: dict[str, str]
    timeout: float
    retry: Retry | None
    max_in_flight: int
    strict_order: bool
    batch: int
    faults: Faults
    enabled: bool
    status: SubscriptionStatus
    disable_after: int
    consecutive_dead: int
    created_at: Timestamp


class Run(Out):
    id: str
    scenario: str
    status: RunStatus
    params: dict[str, Any]
    seed: int | None
    speed: float
    start_time: StartTime | None
    subscriptions: list[str] | None
    target: str | None
    faults: Faults
    events: int = Field(description="Events emitted so far.")
    counts: dict[str, int] = Field(description="Deliveries by status.")
    error: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    next_event_at: Timestamp | None = Field(None, description="While it plays: when its next event is due.")
    ends_at: Timestamp | None = Field(
        None, description="While it plays: when its last event is due (its ETA, before the last retries)."
    )
    planned_events: int | None = Field(None, description="While it plays: how many events it emits in all.")


class SentRequest(Out):
    """An attempt's request, exactly as it went out (or, where the attempt never reached the receiver: refused,
    no such host, TLS, no connection in time, exactly as it was to go)."""

    method: str
    url: str
    headers: dict[str, str] = Field(
        description="Every header in the order sent: `Host`, the engine's (signature included), `Content-Length`."
    )
    body: str | None = Field(description="The body: UTF-8 text, or base64 (see `body_encoding`); null if unknown.")
    body_encoding: Literal["utf-8", "base64"]


class Attempt(Out):
    number: int
    started_at: Timestamp
    latency_ms: float
    status_code: int | None
    error: str | None
    error_kind: ErrorKind | None = Field(
        None, description="`http` for an answer outside 2xx, else the failure's kind; null for a success."
    )
    response: str | None = Field(
        description="The receiver's answer body, its first 64 KiB: UTF-8 text, or base64 (see `response_encoding`)."
    )
    response_encoding: Literal["utf-8", "base64"] = Field(
        "utf-8",
        description=(
            "How `response` holds the body: `utf-8`, the text itself (an answer cut at 64 KiB ends before a "
            "character the cut split); `base64`, the bytes exactly, for an answer that is not UTF-8 or holds a NUL "
            "byte."
        ),
    )
    response_headers: dict[str, str] | None = Field(None, description="The answer's headers, names lower-cased.")
    delivered_at: str | None
    faults: dict[str, Any] | None
    request: SentRequest | None = Field(
        None,
        description=(
            "What was sent, or was to go where the connection failed (`refused`, `dns`, `tls`, a connect "
            "`timeout`: Copy as curl sends it again); null if none was made (signing failed)."
        ),
    )


class Delivery(Out):
    id: str
    subscription_id: str
    run_id: str | None
    type: str
    event_ids: list[str]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Timestamp | None
    created_at: Timestamp
    finished_at: Timestamp | None
    last_status: int | None
    last_error: str | None
    last_latency_ms: float | None = Field(None, description="How long the latest attempt took.")
    first_attempt_at: Timestamp | None = Field(
        None, description="When its first attempt started: the real time it was first sent (none before)."
    )
    faults: dict[str, Any] | None


class DeliveryDetail(Delivery):
    attempt_log: list[Attempt]


class Redelivered(Out):
    redelivered: list[str] = Field(description="The deliveries sent again.")


class EventTypeInfo(Out):
    type: str
    provider: str
    name: str
    aliases: list[str]
    description: str


class Skipped(Out):
    subscription: str
    reason: str


class EmittedEvent(Out):
    id: str
    type: str
    occurred_at: Timestamp
    body: dict[str, Any] = Field(description="The provider's event object, without the per-POST envelope.")
    deliveries: list[str] = Field(
        description="Ids of the deliveries that carry the event (for a Syncfy batch "
        "still collecting events: the batch's, sent when it closes)."
    )
    skipped: list[Skipped] = Field(
        default_factory=list,
        description="The subscriptions named in `subscriptions` that were sent nothing, each with why (disabled, "
        "or not subscribed to the type).",
    )


class RunEvent(Out):
    id: str
    seq: int
    type: str
    occurred_at: Timestamp
    body: dict[str, Any]


class ScenarioParam(Out):
    default: str | int | float | bool | None
    description: str


class Scenario(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    provider: str
    description: str
    params: dict[str, ScenarioParam]
    event_types: list[str]


class Trigger(Out):
    """Exactly one of the three."""

    cron: str | None = None
    interval: float | None = None
    at: Timestamp | None = None


class ScheduledRun(Out):
    scenario: str
    params: dict[str, Any]
    seed: int | None
    speed: float
    start_time: StartTime | None
    subscriptions: list[str] | None
    target: str | None
    signing: Scheme | None
    secret: str | None = Field(description="Masked.")
    faults: Faults
    max_in_flight: int


class Firing(Out):
    at: Timestamp
    run: str | None = Field(description="The run it started; None when none started.")
    error: str | None = Field(description="Why no run started (its scenario or a subscription is gone).")


class Schedule(Out):
    id: str
    scenario: str
    trigger: Trigger
    next_run_at: Timestamp | None = Field(description="None while paused.")
    paused: bool
    run: ScheduledRun
    last_firing: Firing | None = Field(None, description="What its last firing did; None before the first.")


def page_of(model: type[BaseModel], **extra: Any) -> type[BaseModel]:
    """The list answer for `model`: `{"data": [...], "next_cursor": ...}` (plus `extra` fields)."""
    fields: dict[str, Any] = {
        "data": (list[model], ...),  # type: ignore[valid-type]
        "next_cursor": (str | None, Field(description="Pass as `cursor` for the next page.")),
    }
    fields.update(extra)
    return create_model(f"{model.__name__}Page", __config__=ConfigDict(extra="forbid"), **fields)


SubscriptionPage = page_of(Subscription)
RunPage = page_of(Run)
RunEventPage = page_of(RunEvent)
DeliveryPage = page_of(Delivery)
EventTypePage = page_of(EventTypeInfo)
SchedulePage = page_of(Schedule)
ScenarioPage = page_of(
    Scenario,
    errors=(
        list[ProblemField],
        Field(default_factory=list, description="Problems of scenario files that could not be loaded."),
    ),
)
