"""The records the Python client answers with, and its error. Each record is the control API's own answer model
(`simulator.models.answers`), so a field is defined once for the server, its OpenAPI document and this client."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from simulator.models import answers
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
        if not isinstance(body, dict) or not isinstance(body.get("detail"), str):  # a proxy's, a gateway's
            return cls(response.status_code, response.reason_phrase, _foreign(response))
        errors = body.get("errors")
        return cls(
            response.status_code,
            str(body.get("title") or response.reason_phrase),
            body["detail"],
            tuple(e for e in errors if isinstance(e, dict)) if isinstance(errors, list) else (),
        )

    @classmethod
    def not_the_api(cls, response: httpx.Response, why: Exception) -> ApiError:
        """An answer that is not the control API's (an HTML page, a proxy's JSON, a body cut short)."""
        kind = response.headers.get("content-type", "no content type")
        detail = f"{_where(response)}answered {response.status_code} ({kind}): {why}"
        return cls(response.status_code, "Not webhook-sim's control API", detail[:800])


def _foreign(response: httpx.Response) -> str:
    """What an answer that is no problem of the control API's says: a short text or JSON one on a line (a proxy's
    "upstream timed out"), else its kind alone. An HTML page was printed whole, tags and all, into the error."""
    kind = response.headers.get("content-type", "no content type")
    if kind.startswith(("text/plain", "application/json")) and (text := " ".join(response.text.split())):
        return f"{_where(response)}{text[:300]}{'…' if len(text) > 300 else ''}"
    return f"{_where(response)}answered with {kind}, not webhook-sim's control API: is the URL the server's?"


def _where(response: httpx.Response) -> str:
    """`METHOD URL: ` of the request `response` answers, when it has one."""
    try:
        return f"{response.request.method} {response.request.url}: "
    except RuntimeError:  # a response made by hand
        return ""


# -- records: the API's answer models, readable as `record["field"]` too ----------------------------------------


class Record(BaseModel):
    """Base of the answer records. Fields newer servers add are kept (and readable as `record["name"]`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def __getitem__(self, name: str) -> Any:
        return self.raw[name]

    @property
    def raw(self) -> dict[str, Any]:
        """The record as JSON, in the server's own form."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def of(cls: type[R], data: Mapping[str, Any]) -> R:
        return cls.model_validate(data)


R = TypeVar("R", bound=Record)
_CLIENT = ConfigDict(extra="allow", frozen=True)  # written in each record: it wins over the answer's `forbid`


class SubscriptionInfo(answers.Subscription, Record):
    model_config = _CLIENT


class RunInfo(answers.Run, Record):
    model_config = _CLIENT

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def still_running(run: RunInfo, timeout: float) -> str:
    """Why a wait for `run` gave up, with what the run says of itself: a bare "still running" hid a run at speed 1
    that needed hours, and deliveries held up by retries."""
    said = [f"run {run.id} ({run.scenario}) is still {run.status} after {timeout:g}s"]
    planned = f" of {run.planned_events}" if run.planned_events is not None else ""
    said.append(f"{run.events}{planned} events emitted at speed {run.speed:g}")
    if run.ends_at is not None:
        left = run.ends_at.timestamp() - time.time()
        said.append(f"its last event is due in {left:,.0f}s" if left > 0 else "its last event was due already")
    if run.counts:
        said.append("deliveries " + ", ".join(f"{n} {status}" for status, n in sorted(run.counts.items())))
    if run.counts.get("failed") or run.counts.get("pending"):
        said.append(
            "the run ends once every delivery has: a receiver that fails, answers slowly or not at all (up to its "
            "subscription's timeout), or asks Retry-After holds it back"
        )
    return "; ".join(said)


class AttemptInfo(answers.Attempt, Record):
    model_config = _CLIENT


class DeliveryInfo(answers.Delivery, Record):
    """A delivery; `attempt_log` is None where it was not fetched (lists omit it; `get_delivery` has it)."""

    model_config = _CLIENT
    attempt_log: list[AttemptInfo] | None = None


class TriggerInfo(answers.Trigger, Record):
    model_config = _CLIENT


class ScheduledRunInfo(answers.ScheduledRun, Record):
    model_config = _CLIENT


class ScheduleInfo(answers.Schedule, Record):
    model_config = _CLIENT
    trigger: TriggerInfo
    run: ScheduledRunInfo


class EventTypeInfo(answers.EventTypeInfo, Record):
    model_config = _CLIENT


class EmittedEvent(answers.EmittedEvent, Record):
    """The answer to `emit`: the event as built (without the per-POST envelope) and the deliveries made."""

    model_config = _CLIENT


class RunEventInfo(answers.RunEvent, Record):
    model_config = _CLIENT


class ScenarioInfo(answers.Scenario, Record):
    model_config = _CLIENT


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
