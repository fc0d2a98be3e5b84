"""Records to the JSON the control API answers with. Shapes are documented by `simulator.models.answers`.

Times are ISO 8601 UTC strings with milliseconds. Secrets appear in full only in the answer that created them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from simulator.models import Attempt, Delivery, Event, Run, Subscription
from simulator.providers.base import EventType
from simulator.signing import mask_secret
from simulator.timeutil import iso_ms, parse_time


def iso(ts: float | None) -> str | None:
    """Unix seconds as `2025-03-14T15:09:26.535Z` (None stays None)."""
    return None if ts is None else iso_ms(datetime.fromtimestamp(ts, UTC))


def page(items: Sequence[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"data": list(items), "next_cursor": next_cursor}


def subscription(sub: Subscription, *, reveal: bool = False) -> dict[str, Any]:
    """A subscription; `reveal` only in the answer that created it (the secret is shown once)."""
    return {
        "id": sub.id,
        "url": sub.url,
        "events": list(sub.events),
        "signing": sub.signing,
        "secret": sub.secret if reveal else mask_secret(sub.secret),
        "headers": dict(sub.headers),
        "timeout": sub.timeout,
        "retry": sub.retry.as_dict() if sub.retry else None,
        "max_in_flight": sub.max_in_flight,
        "strict_order": sub.strict_order,
        "batch": sub.batch,
        "faults": dict(sub.faults),
        "enabled": sub.enabled,
        "status": sub.status,
        "disable_after": sub.disable_after,
        "consecutive_dead": sub.consecutive_dead,
        "created_at": iso(sub.created_at),
    }


def run(record: Run) -> dict[str, Any]:
    spec = record.spec
    return {
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
        "created_at": iso(record.created_at),
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
    }


def attempt(a: Attempt) -> dict[str, Any]:
    return {
        "number": a.number,
        "started_at": iso(a.started_at),
        "latency_ms": a.latency_ms,
        "status_code": a.status_code,
        "error": a.error,
        "response": a.response,
        "delivered_at": a.delivered_at,
        "faults": a.faults,
    }


def delivery(d: Delivery, *, attempts: bool = False) -> dict[str, Any]:
    """A delivery; with `attempts`, its attempt log too (GET /deliveries/{id})."""
    out: dict[str, Any] = {
        "id": d.id,
        "subscription_id": d.subscription_id,
        "run_id": d.run_id,
        "type": d.type,
        "event_ids": list(d.event_ids),
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": iso(d.next_attempt_at),
        "created_at": iso(d.created_at),
        "finished_at": iso(d.finished_at),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "faults": d.faults,
    }
    if attempts:
        out["attempt_log"] = [attempt(a) for a in d.attempt_log]
    return out


def event_type(etype: EventType) -> dict[str, Any]:
    return {
        "type": etype.key,
        "provider": etype.provider,
        "name": etype.name,
        "aliases": list(etype.aliases),
        "description": etype.description,
    }


def emitted(event: Event, delivery_ids: Sequence[str]) -> dict[str, Any]:
    """The answer to POST /events: the event as built and the deliveries it made."""
    return {
        "id": event.id,
        "type": event.key,
        "occurred_at": iso_ms(event.occurred_at),
        "body": json.loads(event.json),
        "deliveries": list(delivery_ids),
    }


def run_event(row: Any) -> dict[str, Any]:
    """One stored event of a run (a row of the store's events table)."""
    return {
        "id": row.id,
        "seq": row.seq,
        "type": f"{row.provider}:{row.type}",
        "occurred_at": iso_ms(parse_time(row.occurred_at)),
        "body": json.loads(row.body),
    }
