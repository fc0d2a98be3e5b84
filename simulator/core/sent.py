"""What each attempt sent. The store keeps a body no fault changed as the fact that it was the provider's envelope
as rendered (the events table holds each event once); this renders it again from the delivery's stored events,
byte for byte what the provider's `render` gave at the attempt (the envelope's id and the attempt's stored
`delivered_at` are its only other inputs).

A rendering changed by a release (Syncfy's documents notices gave `events` first, then `rid` first) would show
an older store's attempt as bytes it never sent, and its signature as wrong for them: where the provider keeps
the earlier rendering, the attempt's body is the one its signature hashed (see `_as_signed`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from simulator import catalog
from simulator.delivery.job import event_from_row
from simulator.models import Attempt, Delivery, Event
from simulator.providers.base import Provider
from simulator.signing import jwt_claims
from simulator.store import Store
from simulator.timeutil import parse_time


async def with_bodies(store: Store, delivery: Delivery) -> Delivery:
    """`delivery` with the request body of each attempt filled in where the store kept it as rendered."""
    if not any(a.request is not None and a.request.body is None for a in delivery.attempt_log):
        return delivery
    page = await store.outbox_rows([delivery.id])
    if not page or not page[0][1]:
        return delivery  # its events are gone: the bodies stay unknown (null) rather than made up
    row, event_rows = page[0]
    events = [event_from_row(e) for e in event_rows]
    provider = catalog.get_provider(events[0].provider)
    log = tuple(_rendered(a, provider, events, row.envelope_id) for a in delivery.attempt_log)
    return replace(delivery, attempt_log=log)


def _rendered(attempt: Attempt, provider: Provider, events: Sequence[Event], envelope_id: str | None) -> Attempt:
    request = attempt.request
    if request is None or request.body is not None or attempt.delivered_at is None:
        return attempt
    try:
        body = provider.render(events, envelope_id or "", parse_time(attempt.delivered_at))
    except ValueError:  # events that no longer make one envelope (a batch's provider rules changed)
        return attempt
    body = _as_signed(body, provider.earlier_render(events, envelope_id or ""), request.headers)
    return replace(attempt, request=replace(request, body=body))


def _as_signed(body: bytes, earlier: bytes | None, headers: Mapping[str, str]) -> bytes:
    """Of the envelope as rendered now (`body`) and as an earlier release rendered it, the one the attempt's
    `request-signature` hashed (its `body_sha256` claim, `simulator.signing`): `body` where nothing tells (no
    earlier rendering, another signing scheme, a hash of neither). Only an attempt of a batch whose rendering
    changed is hashed, and the earlier one only when `body` is not the one signed (a store older than the
    change)."""
    if earlier is None:
        return body
    claimed = _body_sha256(headers)
    if claimed is None or hashlib.sha256(body).hexdigest() == claimed:
        return body
    return earlier if hashlib.sha256(earlier).hexdigest() == claimed else body


def _body_sha256(headers: Mapping[str, str]) -> str | None:
    """The `body_sha256` claim of the Syncfy JWT among `headers`, None where there is none. Its signature is not
    checked: the store recorded the token as it went out, and its secret may have changed since."""
    token = next((value for name, value in headers.items() if name.lower() == "request-signature"), "")
    claims = jwt_claims(token) or {}
    claimed = claims.get("body_sha256")
    return claimed if isinstance(claimed, str) else None
