"""The core's records as the control API's answers (`simulator.models.answers`), serialised to JSON.

Records and answers share their field names, so most answers are read straight off the record's attributes;
only what differs is written here. Secrets appear in full only in the answer that created them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from simulator.credentials import mask_headers, mask_url
from simulator.delivery.http1 import Target
from simulator.models import answers
from simulator.models.records import Attempt, Delivery, Event, Run, SentRequest, Subscription
from simulator.providers.base import EventType
from simulator.signing import mask_secret
from simulator.timeutil import parse_time


def _dump(model: type[BaseModel], source: Any) -> dict[str, Any]:
    """`source` (a record, read by attribute, or a mapping) as the JSON of `model`."""
    if isinstance(source, dict):
        return model.model_validate(source).model_dump(mode="json")
    return model.model_validate(source, from_attributes=True).model_dump(mode="json")


def page(items: Sequence[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"data": list(items), "next_cursor": next_cursor}


def subscription(sub: Subscription, *, secret: bool = False, given: bool = False) -> dict[str, Any]:
    """A subscription with its secrets masked: the signing secret unless `secret` (the answer that made it: it
    is shown once), its URL's credentials and its own authorization headers unless `given` (the answer to the
    request that gave them)."""
    if not secret:
        sub = replace(sub, secret=mask_secret(sub.secret))
    if not given:
        sub = replace(sub, url=mask_url(sub.url), headers=dict(mask_headers(sub.headers) or {}))
    return _dump(answers.Subscription, sub)


def run(record: Run) -> dict[str, Any]:
    spec = record.spec
    return _dump(
        answers.Run,
        {
            "id": record.id,
            "scenario": record.scenario,
            "status": record.status,
            "params": spec.get("params") or {},
            "seed": spec.get("seed"),
            "speed": spec.get("speed", 1.0),
            "start_time": spec.get("start_time"),
            "subscriptions": spec.get("subscriptions"),
            "target": spec.get("target"),
            "faults": spec.get("faults") or {},
            "events": record.events,
            "counts": dict(record.counts),
            "error": record.error,
            "created_at": record.created_at,
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "next_event_at": record.next_event_at,
            "ends_at": record.ends_at,
            "planned_events": record.planned_events,
        },
    )


def delivery(d: Delivery, *, attempts: bool = False) -> dict[str, Any]:
    """A delivery; with `attempts`, its attempt log too (GET /deliveries/{id}), each with what it sent."""
    if not attempts:
        return _dump(answers.Delivery, d)
    fields = {name: getattr(d, name) for name in answers.Delivery.model_fields}
    return _dump(answers.DeliveryDetail, {**fields, "attempt_log": [_attempt(a) for a in d.attempt_log]})


def _attempt(a: Attempt) -> dict[str, Any]:
    fields = {name: getattr(a, name) for name in answers.Attempt.model_fields if name != "request"}
    return {**fields, "request": _request(a.request) if a.request is not None else None}


def _request(request: SentRequest) -> dict[str, Any]:
    """The request as the receiver got it: the HTTP client writes `Host` first and `Content-Length` last."""
    body = request.body
    headers = dict(request.headers)
    try:
        host = Target.parse(request.url).head.decode("latin-1").split("\r\n")[1].partition(": ")[2]
    except ValueError:  # a URL the client refused: nothing went out, so there is no Host to show
        host = None
    wire = {"Host": host} if host is not None else {}
    wire.update(headers)
    if body is not None:
        wire["Content-Length"] = str(len(body))
    return {"method": request.method, "url": request.url, "headers": wire, **_body(body)}


def _body(body: bytes | None) -> dict[str, Any]:
    """Text when the bytes are UTF-8 (JSON is, unless a fault broke it), else base64: exact either way."""
    if body is None:
        return {"body": None, "body_encoding": "utf-8"}
    try:
        return {"body": body.decode("utf-8"), "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "body_encoding": "base64"}


def event_type(etype: EventType) -> dict[str, Any]:
    return _dump(
        answers.EventTypeInfo,
        {
            "type": etype.key,
            "provider": etype.provider,
            "name": etype.name,
            "aliases": list(etype.aliases),
            "description": etype.description,
        },
    )


def emitted(event: Event, delivery_ids: Sequence[str], skipped: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The answer to POST /events: the event as built, the deliveries it made, and the named subscriptions it
    made none for."""
    return _dump(
        answers.EmittedEvent,
        {
            "id": event.id,
            "type": event.key,
            "occurred_at": event.occurred_at,
            "body": json.loads(event.json),
            "deliveries": list(delivery_ids),
            "skipped": [{"subscription": sub, "reason": reason} for sub, reason in skipped],
        },
    )


def run_event(row: Any) -> dict[str, Any]:
    """One stored event of a run (a row of the store's events table)."""
    return _dump(
        answers.RunEvent,
        {
            "id": row.id,
            "seq": row.seq,
            "type": f"{row.provider}:{row.type}",
            "occurred_at": parse_time(row.occurred_at),
            "body": json.loads(row.body),
        },
    )
