"""Frozen records that cross module boundaries: events, retry policies, subscriptions, deliveries, attempts."""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _with(record: Any, **changes: Any) -> Any:
    """A copy of frozen dataclass `record` with `changes`: its fields copied as they are, every one of them
    (nothing to keep in step with the class), and no `__init__` run, as `dataclasses.replace` would."""
    new = object.__new__(type(record))
    new.__dict__.update(record.__dict__)
    new.__dict__.update(changes)
    return new


@dataclass(frozen=True)
class Event:
    """One provider event, as generated: what subscribers receive, minus the per-POST envelope.

    `data` is the provider's per-event object (Syncfy: `{"header", "payload"}`; Basis Theory: the `event`
    object) and `json` its serialisation, computed once so every delivery and retry sends the same bytes. An event
    read back from the store has only `json` (`data` None): what is sent is the text, and parsing every body a
    sender read cost a worker about 5 µs of its 170 µs of CPU per delivery; `parsed()` gives the object either way.
    """

    id: str
    provider: str
    type: str
    occurred_at: datetime
    data: dict[str, Any] | None
    json: str
    envelope_id: str | None = None
    seq: int = 0
    run_id: str | None = None
    # The type of the later event of its run that ends what this one began (`scenarios.lookahead`), when the
    # run planned one: what the API twins show in between is how it ended.
    ends_with: str | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.type}"

    def parsed(self) -> dict[str, Any]:
        """`data`, from `json` when the event has only that."""
        return self.data if self.data is not None else json.loads(self.json)

    def numbered(self, seq: int, run_id: str | None, ends_with: str | None = None) -> Event:
        """This event as the `seq`th of run `run_id`: `dataclasses.replace`, which costs 3.7 µs against 0.6 for
        a copy of the fields, once for every event a run builds."""
        return _with(self, seq=seq, run_id=run_id, ends_with=ends_with)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long apart a failed delivery is retried (simulated seconds, before speed)."""

    delays: tuple[float, ...]
    jitter: float = 0.2

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def delay(self, retry_number: int, draw: float) -> float:
        """The wait before retry `retry_number` (1-based); `draw` in [0, 1) places it within the jitter band."""
        base = self.delays[retry_number - 1]
        return base * (1 - self.jitter + 2 * self.jitter * draw)

    @classmethod
    def exponential(cls, first: float, retries: int, factor: float = 2.0, jitter: float = 0.2) -> RetryPolicy:
        return cls(tuple(first * factor**i for i in range(retries)), jitter)

    def as_dict(self) -> dict[str, Any]:
        return {"delays": list(self.delays), "jitter": self.jitter}


@dataclass(frozen=True)
class BuildContext:
    """What an event builder may read: the run's world, its seeded randomness and the event's time."""

    world: Any
    rng: random.Random
    names: Any  # people's and companies' names, from the seed alone (`simulator.providers.names.Names`)
    now: datetime
    params: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None
    # When a later step of the run ends what this step begins (a token's token.expired): see `Provider.ends`.
    ends: datetime | None = None

    def at(self, now: datetime, ref: str | None, ends: datetime | None = None) -> BuildContext:
        """This context for the event of step `ref` at `now` (`dataclasses.replace`, as `Event.numbered`)."""
        return _with(self, now=now, ref=ref, ends=ends)


@dataclass(frozen=True)
class Subscription:
    """Where matching events go, how they are signed and retried."""

    id: str
    url: str
    events: tuple[str, ...] = ()
    signing: str | None = None  # None: each event's provider's native scheme
    secret: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    retry: RetryPolicy | None = None  # None: the provider's default policy
    max_in_flight: int = 1
    strict_order: bool = False
    batch: int = 1
    faults: dict[str, Any] = field(default_factory=dict)
    status: str = "enabled"
    disable_after: int = 5  # consecutive dead deliveries before the subscription is disabled
    consecutive_dead: int = 0
    created_at: float = 0.0
    ephemeral: bool = False  # made for one run's ad-hoc target

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"


@dataclass(frozen=True)
class SentRequest:
    """One attempt's request as it went out: the URL, the headers the engine set (signature headers included;
    the HTTP client adds `Host` and `Content-Length`), and the body. `body` is None where the store keeps only
    that it was the provider's envelope as rendered (re-rendered on reading: see `simulator.core.sent`)."""

    url: str
    headers: dict[str, str]
    body: bytes | None
    method: str = "POST"


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    number: int
    started_at: float
    latency_ms: float
    status_code: int | None
    error: str | None
    response: str | None  # the body of the answer, up to the sender's bound: text, or base64 (response_encoding)
    delivered_at: str | None = None
    faults: dict[str, Any] | None = None
    request: SentRequest | None = None  # None: nothing was sent (signing failed), or an attempt from before
    response_headers: dict[str, str] | None = None  # names lower-cased, as the client parsed them
    response_encoding: str = "utf-8"  # "base64": the answer's bytes were not UTF-8, and `response` is their base64

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def error_kind(self) -> str | None:
        """What kind of failure `error` describes (None when the attempt got a 2xx)."""
        return error_kind(self.status_code, self.error)


