"""Rows to records and back."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Row

from simulator.models import Attempt, Delivery, RetryPolicy, Run, Subscription
from simulator.models.enums import LIVE_RUN_STATUSES
from simulator.models.records import SentRequest
from simulator.store.secrets import Sealer

# A stored blob is one tag byte and the data: raw, or zlib-compressed when that is smaller.
_RAW, _ZLIB = b"\x00", b"\x01"


def dumps(value: Any) -> str:
    """Compact JSON for a column only this program reads back (`json.loads`): orjson, several times quicker than
    the standard library on every delivery's and attempt's row. What it refuses (an integer past 64 bits, a lone
    surrogate) falls back to the standard library. Never for a provider's body, whose bytes are the standard
    library's (`json.dumps` and orjson spell some floats differently)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


def subscription_row(sub: Subscription, sealer: Sealer) -> dict[str, Any]:
    """The row of `sub`, its secret, a URL with a password and its headers sealed (see `simulator.store.secrets`)."""
    return {
        "id": sub.id,
        "url": sealer.seal_url(sub.url, f"url:{sub.id}"),
        "events": dumps(list(sub.events)),
        "signing": sub.signing,
        "secret": sealer.seal(sub.secret, f"secret:{sub.id}"),
        "headers": sealer.seal_headers(dumps(sub.headers), f"headers:{sub.id}"),
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


def subscription(row: Row[Any], sealer: Sealer) -> Subscription:
    retry = json.loads(row.retry) if row.retry else None
    return Subscription(
        id=row.id,
        url=sealer.unseal(row.url, f"url:{row.id}") or row.url,
        events=tuple(json.loads(row.events)),
        signing=row.signing,
        secret=sealer.unseal(row.secret, f"secret:{row.id}"),
        headers=json.loads(sealer.unseal(row.headers, f"headers:{row.id}") or "{}"),
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


def pack(data: bytes) -> bytes:
    """`data` as a blob column holds it (zlib at level 1 when that is smaller: bodies a fault damaged are rare and
    mostly JSON)."""
    packed = zlib.compress(data, 1)
    return _ZLIB + packed if len(packed) < len(data) else _RAW + data


def unpack(blob: bytes) -> bytes:
    tag, data = blob[:1], blob[1:]
    if tag == _ZLIB:
        return zlib.decompress(data)
    if tag == _RAW:
        return data
    raise ValueError(f"unknown blob tag {tag!r}")


def exchange_row(
    url: str,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    rendered: bool,
    response_headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    """The request and response columns of an attempt row. `headers` None: nothing was sent. `rendered`: `body`
    is the provider's envelope exactly as rendered, so only that fact is stored (the events table has the events;
    see `simulator.core.sent`). Runs on every attempt: JSON text, no compression on the hot path."""
    if headers is None:
        return {"request_url": None, "request_headers": None, "request_body": None, "response_headers": None}
    return {
        "request_url": url,
        "request_headers": dumps(headers),
        "request_body": None if rendered or body is None else pack(body),
        "response_headers": dumps(response_headers) if response_headers is not None else None,
    }


def attempt(row: Row[Any]) -> Attempt:
    request = None
    if row.request_headers is not None:
        body = unpack(row.request_body) if row.request_body is not None else None
        request = SentRequest(url=row.request_url, headers=json.loads(row.request_headers), body=body)
    return Attempt(
        delivery_id=row.delivery_id,
        number=row.number,
        started_at=row.started_at,
        latency_ms=row.latency_ms,
        status_code=row.status_code,
        error=row.error,
        response=row.response,
        response_encoding=row.response_encoding or "utf-8",  # NULL: text (every answer recorded before the column)
        delivered_at=row.delivered_at,
        faults=json.loads(row.faults) if row.faults else None,
        request=request,
        response_headers=json.loads(row.response_headers) if row.response_headers is not None else None,
    )


def delivery(
    row: Row[Any],
    log: tuple[Attempt, ...] = (),
    latency_ms: float | None = None,
    first_at: float | None = None,
    waiting: bool = False,
) -> Delivery:
    """`waiting`: its subscription is disabled, so no attempt is due (its next one comes once it is enabled): the
    time that was due, long past, read as a retry about to come."""
    return Delivery(
        id=row.id,
        subscription_id=row.subscription_id,
        run_id=row.run_id,
        type=row.type,
        event_ids=tuple(json.loads(row.event_ids)),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status in ("pending", "failed") and not waiting else None,
        created_at=row.created_at,
        finished_at=row.finished_at,
        last_status=row.last_status,
        last_error=row.last_error,
        faults=json.loads(row.faults) if row.faults else None,
        attempt_log=log,
        last_latency_ms=log[-1].latency_ms if log else latency_ms,
        first_attempt_at=min(a.started_at for a in log) if log else first_at,
    )


def run(row: Row[Any], counts: dict[str, int] | None = None) -> Run:
    # A run another process plays shows the progress that process last wrote, until the run ends.
    live = json.loads(row.progress) if row.progress and row.status in LIVE_RUN_STATUSES else {}
    return Run(
        id=row.id,
        scenario=row.scenario,
        status=row.status,
        spec=json.loads(row.spec),
        events=live.get("events", row.events),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=counts or {},
        next_event_at=live.get("next_at"),
        ends_at=live.get("ends_at"),
        planned_events=live.get("planned"),
    )
