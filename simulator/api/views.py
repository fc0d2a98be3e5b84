"""The core's records as the control API's answers (`simulator.models.answers`), serialised to JSON.

Records and answers share their field names, so most answers are read straight off the record's attributes;
only what differs is written here. Secrets appear in full only in the answer that created them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from simulator.models import answers
from simulator.models.records import Delivery, Event, Run, Subscription
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


def subscription(sub: Subscription, *, reveal: bool = False) -> dict[str, Any]:
    """A subscription; `reveal` only in the answer that created it (the secret is shown once)."""
    return _dump(answers.Subscription, sub if reveal else replace(sub, secret=mask_secret(sub.secret)))


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
    """A delivery; with `attempts`, its attempt log too (GET /deliveries/{id})."""
    return _dump(answers.DeliveryDetail if attempts else answers.Delivery, d)


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


def emitted(event: Event, delivery_ids: Sequence[str]) -> dict[str, Any]:
    """The answer to POST /events: the event as built and the deliveries it made."""
    return _dump(
        answers.EmittedEvent,
        {
            "id": event.id,
            "type": event.key,
            "occurred_at": event.occurred_at,
            "body": json.loads(event.json),
            "deliveries": list(delivery_ids),
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
