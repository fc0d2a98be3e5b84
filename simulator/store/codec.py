"""Rows to records and back."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row

from simulator.models import Attempt, Delivery, RetryPolicy, Run, Subscription


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def subscription_row(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "url": sub.url,
        "events": dumps(list(sub.events)),
        "signing": sub.signing,
        "secret": sub.secret,
        "headers": dumps(sub.headers),
        "timeout": sub.timeout,
        "retry": dumps(sub.retry.as_dict()) if sub.retry else None,
        "max_in_flight": sub.max_in_flight,
        "strict_order": sub.strict_order,
        "batch": sub.batch,
        "faults": dumps(sub.faults),
        "status": sub.status,
        "disable_after": sub.disable_after,
        "consecutive_dead": sub.consecutive_dead,
        "created_at": sub.created_at,
        "ephemeral": sub.ephemeral,
    }


def subscription(row: Row[Any]) -> Subscription:
    retry = json.loads(row.retry) if row.retry else None
    return Subscription(
        id=row.id,
        url=row.url,
        events=tuple(json.loads(row.events)),
        signing=row.signing,
        secret=row.secret,
        headers=json.loads(row.headers),
        timeout=row.timeout,
        retry=RetryPolicy(tuple(retry["delays"]), retry["jitter"]) if retry else None,
        max_in_flight=row.max_in_flight,
        strict_order=bool(row.strict_order),
        batch=row.batch,
        faults=json.loads(row.faults),
        status=row.status,
        disable_after=row.disable_after,
        consecutive_dead=row.consecutive_dead,
        created_at=row.created_at,
        ephemeral=bool(row.ephemeral),
    )


def attempt(row: Row[Any]) -> Attempt:
    return Attempt(
        delivery_id=row.delivery_id,
        number=row.number,
        started_at=row.started_at,
        latency_ms=row.latency_ms,
        status_code=row.status_code,
        error=row.error,
        response=row.response,
        delivered_at=row.delivered_at,
        faults=json.loads(row.faults) if row.faults else None,
    )


def delivery(row: Row[Any], log: tuple[Attempt, ...] = ()) -> Delivery:
    return Delivery(
        id=row.id,
        subscription_id=row.subscription_id,
        run_id=row.run_id,
        type=row.type,
        event_ids=tuple(json.loads(row.event_ids)),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status in ("pending", "failed") else None,
        created_at=row.created_at,
        finished_at=row.finished_at,
        last_status=row.last_status,
        last_error=row.last_error,
        faults=json.loads(row.faults) if row.faults else None,
        attempt_log=log,
    )


def run(row: Row[Any], counts: dict[str, int] | None = None) -> Run:
    return Run(
        id=row.id,
        scenario=row.scenario,
        status=row.status,
        spec=json.loads(row.spec),
        events=row.events,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=counts or {},
    )