def shown_answer(response: str, encoding: str) -> str:
    """An answer's body where a line of text shows it (a run's report, the CLI): base64 is said to be base64, not
    passed off as what the receiver wrote. Text kept as base64 only for the NUL it holds is shown as the text it
    is (what shows it escapes control characters)."""
    if encoding != "base64" or not response:
        return response
    try:
        return base64.b64decode(response, validate=True).decode("utf-8")
    except ValueError:  # not UTF-8 (binascii.Error and UnicodeDecodeError are ValueErrors)
        return f"(base64) {response}"


# How the sender's error for an answer whose head came but whose body was cut short begins (`delivery.sender`).
CUT_SHORT = "the answer's body was cut short"
# The sender writes a transport failure as `<exception class>: <message>` (or `timeout after …`), so the class
# name tells the kind; checked in this order (an SSL error is an OSError too).
_ERROR_KINDS = (
    ("timeout", ("timeout after", "TimeoutError")),
    ("tls", ("SSL", "CertificateError")),
    ("refused", ("ConnectionRefusedError",)),
    ("dns", ("gaierror",)),
    # A reset the client reports as the server's disconnect (`ServerDisconnected: … Connection reset by peer`).
    ("connection", ("Connection reset by peer", "ConnectionResetError")),
    ("protocol", ("ProtocolError", "ServerDisconnected", "malformed response")),
    ("connection", ("ConnectionResetError", "ConnectionAbortedError", "BrokenPipeError", "OSError")),
    ("signing", ("signing failed",)),
    ("internal", ("internal error",)),
)


def error_kind(status_code: int | None, error: str | None) -> str | None:
    """`http` for an answer outside 2xx, `cut` for one whose body was cut short, a transport failure's kind
    (`timeout`, `tls`, `refused`, `dns`, `protocol`, `connection`), `signing`, `internal` or `other`; None for a
    success."""
    if status_code is not None and (error or "").startswith(CUT_SHORT):
        return "cut"  # the head came, the body did not all come: a failed attempt, whatever its status
    if status_code is not None:
        return None if 200 <= status_code < 300 else "http"
    text = error or ""
    for kind, marks in _ERROR_KINDS:
        if any(mark in text for mark in marks):
            return kind
    return "other"


@dataclass(frozen=True)
class Delivery:
    """One POST's worth of events (one, or a Syncfy batch) to one subscription, and where it stands."""

    id: str
    subscription_id: str
    run_id: str | None
    type: str
    event_ids: tuple[str, ...]
    status: str
    attempts: int
    next_attempt_at: float | None
    created_at: float
    finished_at: float | None
    last_status: int | None
    last_error: str | None
    faults: dict[str, Any] | None = None
    attempt_log: tuple[Attempt, ...] = ()
    last_latency_ms: float | None = None  # the latest attempt's
    first_attempt_at: float | None = None  # when its first attempt started: the real time it was first sent


@dataclass(frozen=True)
class Run:
    id: str
    scenario: str
    status: str
    spec: dict[str, Any]
    events: int
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    counts: dict[str, int] = field(default_factory=dict)
    # While a run plays: when its next event is due and when its last one is (wall-clock seconds), and how many
    # events it plans; None when unknown (not started, finished, or a timeline too long to measure ahead).
    next_event_at: float | None = None
    ends_at: float | None = None
    planned_events: int | None = None
